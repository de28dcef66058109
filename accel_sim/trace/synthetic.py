"""Synthetic traces of one matrix product, for checking the simulator against closed forms and
other tools (SCALE-Sim, ZigZag, Sparseloop).

Each builder returns a :class:`SyntheticTrace` (header + chunks, method ``"synthetic"``) holding
one step with one op ``matmul`` (label ``synthetic``): Z (m x n) = A (m x k) @ B (k x n). Tensors
are named ``A`` (kind weights), ``B`` (kind input) and ``Z`` (kind activations); a sparse operand
declares its static pattern (patterns ``A`` / ``B``), so the simulator counts exactly the
effectual pairs A[i, k] != 0 and B[k, j] != 0. Words are ``word_bytes`` bytes (the trace's dtype
is ``int{8 * word_bytes}``; the simulator uses its own hardware word).

    header, chunks = gemm_trace(64, 64, 64)
    header, chunks = sparse_matmul_trace(a_mask, b_mask)      # boolean masks (m x k), (k x n)
    header, chunks = spmm_trace(64, 64, 16, density=0.1)      # random sparse A, dense B
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from accel_sim.errors import InputError
from accel_sim.trace.header import MAX_ELEMENTS, Label, OpDecl, OpKind, Part, Pattern, Tensor, TraceHeader
from accel_sim.trace.schema import OpRecord, SetLayout, TraceChunk


class SyntheticTrace(NamedTuple):
    """A whole synthetic trace in memory. Unpacks as ``header, chunks = gemm_trace(...)``."""

    header: TraceHeader
    chunks: list[TraceChunk]


def _check_dims(**dims: int) -> None:
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")


def _trace(m: int, k: int, n: int, word_bytes: int, a_mask, b_mask, provenance: dict[str, str]) -> SyntheticTrace:
    for name, elements in (("A", m * k), ("B", k * n), ("Z", m * n)):
        if elements > MAX_ELEMENTS:
            raise InputError(f"{name} would hold {elements} elements; a trace tensor holds at most {MAX_ELEMENTS}")
    # an all-true mask is a dense operand: no pattern to declare
    a_mask = None if a_mask is None or np.all(a_mask) else a_mask
    b_mask = None if b_mask is None or np.all(b_mask) else b_mask
    patterns = {}
    if a_mask is not None:
        patterns["A"] = Pattern.from_mask(a_mask)
    if b_mask is not None:
        patterns["B"] = Pattern.from_mask(b_mask)
    sparse = bool(patterns)
    tensors = (
        Tensor("A", "weights", (m, k), pattern="A" if a_mask is not None else None),
        Tensor("B", "input", (k, n), pattern="B" if b_mask is not None else None),
        Tensor("Z", "activations", (m, n)),
    )
    op = OpDecl("matmul", (OpKind.SPMM if sparse else OpKind.GEMM).value, Label.SYNTHETIC.value,
                a=(Part("A"),), b=(Part("B"),), z=(Part("Z"),))
    density = 1.0
    if a_mask is not None:
        density = float(np.asarray(a_mask).mean())
    header = TraceHeader(method="synthetic", dtype=f"int{8 * word_bytes}", seed=0, tensors=tensors, ops=(op,),
                         patterns=patterns, weight_density=density,
                         provenance={**provenance, "m": str(m), "k": str(k), "n": str(n),
                                     "word_bytes": str(word_bytes)})
    macs = m * k * n
    if sparse:
        a = np.ones((m, k), bool) if a_mask is None else np.asarray(a_mask, bool)
        b = np.ones((k, n), bool) if b_mask is None else np.asarray(b_mask, bool)
        macs = int(a.sum(axis=0, dtype=np.int64) @ b.sum(axis=1, dtype=np.int64))
    chunk = TraceChunk.from_records(SetLayout.of(header), [(0, {})], [OpRecord(0, 0, macs, 0)])
    return SyntheticTrace(header, [chunk])


def gemm_trace(m: int, k: int, n: int, word_bytes: int = 1) -> SyntheticTrace:
    """Dense Z (m x n) = A (m x k) @ B (k x n): m*k*n MACs."""
    _check_dims(m=m, k=k, n=n, word_bytes=word_bytes)
    return _trace(m, k, n, word_bytes, None, None, {"generator": "gemm"})


def sparse_matmul_trace(a_mask: np.ndarray, b_mask: np.ndarray, word_bytes: int = 1) -> SyntheticTrace:
    """Z = A @ B where A's non-zeros are the True entries of ``a_mask`` (m x k) and B's those of
    ``b_mask`` (k x n): effectual MACs = sum over k of nnz(A[:, k]) * nnz(B[k, :])."""
    a, b = np.asarray(a_mask), np.asarray(b_mask)
    if a.dtype != bool or b.dtype != bool or a.ndim != 2 or b.ndim != 2:
        raise InputError("a_mask and b_mask must be 2-D boolean arrays")
    if a.shape[1] != b.shape[0]:
        raise InputError(f"a_mask is {a.shape[0]}x{a.shape[1]} but b_mask is {b.shape[0]}x{b.shape[1]}: "
                         "their inner dimensions differ")
    m, k, n = int(a.shape[0]), int(a.shape[1]), int(b.shape[1])
    _check_dims(m=m, k=k, n=n, word_bytes=word_bytes)
    return _trace(m, k, n, word_bytes, a, b, {"generator": "sparse_matmul",
                                              "a_density": repr(float(a.mean())), "b_density": repr(float(b.mean()))})


def sparse_mask(m: int, k: int, density: float, seed: int = 0) -> np.ndarray:
    """An (m x k) bool pattern with exactly ``round(density * m * k)`` entries at uniformly random
    positions (numpy default_rng(seed))."""
    _check_dims(m=m, k=k)
    if not isinstance(density, (int, float)) or isinstance(density, bool) or not 0.0 <= density <= 1.0:
        raise InputError(f"density must lie in [0, 1], got {density!r}")
    nnz = int(round(density * m * k))
    flat = np.zeros(m * k, bool)
    flat[np.random.default_rng(seed).choice(m * k, size=nnz, replace=False)] = True
    return flat.reshape(m, k)


def random_matmul_trace(m: int, k: int, n: int, a_density: float, b_density: float = 1.0, seed: int = 0,
                        word_bytes: int = 1) -> SyntheticTrace:
    """:func:`sparse_matmul_trace` of random patterns: A with ``a_density`` (seed ``seed``), B with
    ``b_density`` (seed ``seed + 1``); a density of 1 gives a dense operand."""
    a = sparse_mask(m, k, a_density, seed)
    b = sparse_mask(k, n, b_density, seed + 1)
    return sparse_matmul_trace(a, b, word_bytes)


def spmm_trace(m: int, k: int, n: int, density: float, seed: int = 0, word_bytes: int = 1) -> SyntheticTrace:
    """Sparse A (m x k, ``density`` of its entries non-zero, :func:`sparse_mask`) times dense B."""
    return sparse_matmul_trace(sparse_mask(m, k, density, seed), np.ones((k, n), bool), word_bytes)
