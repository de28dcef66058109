"""Kernels for the hot loop of sparse RTRL.

CPU (``kernels="compiled"``): ``compiled`` (numba: forward, readout, G[:, A], immediate influence,
and the one-pass influence update), ``influence.c`` + ``native`` (the same update in C, built by
``make``), ``denormals`` (flush-to-zero inside the kernels), ``cpu_step`` (buffers and the call
order).

GPU (``kernels="fused"``): fused kernels, each with a numpy twin as its reference:

* ``compact_active`` and ``gather_rows``: active-set compaction (indices, slots, nnz(G[:, A]))
  and the copy of the rows M[A] the update reads;
* ``restrict_jacobian`` + ``influence_update`` + ``thr_scatter``: M <- diag(a) M + G[:, A] M[A, :]
  + the immediate-influence scatter, in one pass over M (plus a tiny pass over threshold columns);
* ``contract_gradient``: grad += dL/ds[A_t] M[A_t, :], reading only the active rows.

``kernels_for(xp, dtype)`` gives the CUDA kernels for CuPy (imports CuPy) and the twins for numpy.
"""

from __future__ import annotations

import numpy as np

from rtrl.kernels.structs import ActiveSet, ColumnMap, JacobianStructure, RestrictedJacobian
from rtrl.kernels.twins import TwinKernels

__all__ = ["ActiveSet", "ColumnMap", "JacobianStructure", "RestrictedJacobian", "TwinKernels", "kernels_for"]


def kernels_for(xp, dtype):
    """CudaKernels(dtype) when ``xp`` is CuPy, else TwinKernels()."""
    if xp is np:
        return TwinKernels()
    from rtrl.kernels.cuda import CudaKernels

    return CudaKernels(dtype)
