"""The per-step records of a trace (schema ``rtrl-trace/2``) and the recorder interface, defined
once (numpy only). The header's declarations are in :mod:`accel_sim.trace.header`.

A step record holds the step's index sets (e.g. ``fired`` and ``support``: the active set A is
their union); an op record names a declared op (by its position in the header) and carries the
learner's own counts (``macs``, ``nnz``) for cross-checking. Everything else about an op — its
operands, what is non-zero, its effectual work — follows from the header and the step's sets
(``accel_sim.trace.work``); how the hardware stores and moves it is the simulator's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from accel_sim.trace.header import (  # noqa: F401 - re-exported: the vocabulary lives with the header
    LABELS, METHODS, OP_KINDS, SCHEMA_VERSION, TENSOR_KINDS, IndexSet, Label, OpDecl, OpKind, Part, Pattern, Tensor,
    TensorKind, TraceHeader,
)

#: One op as a row of ints: its step, the declared op it is (index into ``TraceHeader.ops``), and
#: the learner's multiply-accumulates and sparse-operand non-zeros (cross-checks only).
OP_COLUMNS = ("step", "op", "macs", "nnz")
OP_DTYPES = {"step": np.int64, "op": np.int16, "macs": np.int64, "nnz": np.int64}
MAX_OPS_DECLARED = 2**15 - 1


@dataclass(slots=True)
class OpRecord:
    """One op of one step: ``op`` is the declared op's position in the header (or its name, which
    a :class:`~accel_sim.trace.io.TraceWriter` resolves); ``macs`` / ``nnz``: the learner's counts."""

    step: int
    op: int | str
    macs: int = 0
    nnz: int = 0


@dataclass(frozen=True, slots=True)
class StepRecord:
    """The index sets of one step: set name -> sorted int32 indices. For RTRL, ``fired`` and
    ``support`` are the units of s_{t-1} that fired and that lie in the pseudo-derivative support
    (the step's active set A is their union)."""

    step: int
    sets: dict[str, np.ndarray]

    @property
    def fired(self) -> np.ndarray:
        return self.sets.get("fired", _EMPTY)

    @property
    def support(self) -> np.ndarray:
        return self.sets.get("support", _EMPTY)


_EMPTY = np.zeros(0, np.int32)
_EMPTY.setflags(write=False)


@dataclass(frozen=True, slots=True)
class MaskChange:
    """Reserved for rewiring (a later schema revision costs it): at ``step``, the entries of
    pattern ``pattern`` at flat positions ``removed`` left it and those at ``added`` joined it."""

    step: int
    pattern: str
    removed: np.ndarray
    added: np.ndarray


