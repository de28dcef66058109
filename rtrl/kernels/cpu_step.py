"""Static structure and buffers of the compiled CPU step (``rtrl.kernels.compiled``) for one model."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rtrl.cell import Events, Gates
from rtrl.kernels import compiled, native
from rtrl.layout import InfluenceLayout
from rtrl.model import BIASES, INPUT_WEIGHTS, MASKED


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


class CompiledStep:
    """One model's sparse-RTRL step in compiled code.

    Kept weight entries are listed by source (``src_ptr`` over sources j of [x, y]) with their
    group (index into ``rtrl.model.MASKED``), unit row, index into the raveled group and column
    of M. ``g_rows``, ``g_cols``: the non-zeros of G's sparsity (the union of the recurrent masks),
    row-major. After ``forward``: ``gate_values`` (9, n) (rows as ``rtrl.cell.Gates``),
    ``new_events`` (8, n) (rows as ``rtrl.cell.Events`` without s), ``logits`` (n_out,) and, with
    a target, ``dl_ds`` (n,).
    """

    def __init__(self, model, layout: InfluenceLayout, g_rows: np.ndarray, g_cols: np.ndarray) -> None:
        n, n_in, dtype = model.n_hidden, model.n_in, model.dtype
        self.model = model
        grp, row, flat, col, src = [], [], [], [], []
        for g, name in enumerate(MASKED):
            r, j = layout.rows[name], layout.srcs[name]
            fan_in = n_in if name in INPUT_WEIGHTS else n
            grp.append(np.full(r.size, g))
            row.append(r)
            flat.append(r * fan_in + j)
            col.append(np.arange(layout.columns(name).start, layout.columns(name).stop))
            src.append(j if name in INPUT_WEIGHTS else n_in + j)
        src = np.concatenate(src)
        order = np.argsort(src, kind="stable")
        # int32 / int8 indices: half the bytes the step reads back after the product's pass over M
        # has pushed them out of the cache.
        self.src_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n_in + n))]).astype(np.int32)
        self.e_row, self.e_flat, self.e_col = (np.concatenate(a).astype(np.int32)[order] for a in (row, flat, col))
        self.e_grp = np.concatenate(grp).astype(np.int8)[order]
        self.g_ptr = np.concatenate([[0], np.cumsum(np.bincount(g_rows, minlength=n))]).astype(np.int32)
        self.g_idx = g_cols.astype(np.int32)
        self.bias0, self.thr0 = layout.start[BIASES[0]], layout.start["thr"]
        # Row-major view of the weight columns of M for the immediate influence: row_ptr[g, i] is
        # the first column of group g in row i; col_src the source (into [x, y]) of each column.
        self.row_ptr = np.stack([layout.start[name] + np.searchsorted(layout.rows[name], np.arange(n + 1))
                                 for name in MASKED]).astype(np.int64)
        self.col_src = np.concatenate([layout.srcs[name] + (0 if name in INPUT_WEIGHTS else n_in)
                                       for name in MASKED]).astype(np.int32)
        self.prev_events = np.zeros((8, n), dtype)
        self.gate_values = np.zeros((9, n), dtype)
        self.new_events = np.zeros((8, n), dtype)
        self.logits = np.zeros(model.n_out, dtype)
        self.dl_ds = np.zeros(n, dtype)
        nnz = g_cols.size
        self._slot, self._units, self._ptr = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n + 1, np.int64)
        self._slots, self._raw, self._vals = np.empty(nnz, np.int64), np.empty(nnz, dtype), np.empty(nnz, dtype)
        self._old = aligned_empty((n, compiled.COLUMN_BLOCK), dtype)
        n_imm = self.col_src.size + 5 * n + nnz
        self._imm_ptr, self._imm_col = np.empty(n + 1, np.int64), np.empty(n_imm, np.int64)
        self._imm_val, self._cursor, self._cw = np.empty(n_imm, dtype), np.empty(n, np.int64), np.zeros(n, dtype)
        lib = native.load()
        #: The influence update's implementation: the C build ("c", see ``rtrl.kernels.native``) or "numba".
        self.implementation = "c" if lib is not None and lib.supports(dtype) else "numba"
        self._native = None
        if self.implementation == "c":
            self._native = lib.bind(self._old, self._units, self.gate_values[compiled.DIAG], self._ptr, self._slots,
                                    self._vals, compiled.COLUMN_BLOCK, self._imm_ptr, self._imm_col, self._imm_val,
                                    self._cursor, self._cw)
        self._warm_up(layout.n_columns)

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
        return Forward(*compiled.forward(
            s, x, self.prev_events, *(p[name].ravel() for name in MASKED), self.src_ptr, self.e_grp, self.e_row,
            self.e_flat, p["b_u"], p["b_r"], p["b_z"], p["b_rz"], p["thr"], float(gamma), float(eps), p["W_o"],
            p["b_o"], target, self.gate_values, self.new_events, self.logits, self.dl_ds, thr_direct, dW_o, db_o,
            self.g_ptr, self.g_idx, self._slot, self._units, self._ptr, self._slots, self._raw, self._vals,
            self.row_ptr, self.col_src, self.bias0, self.thr0, self._imm_ptr, self._imm_col, self._imm_val, self._cw))

    def gates(self) -> Gates:
        """The gates of the last ``forward`` as a ``Gates`` (views of ``gate_values``)."""
        return Gates(*self.gate_values)

    def update(self, M: np.ndarray, n_active: int, grad: np.ndarray, with_target: bool) -> None:
        """In place M <- J_t M + Mbar_t after ``forward``, and with a target grad += dL/ds[A_t] M[A_t]."""
        if self._native is not None:
            self._native(M, n_active, grad, with_target)
        else:
            compiled.update(M, self._old, self._units, n_active, self.gate_values[compiled.DIAG], self._ptr,
                            self._slots, self._vals, compiled.COLUMN_BLOCK, self._imm_ptr, self._imm_col,
                            self._imm_val, self._cursor, grad, self._cw, with_target)

    def contract(self, grad: np.ndarray, M: np.ndarray) -> int:
        """grad += dL/ds[A_t] M[A_t] over the active set of the new state; returns |A_t|."""
        return compiled.contract(grad, M, self.new_events, self.dl_ds)


def aligned_empty(shape: tuple[int, ...], dtype, alignment: int = 64) -> np.ndarray:
    """An uninitialised C-contiguous array whose first element sits on an ``alignment``-byte
    boundary (cache line): the update's vector loads from it then never straddle two lines
    (numpy guarantees only 16 bytes; straddling loads cost the update ~20 %)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    raw = np.empty(size * dtype.itemsize + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + size * dtype.itemsize].view(dtype).reshape(shape)
