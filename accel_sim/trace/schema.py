"""The operation-trace vocabulary and record layout, defined once (numpy only).

A trace says, step by step, what the learning code computed. It is the contract between
``rtrl`` (which emits records through a :class:`Recorder`) and ``accel_sim`` (which costs them).
This module holds the vocabulary (op kinds, RTRL labels, named tensors), the typed records and
the recorder interface; ``accel_sim.trace.io`` stores them in files. Nothing else defines them.

Units: shapes and counts are elements, ``bytes_read`` / ``bytes_written`` are bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np

SCHEMA_VERSION = "rtrl-trace/1"


class OpKind(str, Enum):
    """Generic linear-algebra operations the simulator knows how to cost."""

    GEMM = "gemm"  # dense (m x k) @ (k x n); macs = m*k*n
    SPMM = "spmm"  # sparse (m x k, nnz stored) @ dense (k x n) after a gather of k rows; macs = nnz*n
    ELEMENTWISE = "elementwise"  # m x n element-wise map/multiply; macs = multiplies done
    SCATTER = "scatter"  # nnz values added at index positions; index_count = indices used
    GATHER = "gather"  # nnz values read at index positions
    REDUCTION = "reduction"  # reduce m x k -> m (or sum of products over k)
    INDEX_DECODE = "index_decode"  # decode a sparse index set (active units); index_count = set size


class Label(str, Enum):
    """What an op is for, in RTRL terms. The simulator costs the OpKind; reports group by Label."""

    ACTIVE_SET = "active_set"
    INPUT_PROJECTION = "input_projection"
    RECURRENT_PRODUCT = "recurrent_product"
    GATES = "gates"
    JACOBIAN_BUILD = "jacobian_build"
    INFLUENCE_DIAG_SCALE = "influence_diag_scale"
    INFLUENCE_SPARSE_UPDATE = "influence_sparse_update"
    IMMEDIATE_SCATTER = "immediate_scatter"
    GRADIENT_CONTRACTION = "gradient_contraction"
    READOUT = "readout"
    BPTT_BACKWARD = "bptt_backward"
    WEIGHT_UPDATE = "weight_update"
    SYNTHETIC = "synthetic"  # ops of synthetic benchmark traces (GEMM, SpMM), not from a learner


class Tensor(str, Enum):
    """Named tensors whose traffic is counted in bytes."""

    WEIGHTS = "weights"
    INFLUENCE = "influence"
    STATE = "state"
    GRADIENTS = "gradients"
    INPUT = "input"
    ACTIVATIONS = "activations"  # gate values, Jacobian factors, temporaries
    HISTORY = "history"  # what BPTT stores per step


OP_KINDS = tuple(k.value for k in OpKind)
LABELS = tuple(lbl.value for lbl in Label)
TENSORS = tuple(t.value for t in Tensor)
METHODS = ("sparse_rtrl", "dense_rtrl", "bptt", "synthetic")


@dataclass(slots=True)  # not frozen: built ~10 times per learner step, and a frozen init costs 4x
class OpRecord:
    """One operation of one step (treat as immutable once handed to a recorder).

    ``m, k, n``: operand shape as executed (output m x n, reduction length k; 1 where unused).
    ``nnz``: stored non-zeros of the sparse operand (0 for dense ops).
    ``macs``: multiply-accumulates actually performed by the code path.
    ``index_count``: sparse indices read or decoded.
    ``bytes_read`` / ``bytes_written``: bytes per :class:`Tensor` value name.
    """

    step: int
    kind: str
    label: str
    m: int = 1
    k: int = 1
    n: int = 1
    nnz: int = 0
    macs: int = 0
    index_count: int = 0
    bytes_read: dict[str, int] = field(default_factory=dict)
    bytes_written: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """Per-step activity: ``fired`` units (o = 1) and units in the pseudo-derivative ``support``
    (dH/dv > 0). The two may overlap; the active set A is their union. Both int32 index arrays
    of the *previous* state s_{t-1}, i.e. the set the step's Jacobian uses."""

    step: int
    fired: np.ndarray
    support: np.ndarray


@dataclass(frozen=True)
class TraceHeader:
    """Static description of a trace: model dimensions, masks and provenance."""

    method: str
    n_in: int
    n_hidden: int
    n_out: int
    dtype: str
    weight_density: float
    seed: int
    n_influence_columns: int  # P as stored (unmasked recurrent-path parameters for sparse RTRL)
    mask_nnz_per_row: dict[str, list[int]] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    schema: str = SCHEMA_VERSION


class Recorder(Protocol):
    """What a learner calls while it computes. Learners hold ``recorder=None`` by default and
    guard every call with ``if self.recorder is not None``, so recording costs nothing when off.

    A recorder may also offer ``op_rows(rows)``: several ops at once as an int64 array
    (k, len(OP_COLUMNS)) in :data:`OP_COLUMNS` order (the form a fast learner builds without
    making records; the array may be reused after the call, so copy what you keep);
    :func:`record_rows` uses it where present and ``op`` otherwise."""

    def begin_step(self, step: int, fired: np.ndarray, support: np.ndarray) -> None: ...

    def op(self, record: OpRecord) -> None: ...

    def end_step(self) -> None: ...


