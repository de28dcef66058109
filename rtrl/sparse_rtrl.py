"""Sparse RTRL (DESIGN §4): exact, but touching only what activity and masks leave non-zero.

* M stores only the P unmasked recurrent-path parameters (n x P).
* J_t = diag(u * c') + G[:, A] diag(y'_A): the off-diagonal part has nnz(G[:, A]) entries
  (A = units that fired or lie in the pseudo-derivative support at t-1). While G[:, A] is sparse
  it is applied with M in one CSR product ((n + nnz(G[:, A])) x P multiply-accumulates); once it
  is at least DENSE_BLOCK_MIN_DENSITY full, as a dense n x |A| block through BLAS (n |A| P
  multiply-accumulates, faster there), after an in-place diagonal scale.
* The immediate influence of W[i, j] / R[i, j] is scattered only where x_j / y_j is non-zero.
* The gradient contraction reads only the |A_t| rows of M where dL/ds_t can be non-zero.
* The forward products W x and R y use only non-zero inputs and events (event-based).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import get_blas_funcs

from accel_sim.trace.schema import Label, OpKind
from rtrl.cell import Events, bias_coefficients, gates, input_coefficients, recurrent_coefficients
from rtrl.layout import InfluenceLayout
from rtrl.learner import Learner, StepOutput
from rtrl.model import BIASES, INPUT_WEIGHTS, MASKED, RECURRENT_WEIGHTS
from rtrl.recording import INDEX_BYTES, emit

#: G[:, A] at least this full is multiplied as a dense block (BLAS) instead of a CSR product.
DENSE_BLOCK_MIN_DENSITY = 0.5


def uses_dense_block(g_nnz: int, n_hidden: int, n_active: int) -> bool:
    """Whether a step with nnz(G[:, A]) = g_nnz takes the dense-block path."""
    return n_active > 0 and g_nnz >= DENSE_BLOCK_MIN_DENSITY * n_hidden * n_active


class SparseRTRL(Learner):
    method = "sparse_rtrl"

    def __init__(self, model, recorder=None) -> None:
        n, n_in = model.n_hidden, model.n_in
        lay = self.layout = InfluenceLayout(model, masked_only=True)
        # Every kept weight entry e, W groups first: its unit row, gate-row (into the stacked
        # 6n pre-activation / coefficient vector), source (into [x, y]), column in M and flat index
        # into the concatenated weights.
        rows, gate_rows, srcs, cols, flat = [], [], [], [], []
        offset = 0
        for gi, name in enumerate(MASKED):
            fan_in = n_in if name in INPUT_WEIGHTS else n
            r, j = lay.rows[name], lay.srcs[name]
            rows.append(r)
            gate_rows.append(gi * n + r)
            srcs.append(j if name in INPUT_WEIGHTS else n_in + j)
            cols.append(np.arange(lay.columns(name).start, lay.columns(name).stop))
            flat.append(offset + r * fan_in + j)
            offset += n * fan_in
        self._e_rows, self._e_gate, self._e_src, self._e_cols, self._e_flat = (
            np.concatenate(a).astype(np.int64) for a in (rows, gate_rows, srcs, cols, flat)
        )
        self._n_input_entries = sum(lay.rows[name].size for name in INPUT_WEIGHTS)
        # Union sparsity of the recurrent masks (the sparsity of G), row-major.
        union = model.masks["R_u"] | model.masks["R_r"] | model.masks["R_z"]
        self._g_rows, self._g_cols = (a.astype(np.int64) for a in np.nonzero(union))
        self._bias_rows = np.tile(np.arange(n), len(BIASES))
        self._bias_cols = lay.start[BIASES[0]] + np.arange(len(BIASES) * n)
        super().__init__(model, recorder)

    def _reset_learning_state(self) -> None:
        self.M = np.zeros((self.model.n_hidden, self.layout.n_columns), self.model.dtype)

    def _zero_recurrent_grads(self) -> None:
        self._grad = np.zeros(self.layout.n_columns, self.model.dtype)

    def _step(self, x: np.ndarray, target: int, prev: Events) -> StepOutput:
        p, lay, dtype = self.model.params, self.layout, self.model.dtype
        n = self.model.n_hidden
        # Event-based forward: only entries whose source (input or event) is non-zero.
        source = np.concatenate([x, prev.y])[self._e_src]
        live = np.flatnonzero(source)
        weights = np.concatenate([p[name].ravel() for name in MASKED])
        pre = np.bincount(self._e_gate[live], weights=weights[self._e_flat[live]] * source[live], minlength=6 * n)
        pre = pre.astype(dtype).reshape(6, n)
        g = gates(p, pre[:3], pre[3:], prev)
        rc = recurrent_coefficients(g)

        # Jacobian columns of the active set: G[i, j] for j in A (union-mask structure).
        active_mask = (prev.o != 0) | (prev.dH != 0)
        sel = np.flatnonzero(active_mask[self._g_cols])
        gr, gc = self._g_rows[sel], self._g_cols[sel]
        at = gr * n + gc
        g_vals = rc[0][gr] * p["R_u"].ravel()[at] + rc[1][gr] * p["R_r"].ravel()[at] + rc[2][gr] * p["R_z"].ravel()[at]
        active = np.flatnonzero(active_mask)
        dense_block = uses_dense_block(sel.size, n, active.size)

        # M_t = J_t M_{t-1} + Mbar_t
        if dense_block:
            block = np.zeros((n, active.size), dtype)
            block[gr, np.searchsorted(active, gc)] = g_vals * prev.dy[gc]
            M = self.M
            gathered = M[active]
            M *= g.diag[:, None]
            # M += block @ gathered, in place: BLAS gemm on the transposes (M.T is Fortran-ordered)
            gemm = get_blas_funcs("gemm", dtype=dtype)
            gemm(1.0, gathered.T, block.T, beta=1.0, c=M.T, overwrite_c=1)
        else:
            M = _jacobian_csr(g.diag, gr, gc, g_vals * prev.dy[gc], n) @ self.M
        coef = np.concatenate([input_coefficients(g).ravel(), rc.ravel()])
        M[self._e_rows[live], self._e_cols[live]] += coef[self._e_gate[live]] * source[live]
        M[self._bias_rows, self._bias_cols] += bias_coefficients(g).ravel()
        thr0 = lay.start["thr"]
        M[gr, thr0 + gc] += g_vals * prev.dy_thr[gc]
        M[active, thr0 + active] += g.u[active] * prev.dc_thr[active]
        self.M = M
        self.s = g.s

        ev, res = self._readout(g.s, target)
        now_active = ev.active
        if res.dl_ds is not None:
            self._grad += res.dl_ds[now_active] @ M[now_active]
        if self.recorder is not None:
            self._emit(target, live, active, sel.size, now_active.size, dense_block)
        return StepOutput(res.loss, res.logits, 0, 0)

    def _emit(self, target: int, live: np.ndarray, active: np.ndarray, g_nnz: int, n_now: int,
              dense_block: bool) -> None:
        rec, t, b, ib = self.recorder, self.t, self.itemsize, INDEX_BYTES
        n, n_in, P = self.model.n_hidden, self.model.n_in, self.layout.n_columns
        n_a = active.size
        live_in = int(np.searchsorted(live, self._n_input_entries))
        live_rec = live.size - live_in
        emit(rec, t, OpKind.INDEX_DECODE, Label.ACTIVE_SET, m=n, index_count=n_a,
             read={"state": n * b}, written={"activations": n_a * ib})
        emit(rec, t, OpKind.SPMM, Label.INPUT_PROJECTION, m=3 * n, k=n_in, nnz=live_in, macs=live_in,
             index_count=live_in, read={"weights": live_in * (b + ib), "input": n_in * b},
             written={"activations": 3 * n * b})
        emit(rec, t, OpKind.SPMM, Label.RECURRENT_PRODUCT, m=3 * n, k=n, nnz=live_rec, macs=live_rec,
             index_count=live_rec, read={"weights": live_rec * (b + ib), "state": n * b},
             written={"activations": 3 * n * b})
        self._emit_gates()
        emit(rec, t, OpKind.ELEMENTWISE, Label.JACOBIAN_BUILD, m=n, k=n_a, nnz=g_nnz, macs=4 * g_nnz,
             index_count=g_nnz, read={"weights": 3 * g_nnz * b, "activations": 4 * n * b},
             written={"activations": g_nnz * (b + ib)})
        emit(rec, t, OpKind.ELEMENTWISE, Label.INFLUENCE_DIAG_SCALE, m=n, n=P, macs=n * P,
             read={"influence": n * P * b, "activations": n * b}, written={"influence": n * P * b})
        if dense_block:  # gather |A| rows, then M += block @ rows in place (BLAS gemm)
            emit(rec, t, OpKind.GEMM, Label.INFLUENCE_SPARSE_UPDATE, m=n, k=n_a, n=P, nnz=g_nnz,
                 macs=n * n_a * P, index_count=n_a,
                 read={"influence": (n_a + n) * P * b, "activations": n * n_a * b},
                 written={"influence": n * P * b})
        else:
            emit(rec, t, OpKind.SPMM, Label.INFLUENCE_SPARSE_UPDATE, m=n, k=n_a, n=P, nnz=g_nnz,
                 macs=g_nnz * P, index_count=g_nnz,
                 read={"influence": n_a * P * b, "activations": g_nnz * (b + ib)})
        scattered = live.size + len(BIASES) * n + g_nnz + n_a
        emit(rec, t, OpKind.SCATTER, Label.IMMEDIATE_SCATTER, m=n, n=P, nnz=scattered, macs=scattered,
             index_count=2 * scattered, read={"influence": scattered * b, "activations": 8 * n * b},
             written={"influence": scattered * b})
        self._emit_readout(target)
        if target >= 0:
            emit(rec, t, OpKind.GEMM, Label.GRADIENT_CONTRACTION, m=1, k=n_now, n=P, macs=n_now * P,
                 index_count=n_now, read={"influence": n_now * P * b, "gradients": P * b},
                 written={"gradients": P * b})

    def _recurrent_grads(self) -> dict[str, np.ndarray]:
        return self.layout.unflatten(self._grad)

    def state_bytes(self) -> int:
        return int(self.M.nbytes)

    def get_state(self) -> dict[str, np.ndarray]:
        return {"s": self.s.copy(), "influence": self.M.copy(), "grad": self._grad.copy(),
                **self._common_state()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.s, self.M, self._grad = (np.array(state[k], self.model.dtype) for k in ("s", "influence", "grad"))
        self._set_common_state(state)


def _jacobian_csr(diag: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> sp.csr_matrix:
    """CSR of diag(diag) + the off-diagonal entries (rows sorted ascending), one diagonal entry
    first in every row."""
    counts = np.bincount(rows, minlength=n) + 1
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    data = np.empty(indptr[-1], diag.dtype)
    indices = np.empty(indptr[-1], np.int64)
    data[indptr[:-1]] = diag
    indices[indptr[:-1]] = np.arange(n)
    rank = np.arange(rows.size) - np.searchsorted(rows, rows, side="left")
    pos = indptr[rows] + 1 + rank
    data[pos] = vals
    indices[pos] = cols
    return sp.csr_matrix((data, indices, indptr), shape=(n, n))