class SetLayout:
    """How a step's per-step index sets are stored: one little-endian bitmap per set, in header
    order, ``ceil(size / 8)`` bytes each; ``stride`` bytes per step."""

    def __init__(self, sets: tuple[IndexSet, ...]) -> None:
        self.names = tuple(s.name for s in sets)
        self.sizes = {s.name: int(s.size) for s in sets}
        self.offset: dict[str, int] = {}
        at = 0
        for s in sets:
            self.offset[s.name] = at
            at += -(-int(s.size) // 8)
        self.stride = at
        self._last: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # read-only mask -> its bits

    @classmethod
    def of(cls, header: TraceHeader) -> "SetLayout":
        return cls(header.step_sets)

    def pack(self, sets: Mapping[str, np.ndarray] | None) -> np.ndarray:
        """(stride,) uint8 bits of one step's sets (a bool mask of the set's size, or indices). A
        read-only mask passed again as the same object is packed once (a set that rarely changes,
        like sparse RTRL's ``reached`` columns, costs nothing on the other steps)."""
        out = np.zeros(self.stride, np.uint8)
        for name, members in (sets or {}).items():
            if name not in self.sizes:
                raise ValueError(f"index set {name!r} is not a per-step set of this trace ({', '.join(self.names)})")
            size, at = self.sizes[name], self.offset[name]
            last = self._last.get(name)
            if last is not None and last[0] is members:
                out[at:at + last[1].size] = last[1]
                continue
            members = np.asarray(members)
            if members.dtype == bool:
                if members.shape != (size,):
                    raise ValueError(f"index set {name!r}: a mask must have shape ({size},), got {members.shape}")
                mask = members
            else:
                idx = members.reshape(-1)
                if idx.size and (idx.dtype.kind not in "iu" or int(idx.min()) < 0 or int(idx.max()) >= size):
                    raise ValueError(f"index set {name!r}: indices must be integers in [0, {size})")
                mask = np.zeros(size, bool)
                mask[idx] = True
            bits = np.packbits(mask, bitorder="little")
            out[at:at + bits.size] = bits
            if members.dtype == bool and not members.flags.writeable:
                self._last[name] = (members, bits)
        return out

    def masks(self, bits: np.ndarray, name: str) -> np.ndarray:
        """(steps, size) bool membership of set ``name`` from (steps, stride) bits."""
        at, size = self.offset[name], self.sizes[name]
        block = bits[:, at:at + (-(-size // 8))]
        return np.unpackbits(block, axis=1, count=size, bitorder="little").view(bool)

    def counts(self, bits: np.ndarray, name: str) -> np.ndarray:
        """(steps,) members of set ``name`` per step."""
        return self.masks(bits, name).sum(axis=1)

    def unpack(self, step: int, row: np.ndarray) -> StepRecord:
        sets = {}
        for name in self.names:
            at, size = self.offset[name], self.sizes[name]
            mask = np.unpackbits(row[at:at + (-(-size // 8))], count=size, bitorder="little")
            sets[name] = np.flatnonzero(mask).astype(np.int32)
        return StepRecord(int(step), sets)


class Recorder(Protocol):
    """What a learner calls while it computes. Learners hold ``recorder=None`` by default and
    guard every call with ``if self.recorder is not None``, so recording costs nothing when off.

    ``begin_step(step, sets)``: the step's index sets (name -> bool mask or indices; sets left out
    are empty); then ``op`` per operation; then ``end_step``. A recorder may also offer
    ``op_rows(rows)``: several ops at once as an int64 array (k, len(OP_COLUMNS)) in
    :data:`OP_COLUMNS` order (the array may be reused after the call, so copy what you keep);
    :func:`record_rows` uses it where present and ``op`` otherwise."""

    def begin_step(self, step: int, sets: Mapping[str, np.ndarray]) -> None: ...

    def op(self, record: OpRecord) -> None: ...

    def end_step(self) -> None: ...


class ListRecorder:
    """A recorder that keeps everything in memory (tests, small runs)."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []
        self.ops: list[OpRecord] = []

    def begin_step(self, step: int, sets: Mapping[str, np.ndarray]) -> None:
        self.steps.append(StepRecord(int(step), {name: _as_indices(v) for name, v in sets.items()}))

    def op(self, record: OpRecord) -> None:
        self.ops.append(record)

    def op_rows(self, rows: np.ndarray) -> None:
        self.ops.extend(rows_to_records(rows))

    def end_step(self) -> None:
        pass

    def macs_by_op(self) -> dict[int | str, int]:
        totals: dict[int | str, int] = {}
        for rec in self.ops:
            totals[rec.op] = totals.get(rec.op, 0) + rec.macs
        return totals


def _as_indices(members: np.ndarray) -> np.ndarray:
    members = np.asarray(members)
    if members.dtype == bool:
        return np.flatnonzero(members).astype(np.int32)
    return np.sort(members.reshape(-1)).astype(np.int32)


def op_row(record: OpRecord) -> list[int]:
    """``record`` as a row in :data:`OP_COLUMNS` order (its ``op`` must be a position by now)."""
    if not isinstance(record.op, (int, np.integer)):
        raise ValueError(f"op record names op {record.op!r}; resolve names with the trace header first")
    return [int(record.step), int(record.op), int(record.macs), int(record.nnz)]


def rows_to_records(rows: np.ndarray) -> list[OpRecord]:
    """Rows in :data:`OP_COLUMNS` order back to records."""
    return [OpRecord(*row) for row in np.asarray(rows, np.int64).reshape(-1, len(OP_COLUMNS)).tolist()]


def record_rows(recorder: Recorder, rows: np.ndarray) -> None:
    """Hand ``rows`` (k, len(OP_COLUMNS)) to ``recorder``: ``op_rows`` where it has one, else one
    ``op`` per row."""
    fast = getattr(recorder, "op_rows", None)
    if fast is not None:
        fast(rows)
    else:
        for record in rows_to_records(rows):
            recorder.op(record)


@dataclass
class TraceChunk:
    """A run of consecutive steps in columnar form: what readers yield and the simulator consumes.

    ``step_ids``: (steps,) int64; ``set_bits``: (steps, layout.stride) uint8, the steps' index sets
    (see :class:`SetLayout`); ``ops``: column name -> (n_ops,) array in :data:`OP_COLUMNS` with
    :data:`OP_DTYPES`, ops in step order; ``mask_changes``: reserved (rewiring).
    """

    layout: SetLayout
    step_ids: np.ndarray
    set_bits: np.ndarray
    ops: dict[str, np.ndarray]
    mask_changes: tuple[MaskChange, ...] = field(default=())

    @property
    def n_ops(self) -> int:
        return int(self.ops["step"].shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.step_ids.shape[0])

    @property
    def steps(self) -> list[StepRecord]:
        """The steps as records (decoded on each access; for tests and small traces)."""
        return [self.layout.unpack(s, row) for s, row in zip(self.step_ids.tolist(), self.set_bits)]

    @classmethod
    def from_rows(cls, layout: SetLayout, steps: list[tuple[int, Mapping[str, np.ndarray]]] | list[StepRecord],
                  rows, mask_changes: tuple[MaskChange, ...] = ()) -> "TraceChunk":
        """From steps (StepRecords or (step, sets) pairs) and op rows in :data:`OP_COLUMNS` order."""
        pairs = [(s.step, s.sets) if isinstance(s, StepRecord) else s for s in steps]
        bits = np.stack([layout.pack(sets) for _, sets in pairs]) if pairs else np.zeros((0, layout.stride), np.uint8)
        ids = np.array([int(step) for step, _ in pairs], np.int64)
        table = np.asarray(rows, np.int64).reshape(-1, len(OP_COLUMNS))
        ops = {c: table[:, j].astype(OP_DTYPES[c]) for j, c in enumerate(OP_COLUMNS)}
        return cls(layout, ids, bits.reshape(len(pairs), layout.stride), ops, tuple(mask_changes))

    @classmethod
    def from_records(cls, layout: SetLayout, steps, records: list[OpRecord],
                     mask_changes: tuple[MaskChange, ...] = ()) -> "TraceChunk":
        return cls.from_rows(layout, steps, [op_row(r) for r in records], mask_changes)

    def records(self) -> list[OpRecord]:
        """The ops as records (for tests and small traces)."""
        if not self.n_ops:
            return []
        return rows_to_records(np.stack([self.ops[c].astype(np.int64) for c in OP_COLUMNS], axis=1))