class ListRecorder:
    """A recorder that keeps everything in memory (tests, small runs)."""

    def __init__(self) -> None:
        self.steps: list[StepRecord] = []
        self.ops: list[OpRecord] = []

    def begin_step(self, step: int, fired: np.ndarray, support: np.ndarray) -> None:
        self.steps.append(
            StepRecord(step, np.asarray(fired, np.int32).copy(), np.asarray(support, np.int32).copy())
        )

    def op(self, record: OpRecord) -> None:
        self.ops.append(record)

    def op_rows(self, rows: np.ndarray) -> None:
        self.ops.extend(rows_to_records(rows))

    def end_step(self) -> None:
        pass

    def macs_by_label(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for rec in self.ops:
            totals[rec.label] = totals.get(rec.label, 0) + rec.macs
        return totals


COUNT_COLUMNS = ("m", "k", "n", "nnz", "macs", "index_count")
READ_COLUMNS = tuple(f"bytes_read_{t}" for t in TENSORS)
WRITE_COLUMNS = tuple(f"bytes_written_{t}" for t in TENSORS)
#: One op as a row of ints: step, kind and label codes (indices into OP_KINDS / LABELS), the
#: counts, then bytes read and bytes written per tensor (0 where absent).
OP_COLUMNS = ("step", "kind", "label", *COUNT_COLUMNS, *READ_COLUMNS, *WRITE_COLUMNS)
#: Column dtypes of a :class:`TraceChunk`'s ``ops`` (and of the trace file).
OP_DTYPES = {c: (np.int8 if c in ("kind", "label") else np.int64) for c in OP_COLUMNS}

_KIND_CODE = {**{k: i for i, k in enumerate(OP_KINDS)}, **{k: i for i, k in enumerate(OpKind)}}
_LABEL_CODE = {**{k: i for i, k in enumerate(LABELS)}, **{k: i for i, k in enumerate(Label)}}
_N_FIXED = 3 + len(COUNT_COLUMNS)
_READ_POS = {**{t: _N_FIXED + i for i, t in enumerate(TENSORS)}, **{t: _N_FIXED + i for i, t in enumerate(Tensor)}}
_WRITE_POS = {t: p + len(TENSORS) for t, p in _READ_POS.items()}
_ZERO_BYTES = [0] * (2 * len(TENSORS))


def op_row(record: OpRecord) -> list[int]:
    """``record`` as a row in :data:`OP_COLUMNS` order (ValueError on an unknown kind, label or tensor)."""
    try:
        row = [record.step, _KIND_CODE[record.kind], _LABEL_CODE[record.label], record.m, record.k, record.n,
               record.nnz, record.macs, record.index_count, *_ZERO_BYTES]
        for tensor, nbytes in record.bytes_read.items():
            row[_READ_POS[tensor]] = nbytes
        for tensor, nbytes in record.bytes_written.items():
            row[_WRITE_POS[tensor]] = nbytes
    except KeyError as exc:
        raise ValueError(f"op record with unknown kind, label or tensor name {exc}") from None
    return row


def rows_to_records(rows: np.ndarray) -> list[OpRecord]:
    """Rows in :data:`OP_COLUMNS` order back to records (zero byte counts left out)."""
    out = []
    n_fixed, n_t = _N_FIXED, len(TENSORS)
    for row in np.asarray(rows, np.int64).tolist():
        out.append(OpRecord(row[0], OP_KINDS[row[1]], LABELS[row[2]], *row[3:n_fixed],
                            {t: v for t, v in zip(TENSORS, row[n_fixed:n_fixed + n_t]) if v},
                            {t: v for t, v in zip(TENSORS, row[n_fixed + n_t:]) if v}))
    return out


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

    ``steps``: the StepRecords of these steps, in order.
    ``ops``: column name -> 1-D numpy array, one entry per op, all the same length:
      ``step`` (int64), ``kind`` (int8 index into OP_KINDS), ``label`` (int8 index into LABELS),
      the COUNT_COLUMNS (int64, elements) and READ_COLUMNS / WRITE_COLUMNS (int64, bytes).
    """

    steps: list[StepRecord]
    ops: dict[str, np.ndarray]

    @property
    def n_ops(self) -> int:
        return int(self.ops["step"].shape[0])

    @classmethod
    def from_rows(cls, steps: list[StepRecord], rows) -> "TraceChunk":
        """From op rows in :data:`OP_COLUMNS` order (int64, (k, len(OP_COLUMNS)) or flat)."""
        table = np.asarray(rows, np.int64).reshape(-1, len(OP_COLUMNS))
        return cls(steps=list(steps), ops={c: table[:, j].astype(OP_DTYPES[c]) for j, c in enumerate(OP_COLUMNS)})

    @classmethod
    def from_records(cls, steps: list[StepRecord], records: list[OpRecord]) -> "TraceChunk":
        """From records (ValueError on an unknown kind, label or tensor name)."""
        return cls.from_rows(steps, [op_row(r) for r in records])

    def records(self) -> list[OpRecord]:
        """Back to row form (for tests and small traces)."""
        if not self.n_ops:
            return []
        return rows_to_records(np.stack([self.ops[c].astype(np.int64) for c in OP_COLUMNS], axis=1))
