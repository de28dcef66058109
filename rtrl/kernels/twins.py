"""numpy twins of the fused CUDA kernels (``rtrl.kernels.cuda``): the same inputs, outputs and
in-place effects, written plainly. They are the reference the kernels are tested against, and
let the fused orchestration (``rtrl.kernels.fused``) run and be tested on the CPU.

Shapes: M (n, P) row-major; n hidden units, P influence columns; A the active set.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from rtrl.kernels.structs import ActiveSet, ColumnMap, JacobianStructure, RestrictedJacobian


class TwinKernels:
    """The kernel interface on numpy arrays."""

    xp = np

    def compact_active(self, o: np.ndarray, dH: np.ndarray, colcount: np.ndarray) -> ActiveSet:
        """Units with o != 0 or dH != 0 (both (n,)), ascending, with their slots and nnz(G[:, A])."""
        index = np.flatnonzero((o != 0) | (dH != 0)).astype(np.int32)
        slot = np.full(o.shape[0], -1, np.int32)
        slot[index] = np.arange(index.size, dtype=np.int32)
        return ActiveSet(index, slot, int(index.size), int(colcount[index].sum()))

    def restrict_jacobian(self, g: JacobianStructure, slot: np.ndarray, rc: np.ndarray, R_u: np.ndarray,
                          R_r: np.ndarray, R_z: np.ndarray, dy: np.ndarray, dy_thr: np.ndarray) -> RestrictedJacobian:
        """G[:, A] with G[i, j] = rc[0, i] R_u[i, j] + rc[1, i] R_r[i, j] + rc[2, i] R_z[i, j]
        (``rc`` (3, n)), kept in row order in the structure's own CSR slots."""
        n, nnz = slot.shape[0], g.cols.shape[0]
        kept = np.flatnonzero(slot[g.cols] >= 0)
        r, j = g.rows[kept].astype(np.int64), g.cols[kept].astype(np.int64)
        rank = np.arange(kept.size) - np.searchsorted(r, r, side="left")
        pos = g.rowptr[r] + rank
        gv = rc[0][r] * R_u[r, j] + rc[1][r] * R_r[r, j] + rc[2][r] * R_z[r, j]
        out = RestrictedJacobian(np.bincount(r, minlength=n).astype(np.int32), np.zeros(nnz, np.int32),
                                 np.zeros(nnz, np.int32), np.zeros(nnz, dy.dtype), np.zeros(nnz, dy.dtype))
        out.slots[pos], out.units[pos] = slot[j], j
        out.vals_dy[pos], out.vals_thr[pos] = gv * dy[j], gv * dy_thr[j]
        return out

    def gather_rows(self, M: np.ndarray, index: np.ndarray) -> np.ndarray:
        """(|A|, P) copy of the rows M[index]."""
        return M[index]

    def influence_update(self, M: np.ndarray, diag: np.ndarray, g: JacobianStructure, rj: RestrictedJacobian,
                         rows_A: np.ndarray, cmap: ColumnMap, coef_all: np.ndarray, src_all: np.ndarray) -> None:
        """In place: M <- diag(diag) M + G[:, A] diag(dy_A) rows_A + Mbar (weights, biases,
        threshold diagonal), with ``rows_A`` the gathered M[A] from before the update."""
        n, P = M.shape
        valid = _valid_entries(g, rj)
        r = g.rows[valid]
        indptr = np.zeros(n + 1, np.int64)
        indptr[1:] = np.cumsum(np.bincount(r, minlength=n))
        off = sp.csr_matrix((rj.vals_dy[valid], rj.slots[valid], indptr), shape=(n, rows_A.shape[0]))
        M *= diag[:, None]
        M += off @ rows_A
        M[cmap.row, np.arange(P)] += coef_all[cmap.coef] * src_all[cmap.src]

    def thr_scatter(self, M: np.ndarray, thr0: int, g: JacobianStructure, rj: RestrictedJacobian) -> None:
        """In place: M[i, thr0 + j] += G[i, j] dy_thr[j] for every entry of G[:, A]."""
        valid = _valid_entries(g, rj)
        M[g.rows[valid], thr0 + rj.units[valid]] += rj.vals_thr[valid]

    def contract_gradient(self, grad: np.ndarray, M: np.ndarray, index: np.ndarray, dl_ds: np.ndarray) -> None:
        """In place: grad (P,) += dl_ds[index] @ M[index]."""
        grad += dl_ds[index] @ M[index]


def _valid_entries(g: JacobianStructure, rj: RestrictedJacobian) -> np.ndarray:
    """Positions k of the structure's CSR that hold an entry of G[:, A] (k - rowptr[row] < count)."""
    k = np.arange(g.cols.shape[0])
    return np.flatnonzero(k - g.rowptr[g.rows] < rj.count[g.rows])
