"""Summaries of a trace file (what ``accel-sim trace info`` prints): steps, ops, MACs and bytes by
label, op kinds, traffic per tensor, and activity statistics of the recorded active sets.

Reads the file chunk by chunk, so memory stays bounded by one chunk; every integrity check of
:class:`~accel_sim.trace.io.TraceReader` applies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from accel_sim.trace.io import TraceReader
from accel_sim.trace.schema import LABELS, OP_KINDS, READ_COLUMNS, TENSORS, WRITE_COLUMNS, TraceHeader

INFO_SCHEMA = "trace-info/1"


@dataclass
class LabelTotals:
    """Totals of the ops carrying one label (or one kind): ops (count), MACs, indices, bytes."""

    n_ops: int = 0
    macs: int = 0
    index_count: int = 0
    bytes_read: int = 0
    bytes_written: int = 0


@dataclass(frozen=True)
class SetStats:
    """Size of one per-step unit set over all steps (units): mean, min, max, mean / n_hidden."""

    mean_units: float
    min_units: int
    max_units: int
    mean_fraction: float


@dataclass(frozen=True)
class TraceSummary:
    """Everything ``trace info`` reports about one file."""

    path: str
    size_bytes: int
    header: TraceHeader
    n_chunks: int
    n_steps: int
    n_ops: int
    macs_total: int
    by_label: dict[str, LabelTotals]
    by_kind: dict[str, LabelTotals]
    bytes_read_by_tensor: dict[str, int]
    bytes_written_by_tensor: dict[str, int]
    fired: SetStats
    support: SetStats
    active: SetStats  # A = fired ∪ support
    info_schema: str = field(default=INFO_SCHEMA)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _set_stats(sizes: list[int], n_hidden: int) -> SetStats:
    if not sizes:
        return SetStats(0.0, 0, 0, 0.0)
    arr = np.asarray(sizes)
    mean = float(arr.mean())
    return SetStats(mean, int(arr.min()), int(arr.max()), mean / n_hidden if n_hidden else 0.0)


def _accumulate(totals: dict[str, LabelTotals], names: tuple[str, ...], codes: np.ndarray,
                ops: dict[str, np.ndarray], read: np.ndarray, written: np.ndarray) -> None:
    for code in np.unique(codes):
        sel = codes == code
        t = totals.setdefault(names[code], LabelTotals())
        t.n_ops += int(sel.sum())
        t.macs += int(ops["macs"][sel].sum())
        t.index_count += int(ops["index_count"][sel].sum())
        t.bytes_read += int(read[sel].sum())
        t.bytes_written += int(written[sel].sum())


def summarize(path: str) -> TraceSummary:
    """Read ``path`` completely and summarize it. Raises ``TraceFormatError`` for a bad file."""
    reader = TraceReader(path)
    n = reader.header.n_hidden
    by_label: dict[str, LabelTotals] = {}
    by_kind: dict[str, LabelTotals] = {}
    reads = dict.fromkeys(TENSORS, 0)
    writes = dict.fromkeys(TENSORS, 0)
    fired: list[int] = []
    support: list[int] = []
    active: list[int] = []
    n_chunks = n_ops = 0
    for chunk in reader.chunks():
        n_chunks += 1
        n_ops += chunk.n_ops
        for s in chunk.steps:
            fired.append(int(s.fired.size))
            support.append(int(s.support.size))
            active.append(int(np.union1d(s.fired, s.support).size))
        if not chunk.n_ops:
            continue
        ops = chunk.ops
        read = sum(ops[c] for c in READ_COLUMNS)
        written = sum(ops[c] for c in WRITE_COLUMNS)
        _accumulate(by_label, LABELS, ops["label"], ops, read, written)
        _accumulate(by_kind, OP_KINDS, ops["kind"], ops, read, written)
        for t, rc, wc in zip(TENSORS, READ_COLUMNS, WRITE_COLUMNS):
            reads[t] += int(ops[rc].sum())
            writes[t] += int(ops[wc].sum())
    return TraceSummary(
        path=str(path),
        size_bytes=reader.size_bytes,
        header=reader.header,
        n_chunks=n_chunks,
        n_steps=len(fired),
        n_ops=n_ops,
        macs_total=sum(t.macs for t in by_label.values()),
        by_label={k: by_label[k] for k in LABELS if k in by_label},
        by_kind={k: by_kind[k] for k in OP_KINDS if k in by_kind},
        bytes_read_by_tensor=reads,
        bytes_written_by_tensor=writes,
        fired=_set_stats(fired, n),
        support=_set_stats(support, n),
        active=_set_stats(active, n),
    )
