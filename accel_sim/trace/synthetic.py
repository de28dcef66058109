"""Synthetic traces: one dense GEMM or one sparse x dense product, for checking the simulator
against closed forms and other tools (Timeloop/Sparseloop, SCALE-Sim).

Each builder returns a :class:`SyntheticTrace` (header + chunks, method ``"synthetic"``) holding a
single step with a single op, labelled ``Label.SYNTHETIC``. Operand naming (bytes per
:class:`Tensor`): A (m x k) is ``weights``, B (k x n) is ``input``, C = A @ B (m x n) is
``activations``. Words are ``word_bytes`` bytes each.

Header dims: ``n_hidden = m``, ``n_in = k``, ``n_out = n``; ``mask_nnz_per_row["A"]`` holds the
non-zeros of each of the m rows of A (all k for a GEMM); ``provenance`` names the generator and
its arguments.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from accel_sim.errors import InputError
from accel_sim.trace.schema import Label, OpKind, OpRecord, StepRecord, Tensor, TraceChunk, TraceHeader

_EMPTY = np.zeros(0, np.int32)


class SyntheticTrace(NamedTuple):
    """A whole synthetic trace in memory. Unpacks as ``header, chunks = gemm_trace(...)``."""

    header: TraceHeader
    chunks: list[TraceChunk]


def _check_dims(m: int, k: int, n: int, word_bytes: int) -> None:
    for name, value in (("m", m), ("k", k), ("n", n), ("word_bytes", word_bytes)):
        if int(value) != value or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")


def _header(kind: str, m: int, k: int, n: int, density: float, seed: int, word_bytes: int,
            row_nnz: list[int]) -> TraceHeader:
    return TraceHeader(
        method="synthetic",
        n_in=k,
        n_hidden=m,
        n_out=n,
        dtype=f"int{8 * word_bytes}",
        weight_density=float(density),
        seed=int(seed),
        n_influence_columns=0,
        mask_nnz_per_row={"A": row_nnz},
        provenance={
            "generator": kind,
            "m": str(m),
            "k": str(k),
            "n": str(n),
            "density": repr(float(density)),
            "word_bytes": str(word_bytes),
        },
    )


def _one_op_chunk(record: OpRecord) -> list[TraceChunk]:
    return [TraceChunk.from_records([StepRecord(0, _EMPTY.copy(), _EMPTY.copy())], [record])]


def gemm_trace(m: int, k: int, n: int, word_bytes: int = 1) -> SyntheticTrace:
    """Dense C (m x n) = A (m x k) @ B (k x n): m*k*n MACs; reads A and B once, writes C once
    (bytes = elements * word_bytes)."""
    _check_dims(m, k, n, word_bytes)
    record = OpRecord(
        step=0,
        kind=OpKind.GEMM.value,
        label=Label.SYNTHETIC.value,
        m=m,
        k=k,
        n=n,
        nnz=0,
        macs=m * k * n,
        index_count=0,
        bytes_read={Tensor.WEIGHTS.value: m * k * word_bytes, Tensor.INPUT.value: k * n * word_bytes},
        bytes_written={Tensor.ACTIVATIONS.value: m * n * word_bytes},
    )
    header = _header("gemm", m, k, n, 1.0, 0, word_bytes, [k] * m)
    return SyntheticTrace(header, _one_op_chunk(record))


def sparse_mask(m: int, k: int, density: float, seed: int = 0) -> np.ndarray:
    """The (m x k) bool non-zero pattern of A used by :func:`spmm_trace`: exactly
    ``round(density * m * k)`` entries at uniformly random positions (numpy default_rng(seed))."""
    nnz = int(round(density * m * k))
    flat = np.zeros(m * k, bool)
    flat[np.random.default_rng(seed).choice(m * k, size=nnz, replace=False)] = True
    return flat.reshape(m, k)


def spmm_trace(m: int, k: int, n: int, density: float, seed: int = 0, word_bytes: int = 1) -> SyntheticTrace:
    """Sparse A (m x k, ``density`` of entries non-zero, pattern from :func:`sparse_mask`) times
    dense B (k x n), CSR-style: MACs = nnz * n; one index (column id) read per non-zero; A's nnz
    values read once; only the rows of B that some non-zero refers to are gathered
    (k_used * n elements); C (m x n) written once."""
    _check_dims(m, k, n, word_bytes)
    if not 0.0 <= density <= 1.0:
        raise InputError(f"density must lie in [0, 1], got {density!r}")
    mask = sparse_mask(m, k, density, seed)
    nnz = int(mask.sum())
    k_used = int(mask.any(axis=0).sum())
    record = OpRecord(
        step=0,
        kind=OpKind.SPMM.value,
        label=Label.SYNTHETIC.value,
        m=m,
        k=k,
        n=n,
        nnz=nnz,
        macs=nnz * n,
        index_count=nnz,
        bytes_read={Tensor.WEIGHTS.value: nnz * word_bytes, Tensor.INPUT.value: k_used * n * word_bytes},
        bytes_written={Tensor.ACTIVATIONS.value: m * n * word_bytes},
    )
    header = _header("spmm", m, k, n, density, seed, word_bytes, mask.sum(axis=1).astype(int).tolist())
    return SyntheticTrace(header, _one_op_chunk(record))
