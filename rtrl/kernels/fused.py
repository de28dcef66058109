"""The fused influence update of sparse RTRL: the order in which ``SparseRTRL`` calls the kernels.

Per step (n units, P columns, A the active set of the previous state):

1. ``compact_active``: A, its slots and nnz(G[:, A]) (the learner decides dense block vs fused);
2. ``restrict_jacobian``: G[:, A] from the static CSR of G, with the J entries and the threshold
   columns' immediate influence;
3. ``gather_rows``: rows_A = M[A] (|A| x P) before M is overwritten;
4. ``influence_update``: M <- diag(u * c') M + G[:, A] diag(y'_A) rows_A + Mbar, one pass over M;
5. ``thr_scatter``: the off-diagonal threshold terms G[i, j] dy_thr[j] (nnz(G[:, A]) elements);
6. ``contract_gradient`` over the active set of the new state (compacted before step 2, since
   the readout does not need M).

The same code runs the CUDA kernels on CuPy arrays and the numpy twins on numpy arrays.
"""

from __future__ import annotations

import numpy as np

from rtrl.cell import Events, Gates, bias_coefficients, input_coefficients
from rtrl.kernels import kernels_for
from rtrl.kernels.structs import ActiveSet, ColumnMap, JacobianStructure
from rtrl.layout import InfluenceLayout
from rtrl.model import BIASES


class FusedInfluence:
    """Static structure (G's CSR, the column map of Mbar) and the kernels for one model.

    ``e_rows``, ``e_gate``, ``e_src``, ``e_cols`` (host int arrays, one entry per kept weight):
    unit row, gate row into the (6n,) coefficients, source index into [x, y], column of M.
    ``union`` (n, n) bool: the union of the recurrent masks (G's sparsity).
    """

    def __init__(self, model, layout: InfluenceLayout, e_rows, e_gate, e_src, e_cols, union: np.ndarray) -> None:
        xp, n, n_in, P = model.xp, model.n_hidden, model.n_in, layout.n_columns
        self.xp = xp
        self.ops = kernels_for(xp, model.dtype)
        self.structure = JacobianStructure.from_union_mask(union, xp)
        self.thr0 = layout.start["thr"]
        row, coef, src = (np.full(P, -1, np.int64) for _ in range(3))
        row[e_cols], coef[e_cols], src[e_cols] = e_rows, e_gate, e_src
        one = n_in + n  # index of the constant 1 in src_all = [x, y, 1]
        units = np.arange(n)
        for b, name in enumerate(BIASES):
            cols = layout.columns(name)
            row[cols], coef[cols], src[cols] = units, 6 * n + b * n + units, one
        cols = layout.columns("thr")
        row[cols], coef[cols], src[cols] = units, 10 * n + units, one
        assert (row >= 0).all() and (coef >= 0).all() and (src >= 0).all(), "every column of M is mapped"
        self.columns = ColumnMap(*(xp.asarray(a.astype(np.int32)) for a in (row, coef, src)))
        self._one = xp.ones(1, model.dtype)

    def active_set(self, ev: Events) -> ActiveSet:
        """Compacted A = {o != 0 or dH != 0} of ``ev``, with nnz(G[:, A])."""
        return self.ops.compact_active(ev.o, ev.dH, self.structure.colcount)

    def update(self, M, g: Gates, rc, prev: Events, params: dict, x, act: ActiveSet) -> None:
        """In place: M <- J_t M + Mbar_t for gates ``g``, recurrent coefficients ``rc`` (3, n),
        previous events ``prev``, input ``x`` (n_in,) and the active set ``act`` of ``prev``."""
        ops, xp = self.ops, self.xp
        rj = ops.restrict_jacobian(self.structure, act.slot, rc, params["R_u"], params["R_r"], params["R_z"],
                                   prev.dy, prev.dy_thr)
        rows_A = ops.gather_rows(M, act.index)
        coef_all = xp.concatenate([input_coefficients(g).ravel(), rc.ravel(), bias_coefficients(g).ravel(),
                                   g.u * prev.dc_thr])
        src_all = xp.concatenate([x, prev.y, self._one])
        ops.influence_update(M, g.diag, self.structure, rj, rows_A, self.columns, coef_all, src_all)
        if act.n_active:
            ops.thr_scatter(M, self.thr0, self.structure, rj)

    def contract(self, grad, M, act: ActiveSet, dl_ds) -> int:
        """grad += dl_ds[A_t] M[A_t] over the active set ``act`` of the new state; returns |A_t|."""
        if act.n_active:
            self.ops.contract_gradient(grad, M, act.index, dl_ds)
        return act.n_active
