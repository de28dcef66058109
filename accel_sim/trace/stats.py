"""Summaries of a trace file (what ``accel-sim trace info`` prints): steps, ops, the learner's MACs
beside the dense and effectual work derived from the declared structure, by label and by op, the
declared tensors, and activity statistics of the recorded index sets. The work of the ops after
a rewiring is derived from the changed masks (``accel_sim.trace.masks``).

Reads the file chunk by chunk, so memory stays bounded by one chunk; every integrity check of
:class:`~accel_sim.trace.io.TraceReader` applies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from accel_sim.trace.header import TraceHeader
from accel_sim.trace.io import TraceReader
from accel_sim.trace.masks import MaskSchedule
from accel_sim.trace.work import WorkModel

INFO_SCHEMA = "trace-info/2"


@dataclass
class WorkTotals:
    """Totals of the ops of one label (or one declared op): op count, the learner's own MACs, and
    the dense and effectual operations derived from the trace's structure."""

    n_ops: int = 0
    learner_macs: int = 0
    dense_ops: int = 0
    effectual_ops: int = 0


@dataclass(frozen=True)
class SetStats:
    """Size of one per-step index set over all steps: mean, min, max members, mean / set size."""

    mean: float
    min: int
    max: int
    mean_fraction: float


@dataclass(frozen=True)
class TensorInfo:
    """One declared tensor: name, kind, shape (rows x cols), structure in words, elements of the
    shape and entries of its pattern (= elements without one)."""

    name: str
    kind: str
    shape: tuple[int, int]
    structure: str
    elements: int
    pattern_entries: int


@dataclass(frozen=True)
class TraceSummary:
    """Everything ``trace info`` reports about one file."""

    path: str
    size_bytes: int
    schema: str
    method: str
    dtype: str
    model: dict[str, float]
    n_chunks: int
    n_steps: int
    n_ops: int
    learner_macs: int
    effectual_ops: int
    dense_ops: int
    by_label: dict[str, WorkTotals]
    by_op: dict[str, WorkTotals]
    tensors: list[TensorInfo]
    index_sets: dict[str, SetStats]
    active: SetStats | None  # A = fired ∪ support, when the trace has both sets
    provenance: dict[str, str]
    info_schema: str = field(default=INFO_SCHEMA)
    #: rewiring: mask-change records and the distinct steps at which masks changed (events)
    mask_change_records: int = 0
    rewiring_events: int = 0

    def to_json(self) -> dict:
        return asdict(self)


def _set_stats(counts: np.ndarray, size: int) -> SetStats:
    if not counts.size:
        return SetStats(0.0, 0, 0, 0.0)
    mean = float(counts.mean())
    return SetStats(mean, int(counts.min()), int(counts.max()), mean / size if size else 0.0)


def _structure(h: TraceHeader, t) -> str:
    words = []
    if t.pattern is not None:
        words.append(f"{'compact ' if t.compact else ''}pattern {t.pattern}")
    if t.rows is not None:
        words.append(f"rows in {t.rows}")
    if t.cols is not None:
        words.append(f"cols in {t.cols}")
    if t.diagonal:
        words.append("+ diagonal")
    return ", ".join(words) or "dense"


def _add_work(w, macs: np.ndarray, h: TraceHeader, by_label: dict, by_op: dict) -> None:
    """Add a batch's work (``OpWork``) and the learner's ``macs`` per op to the totals by label and op."""
    for totals, names, codes in ((by_label, h.labels, w.label), (by_op, [op.name for op in h.ops], w.op)):
        for code in np.unique(codes).tolist():
            sel = codes == code
            t = totals[names[code]]
            t.n_ops += int(sel.sum())
            t.learner_macs += int(macs[sel].sum())
            t.dense_ops += int(w.dense[sel].sum())
            t.effectual_ops += int(w.effectual[sel].sum())


def summarize(path: str) -> TraceSummary:
    """Read ``path`` completely and summarize it. Raises ``TraceFormatError`` for a bad file."""
    reader = TraceReader(path)
    h = reader.header
    work = WorkModel(h)
    layout = reader.layout
    by_label = {label: WorkTotals() for label in h.labels}
    by_op = {op.name: WorkTotals() for op in h.ops}
    set_counts: dict[str, list[np.ndarray]] = {name: [] for name in layout.names}
    active: list[np.ndarray] = []
    has_active = "fired" in layout.sizes and "support" in layout.sizes
    n_chunks = n_steps = n_ops = 0
    change_steps: list[int] = []
    schedule = MaskSchedule()
    for chunk in reader.chunks():
        n_chunks += 1
        change_steps += [mc.step for mc in chunk.mask_changes]
        n_steps += chunk.n_steps
        n_ops += chunk.n_ops
        for name in layout.names:
            set_counts[name].append(layout.counts(chunk.set_bits, name))
        if has_active:
            active.append((layout.masks(chunk.set_bits, "fired") | layout.masks(chunk.set_bits, "support")).sum(axis=1))
        schedule.add(chunk.step_ids, chunk.mask_changes)
        for lo, hi, due in schedule.segments(chunk.step_ids):  # the ops after a rewiring: its new masks
            for change in due:
                work.apply(change)
            op_step = chunk.ops["step"]
            a = np.searchsorted(op_step, chunk.step_ids[lo])
            b = np.searchsorted(op_step, chunk.step_ids[hi - 1], "right")
            if b > a:
                _add_work(work.batch(chunk.step_ids[lo:hi], chunk.set_bits[lo:hi],
                                     {c: v[a:b] for c, v in chunk.ops.items()}), chunk.ops["macs"][a:b], h,
                          by_label, by_op)
    for change in schedule.rest():
        work.apply(change)  # checked like the others
    sets = {}
    for s in h.step_sets:
        counts = np.concatenate(set_counts[s.name]) if set_counts[s.name] else np.zeros(0, np.int64)
        sets[s.name] = _set_stats(counts, s.size)
    tensors = [TensorInfo(t.name, t.kind, t.shape, _structure(h, t), t.elements,
                          h.patterns[t.pattern].nnz if t.pattern is not None else t.elements) for t in h.tensors]
    return TraceSummary(
        path=str(path), size_bytes=reader.size_bytes, schema=h.schema, method=h.method, dtype=h.dtype,
        model={"n_in": h.n_in, "n_hidden": h.n_hidden, "n_out": h.n_out, "weight_density": h.weight_density,
               "n_influence_columns": h.n_influence_columns, "seed": h.seed},
        n_chunks=n_chunks, n_steps=n_steps, n_ops=n_ops,
        learner_macs=sum(t.learner_macs for t in by_op.values()),
        effectual_ops=sum(t.effectual_ops for t in by_op.values()),
        dense_ops=sum(t.dense_ops for t in by_op.values()),
        by_label={k: v for k, v in by_label.items() if v.n_ops},
        by_op={k: v for k, v in by_op.items() if v.n_ops},
        tensors=tensors, index_sets=sets,
        active=_set_stats(np.concatenate(active), layout.sizes["fired"]) if has_active and active else None,
        provenance=dict(h.provenance),
        mask_change_records=len(change_steps), rewiring_events=len(set(change_steps)),
    )
