"""Typed inputs and outputs shared by the fused kernels and their numpy twins.

Arrays live on the kernels' device (numpy for the twins, CuPy for CUDA); index arrays are int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class JacobianStructure:
    """Static sparsity of G = ds_t/dy_{t-1} (the union of the R masks), row-major CSR.

    ``rowptr`` (n+1,), ``cols`` (nnz,) source unit j of entry k, ``rows`` (nnz,) its row i,
    ``colcount`` (n,) entries per column (nnz(G[:, A]) = colcount[A].sum()).
    """

    rowptr: np.ndarray
    cols: np.ndarray
    rows: np.ndarray
    colcount: np.ndarray

    @staticmethod
    def from_union_mask(union: np.ndarray, xp=np) -> "JacobianStructure":
        """From the (n, n) bool union of the recurrent masks (host), onto module ``xp``."""
        rows, cols = np.nonzero(union)
        rowptr = np.zeros(union.shape[0] + 1, np.int64)
        rowptr[1:] = np.cumsum(union.sum(axis=1))
        if rowptr[-1] >= 2**31:
            raise ValueError("JacobianStructure: more than 2^31 entries in G")
        arrays = (rowptr, cols, rows, union.sum(axis=0))
        return JacobianStructure(*(xp.asarray(a.astype(np.int32)) for a in arrays))


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Where the immediate influence Mbar of each column c of M (P columns) lands.

    Every non-zero of Mbar's column c lies in row ``row[c]`` (weights W/R[i, j], biases and the
    threshold's own unit) and equals ``coef_all[coef[c]] * src_all[src[c]]``, with the per-step
    ``coef_all`` (11n,) = [input coefficients (3n), recurrent coefficients (3n), bias coefficients
    (4n), u * dc_thr (n)] and ``src_all`` (n_in + n + 1,) = [x, y_{t-1}, 1]. The threshold
    columns' off-diagonal terms G[i, j] dy_thr[j] are added by the ``thr_scatter`` kernel.
    """

    row: np.ndarray
    coef: np.ndarray
    src: np.ndarray


@dataclass(frozen=True, slots=True)
class ActiveSet:
    """Compacted active set: ``index`` (n_active,) ascending unit ids, ``slot`` (n,) position of
    each unit in ``index`` or -1, ``g_nnz`` = nnz(G[:, A]). Counts are Python ints (on the GPU,
    reading them is the step's one device-to-host sync for the update)."""

    index: np.ndarray
    slot: np.ndarray
    n_active: int
    g_nnz: int


@dataclass(frozen=True, slots=True)
class RestrictedJacobian:
    """G[:, A] in the CSR slots of ``JacobianStructure``: row i holds ``count[i]`` entries at
    ``rowptr[i] ..``: ``slots`` (position of the source unit in A), ``units`` (the unit j),
    ``vals_dy`` = G[i, j] * dy[j] (the J entry) and ``vals_thr`` = G[i, j] * dy_thr[j]
    (the threshold column's immediate influence). Entries past ``count[i]`` are unspecified."""

    count: np.ndarray
    slots: np.ndarray
    units: np.ndarray
    vals_dy: np.ndarray
    vals_thr: np.ndarray
