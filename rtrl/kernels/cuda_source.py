"""CUDA C source of the fused sparse-RTRL kernels, compiled by CuPy (NVRTC) once per dtype.

``source(dtype)`` prefixes ``typedef float T;`` or ``typedef double T;``. Kernels (all
``extern "C"``; M is (n, P) row-major, 64-bit offsets into it; index arrays int32):

* ``compact_active``: one block of 1024 threads; ordered compaction of {i: o_i != 0 or dH_i != 0}
  by warp ballots, the slot map, and nnz(G[:, A]) = sum of colcount over A -> counts[0:2] (int64).
* ``restrict_jacobian``: one warp per row i of G's CSR; keeps the entries whose source is active,
  in order, with G[i, j] * dy[j] and G[i, j] * dy_thr[j].
* ``gather_rows``: buf[s, :] = M[index[s], :] (the rows of M[A] read by the update).
* ``influence_update``: one pass over M. Thread = one column c for ``rows_per_block`` rows:
  M[i, c] = diag[i] M[i, c] + sum_k vals[k] buf[slot[k], c] + (i == row[c] ? coef[c] * src[c] : 0).
* ``thr_scatter``: thread per row i: M[i, thr0 + j] += vals_thr[k] over row i's entries.
* ``contract_gradient``: thread per column c: grad[c] += sum_s dl_ds[index[s]] M[index[s], c].
"""

from __future__ import annotations

import numpy as np

KERNEL_NAMES = ("compact_active", "restrict_jacobian", "gather_rows", "influence_update", "thr_scatter",
                "contract_gradient")

_BODY = r"""
extern "C" __global__ void compact_active(const T* o, const T* dH, const int* colcount, int n,
                                          int* index, int* slot, long long* counts) {
    __shared__ int warp_base[32];
    __shared__ int base;
    __shared__ int chunk_total;
    __shared__ unsigned long long g_nnz;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    if (threadIdx.x == 0) { base = 0; g_nnz = 0ULL; }
    __syncthreads();
    unsigned long long local = 0ULL;
    for (int start = 0; start < n; start += blockDim.x) {
        const int i = start + threadIdx.x;
        const bool active = (i < n) && (o[i] != (T)0 || dH[i] != (T)0);
        const unsigned ballot = __ballot_sync(0xffffffffu, active);
        if (lane == 0) warp_base[warp] = __popc(ballot);
        __syncthreads();
        if (threadIdx.x == 0) {
            int run = 0;
            for (int w = 0; w < n_warps; ++w) { const int c = warp_base[w]; warp_base[w] = run; run += c; }
            chunk_total = run;
        }
        __syncthreads();
        if (i < n) {
            if (active) {
                const int pos = base + warp_base[warp] + __popc(ballot & ((1u << lane) - 1u));
                index[pos] = i;
                slot[i] = pos;
                local += (unsigned long long)colcount[i];
            } else {
                slot[i] = -1;
            }
        }
        __syncthreads();
        if (threadIdx.x == 0) base += chunk_total;
        __syncthreads();
    }
    atomicAdd(&g_nnz, local);
    __syncthreads();
    if (threadIdx.x == 0) { counts[0] = (long long)base; counts[1] = (long long)g_nnz; }
}

extern "C" __global__ void restrict_jacobian(const int* rowptr, const int* cols, const int* slot,
                                             const T* rc, const T* R_u, const T* R_r, const T* R_z,
                                             const T* dy, const T* dy_thr, int n,
                                             int* count, int* slots, int* units, T* vals_dy, T* vals_thr) {
    const int i = (int)((blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (i >= n) return;  /* uniform per warp: all 32 lanes share i */
    const int start = rowptr[i], end = rowptr[i + 1];
    const T c0 = rc[i], c1 = rc[n + i], c2 = rc[2 * n + i];
    const long long row = (long long)i * n;
    int run = 0;
    for (int k0 = start; k0 < end; k0 += 32) {
        const int k = k0 + lane;
        int j = 0, s = -1;
        if (k < end) { j = cols[k]; s = slot[j]; }
        const bool keep = s >= 0;
        const unsigned ballot = __ballot_sync(0xffffffffu, keep);
        if (keep) {
            const int pos = start + run + __popc(ballot & ((1u << lane) - 1u));
            const T gv = c0 * R_u[row + j] + c1 * R_r[row + j] + c2 * R_z[row + j];
            slots[pos] = s;
            units[pos] = j;
            vals_dy[pos] = gv * dy[j];
            vals_thr[pos] = gv * dy_thr[j];
        }
        run += __popc(ballot);
    }
    if (lane == 0) count[i] = run;
}

extern "C" __global__ void gather_rows(const T* M, const int* index, int n_rows, long long P, T* buf) {
    const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (c >= P) return;
    for (int s = blockIdx.y; s < n_rows; s += gridDim.y) buf[s * P + c] = M[(long long)index[s] * P + c];
}

extern "C" __global__ void influence_update(T* M, const T* diag, const int* rowptr, const int* count,
                                            const int* slots, const T* vals, const T* buf,
                                            const int* col_row, const int* col_coef, const int* col_src,
                                            const T* coef_all, const T* src_all,
                                            int n, long long P, int rows_per_block) {
    const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (c >= P) return;
    const int own_row = col_row[c];
    const T imm = coef_all[col_coef[c]] * src_all[col_src[c]];
    const int r0 = blockIdx.y * rows_per_block;
    const int r1 = min(n, r0 + rows_per_block);
    for (int i = r0; i < r1; ++i) {
        const long long at = (long long)i * P + c;
        T acc = diag[i] * M[at];
        const int k0 = rowptr[i], k1 = k0 + count[i];
        for (int k = k0; k < k1; ++k) acc += vals[k] * buf[(long long)slots[k] * P + c];
        if (i == own_row) acc += imm;
        M[at] = acc;
    }
}

extern "C" __global__ void thr_scatter(T* M, long long P, long long thr0, const int* rowptr,
                                       const int* count, const int* units, const T* vals_thr, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const int k0 = rowptr[i], k1 = k0 + count[i];
    const long long row = (long long)i * P + thr0;
    for (int k = k0; k < k1; ++k) M[row + units[k]] += vals_thr[k];
}

extern "C" __global__ void contract_gradient(T* grad, const T* M, const int* index, const T* dl_ds,
                                             int n_rows, long long P) {
    const long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (c >= P) return;
    T acc = (T)0;
    for (int s = 0; s < n_rows; ++s) {
        const int a = index[s];
        acc += dl_ds[a] * M[(long long)a * P + c];
    }
    grad[c] += acc;
}
"""


def source(dtype) -> str:
    """The kernels' source for ``dtype`` float32 or float64."""
    ctype = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}[np.dtype(dtype)]
    return f"typedef {ctype} T;\n" + _BODY
