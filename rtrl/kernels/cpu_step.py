"""Static structure and buffers of the compiled CPU step (``rtrl.kernels.compiled``) for one model."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rtrl.cell import Events, Gates
from rtrl.kernels import compiled, native
from rtrl.layout import InfluenceLayout
from rtrl.model import BIASES, INPUT_WEIGHTS, MASKED
from rtrl.reach import SEGMENT, Reach
from rtrl.static import cached


class Forward(NamedTuple):
    """What ``CompiledStep.forward`` returns: ``loss`` (nats, 0 without target); the numbers of kept
    input / recurrent weight entries whose source was non-zero (the event-based forward's MACs;
    ``live_in`` is -1, and nothing was computed, when x holds NaN or inf);
    |A| and nnz(G[:, A]) for the active set A of the previous state; how many of its units fired
    and lie in the pseudo-derivative support; |A_t| of the new state (the contraction's rows)."""

    loss: float
    live_in: int
    live_rec: int
    n_active: int
    g_nnz: int
    n_fired: int
    n_support: int
    n_now: int


#: (dtype, implementation) pairs whose kernels this process has compiled or loaded already.
_WARM: set = set()


class CompiledStep:
    """One model's sparse-RTRL step in compiled code.

    ``g_rows``, ``g_cols``: the non-zeros of G's sparsity (the union of the recurrent masks),
    row-major; ``reach``: the learner's reached columns of M (``rtrl.reach``). After ``forward``:
    ``gate_values`` (9, n) (rows as ``rtrl.cell.Gates``), ``new_events`` (8, n) (rows as
    ``rtrl.cell.Events`` without s), ``logits`` (n_out,) and, with a target, ``dl_ds`` (n,).
    """

    def __init__(self, model, layout: InfluenceLayout, g_rows: np.ndarray, g_cols: np.ndarray, reach: Reach) -> None:
        n, n_in, dtype = model.n_hidden, model.n_in, model.dtype
        self.model = model
        self.bias0, self.thr0 = layout.start[BIASES[0]], layout.start["thr"]
        # Static indices (from the masks only): built once per model (rtrl.static).
        self._idx, self._idx_at = cached(model, ("compiled_step",), lambda: _static_indices(model, layout, g_rows, g_cols))
        nnz = g_cols.size
        n_imm = sum(layout.rows[name].size for name in MASKED) + 5 * n + nnz
        # Work arrays (sections: compiled.WI_*, WF_*, ROWS_*); the attributes below are views of them.
        self._work_i, self._work_i_at = _pack([np.zeros(k, np.int64) for k in (n, n, n + 1, nnz, n + 1, n_imm, n)],
                                              np.int64)
        self._work_f, self._work_f_at = _pack([np.zeros(k, dtype) for k in (nnz, nnz, n_imm, model.n_out)], dtype)
        self._rows = np.zeros((compiled.N_ROWS, n), dtype)
        self._slot, self._units, self._ptr, self._slots, self._imm_ptr, self._imm_col, self._cursor = (
            self._work_i[self._work_i_at[k]:self._work_i_at[k + 1]] for k in range(7))
        self._raw, self._vals, self._imm_val, self.logits = (
            self._work_f[self._work_f_at[k]:self._work_f_at[k + 1]] for k in range(4))
        self.prev_events = self._rows[compiled.ROWS_PREV:compiled.ROWS_GATES]
        self.gate_values = self._rows[compiled.ROWS_GATES:compiled.ROWS_NEW]
        self.new_events = self._rows[compiled.ROWS_NEW:compiled.ROWS_CW]
        self._cw, self.dl_ds = self._rows[compiled.ROWS_CW], self._rows[compiled.ROWS_DL_DS]
        self._old = aligned_empty((n, compiled.COLUMN_BLOCK), dtype)
        #: the reached columns of M (``rtrl.reach``, spans at most COLUMN_BLOCK wide): marked by
        #: ``forward``, swept by ``update``
        self.reach = reach
        lib = native.load()
        #: The influence update's implementation: the C build ("c", see ``rtrl.kernels.native``) or "numba".
        self.implementation = "c" if lib is not None and lib.supports(dtype) else "numba"
        self._native = None
        if self.implementation == "c":
            self._native = lib.bind(self._old, self._units, self.gate_values[compiled.DIAG], self._ptr, self._slots,
                                    self._vals, compiled.COLUMN_BLOCK, self.reach.span_start, self.reach.span_width,
                                    self._imm_ptr, self._imm_col, self._imm_val, self._cursor, self._cw)
        if (dtype, self.implementation) not in _WARM:  # once per process: the kernels are compiled by then
            self._warm_up(layout.n_columns)
            _WARM.add((dtype, self.implementation))

    def _warm_up(self, n_columns: int) -> None:
        """Compile the kernels for this dtype (or load them from numba's cache) now, on scratch
        state, so that the first timed step of a run does not pay for it (seconds when compiling)."""
        model, dtype = self.model, self.model.dtype
        n, n_out = model.n_hidden, model.n_out
        M, grad = np.zeros((n, n_columns), dtype), np.zeros(n_columns, dtype)
        fwd = self.forward(np.zeros(n, dtype), np.zeros(model.n_in, dtype), 0, np.zeros(n, dtype),
                           np.zeros((n_out, n), dtype), np.zeros(n_out, dtype))
        self.update(M, fwd.n_active, grad, True)
        self.contract(grad, M)
        self.reach.clear()  # the scratch step marked the learner's reach (shared with it)

    def previous_events(self, s: np.ndarray) -> Events:
        """The events of s_{t-1} = ``s`` that the last ``forward`` computed (views, valid until the
        next call)."""
        return Events(s, *self.prev_events)

    def forward(self, s: np.ndarray, x: np.ndarray, target: int, thr_direct, dW_o, db_o) -> Forward:
        """Events of ``s`` (s_{t-1}), then gates, new events, readout and G[:, A] of one step;
        readout gradients accumulate into ``thr_direct`` (n,), ``dW_o`` (n_out, n), ``db_o``
        (n_out,) when ``target`` >= 0."""
        p = self.model.params
        gamma, eps = self.model.pseudo_derivative
        fwd = Forward(*compiled.forward(
            s, x, p["W_u"], p["W_r"], p["W_z"], p["R_u"], p["R_r"], p["R_z"], p["b_u"], p["b_r"], p["b_z"], p["b_rz"],
            p["thr"], p["W_o"], p["b_o"], thr_direct, dW_o, db_o, target, gamma, eps, self.bias0, self.thr0,
            self._idx, self._idx_at, self._work_i, self._work_i_at, self._rows, self._work_f, self._work_f_at))
        reach = self.reach
        if fwd.live_in >= 0 and not reach.everything():  # the columns this step's Mbar writes are reached
            if compiled.mark_reached(self._imm_col, self._imm_ptr[-1], reach.flags, SEGMENT):
                reach.changed()
        return fwd

    def gates(self) -> Gates:
        """The gates of the last ``forward`` as a ``Gates`` (views of ``gate_values``)."""
        return Gates(*self.gate_values)

    def update(self, M: np.ndarray, n_active: int, grad: np.ndarray, with_target: bool) -> None:
        """In place M <- J_t M + Mbar_t after ``forward``, and with a target grad += dL/ds[A_t] M[A_t]."""
        reach = self.reach
        if self._native is not None:
            self._native(M, n_active, reach.n_spans, grad, with_target)
        else:
            compiled.update(M, self._old, self._units, n_active, self.gate_values[compiled.DIAG], self._ptr,
                            self._slots, self._vals, reach.span_start, reach.span_width, reach.n_spans,
                            self._imm_ptr, self._imm_col, self._imm_val, self._cursor, grad, self._cw, with_target)

    def contract(self, grad: np.ndarray, M: np.ndarray) -> int:
        """grad += dL/ds[A_t] M[A_t] over the active set of the new state (reached columns);
        returns |A_t|."""
        reach = self.reach
        return compiled.contract(grad, M, self.new_events, self.dl_ds, reach.span_start, reach.span_width,
                                 reach.n_spans)


def _static_indices(model, layout: InfluenceLayout, g_rows: np.ndarray, g_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The static indices, int32, in one array (sections: compiled.IX_*) and their offsets: kept
    entries by source (CSR over the n_in + n sources) with group, unit row and source index within
    the group; G's row-major CSR; each group's weight columns of M row by row (ascending) with
    their sources, and where each row's start (for the immediate influence, row by row)."""
    n, n_in = model.n_hidden, model.n_in
    grp, row, srcl, src = [], [], [], []
    for g, name in enumerate(MASKED):
        r, j = layout.rows[name], layout.srcs[name]
        grp.append(np.full(r.size, g))
        row.append(r)
        srcl.append(j)
        src.append(j if name in INPUT_WEIGHTS else n_in + j)
    src = np.concatenate(src)
    order = np.argsort(src, kind="stable")
    row_cols, row_src, row_ptr, offset = [], [], [], 0
    for name in MASKED:  # each group's weight columns listed row by row, ascending
        by_row = np.argsort(layout.rows[name], kind="stable")  # within a row: ascending source = column
        row_cols.append(layout.start[name] + by_row)
        row_src.append(layout.srcs[name][by_row] + (0 if name in INPUT_WEIGHTS else n_in))
        row_ptr.append(offset + np.searchsorted(layout.rows[name][by_row], np.arange(n + 1)))
        offset += by_row.size
    idx, at = _pack([
        np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n_in + n))]),
        *(np.concatenate(a)[order] for a in (grp, row, srcl)),
        np.concatenate([[0], np.cumsum(np.bincount(g_rows, minlength=n))]), g_cols, np.concatenate(row_ptr),
        np.concatenate(row_cols), np.concatenate(row_src),
    ], np.int32)
    idx.flags.writeable = at.flags.writeable = False  # shared by every learner of the model
    return idx, at


def _pack(parts: list[np.ndarray], dtype) -> tuple[np.ndarray, np.ndarray]:
    """``parts`` concatenated into one array of ``dtype``, and the (len + 1,) int64 offsets of each."""
    at = np.concatenate([[0], np.cumsum([part.size for part in parts])]).astype(np.int64)
    return np.concatenate([np.asarray(part).ravel() for part in parts]).astype(dtype), at


def aligned_empty(shape: tuple[int, ...], dtype, alignment: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose first element sits on an ``alignment``-byte
    boundary (cache line): the update's vector loads from it then never straddle two lines
    (numpy guarantees only 16 bytes; straddling loads cost the update ~20 %)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    raw = np.empty(size * dtype.itemsize + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + size * dtype.itemsize].view(dtype).reshape(shape)
