"""Launch wrappers of the fused CUDA kernels (source: ``rtrl.kernels.cuda_source``).

Same interface as ``rtrl.kernels.twins.TwinKernels``, on CuPy arrays. Importing this module
imports CuPy; ``rtrl.kernels.kernels_for`` does so only for the GPU backend. Scalars are passed
as numpy int32 / int64 to match the kernels' C types exactly.
"""

from __future__ import annotations

import cupy
import numpy as np

from rtrl.kernels.cuda_source import KERNEL_NAMES, source
from rtrl.kernels.structs import ActiveSet, ColumnMap, JacobianStructure, RestrictedJacobian

THREADS = 256          # threads per block of the column-parallel kernels
COMPACT_THREADS = 1024  # the single block of compact_active (a multiple of 32)
ROWS_PER_BLOCK = 32     # rows of M one influence_update thread walks down its column
MAX_GRID_Y = 65535

_modules: dict[np.dtype, dict] = {}


def _functions(dtype) -> dict:
    """The compiled kernels for ``dtype`` (compiled on first use, then cached by CuPy too)."""
    dtype = np.dtype(dtype)
    if dtype not in _modules:
        module = cupy.RawModule(code=source(dtype), options=("-std=c++11",))
        _modules[dtype] = {name: module.get_function(name) for name in KERNEL_NAMES}
    return _modules[dtype]


def _blocks(count: int, threads: int) -> int:
    return (int(count) + threads - 1) // threads


class CudaKernels:
    """The kernel interface on CuPy arrays of one dtype (float32 or float64)."""

    xp = cupy

    def __init__(self, dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.fn = _functions(self.dtype)

    def compact_active(self, o, dH, colcount) -> ActiveSet:
        _check_float(self.dtype, o, dH)
        n = o.shape[0]
        index = cupy.empty(n, np.int32)
        slot = cupy.empty(n, np.int32)
        counts = cupy.zeros(2, np.int64)
        self.fn["compact_active"]((1,), (COMPACT_THREADS,),
                                  (o, dH, colcount, np.int32(n), index, slot, counts))
        n_active, g_nnz = (int(v) for v in counts.get())  # the one sync: sizes decide what follows
        return ActiveSet(index[:n_active], slot, n_active, g_nnz)

    def restrict_jacobian(self, g: JacobianStructure, slot, rc, R_u, R_r, R_z, dy, dy_thr) -> RestrictedJacobian:
        n, nnz = slot.shape[0], g.cols.shape[0]
        out = RestrictedJacobian(cupy.empty(n, np.int32), cupy.empty(nnz, np.int32), cupy.empty(nnz, np.int32),
                                 cupy.empty(nnz, self.dtype), cupy.empty(nnz, self.dtype))
        _check_float(self.dtype, rc, R_u, R_r, R_z, dy, dy_thr)
        self.fn["restrict_jacobian"]((_blocks(32 * n, THREADS),), (THREADS,),
                                     (g.rowptr, g.cols, slot, rc, R_u, R_r, R_z, dy, dy_thr, np.int32(n),
                                      out.count, out.slots, out.units, out.vals_dy, out.vals_thr))
        return out

    def gather_rows(self, M, index):
        _check_float(self.dtype, M)
        n_rows, P = index.shape[0], M.shape[1]
        buf = cupy.empty((n_rows, P), self.dtype)
        if n_rows and P:
            self.fn["gather_rows"]((_blocks(P, THREADS), min(n_rows, MAX_GRID_Y)), (THREADS,),
                                   (M, index, np.int32(n_rows), np.int64(P), buf))
        return buf

    def influence_update(self, M, diag, g: JacobianStructure, rj: RestrictedJacobian, rows_A,
                         cmap: ColumnMap, coef_all, src_all) -> None:
        n, P = M.shape
        _check_float(self.dtype, M, diag, rows_A, coef_all, src_all, rj.vals_dy)
        if not (n and P):
            return
        rows_per_block = max(ROWS_PER_BLOCK, _blocks(n, MAX_GRID_Y))
        # rows_A may have no rows (empty active set); the kernel never reads it then.
        self.fn["influence_update"]((_blocks(P, THREADS), _blocks(n, rows_per_block)), (THREADS,),
                                    (M, diag, g.rowptr, rj.count, rj.slots, rj.vals_dy, rows_A,
                                     cmap.row, cmap.coef, cmap.src, coef_all, src_all,
                                     np.int32(n), np.int64(P), np.int32(rows_per_block)))

    def thr_scatter(self, M, thr0: int, g: JacobianStructure, rj: RestrictedJacobian) -> None:
        _check_float(self.dtype, M, rj.vals_thr)
        n, P = M.shape
        self.fn["thr_scatter"]((_blocks(n, THREADS),), (THREADS,),
                               (M, np.int64(P), np.int64(thr0), g.rowptr, rj.count, rj.units, rj.vals_thr,
                                np.int32(n)))

    def contract_gradient(self, grad, M, index, dl_ds) -> None:
        _check_float(self.dtype, grad, M, dl_ds)
        P = M.shape[1]
        if P:
            self.fn["contract_gradient"]((_blocks(P, THREADS),), (THREADS,),
                                         (grad, M, index, dl_ds, np.int32(index.shape[0]), np.int64(P)))


def _check_float(dtype: np.dtype, *arrays) -> None:
    """The kernels read raw pointers: every float operand must be C-contiguous of ``dtype``."""
    for a in arrays:
        if a.dtype != dtype or not a.flags.c_contiguous:
            raise TypeError(f"fused kernel operand must be C-contiguous {dtype}, got {a.dtype} {a.shape}")
