"""Sparse RTRL (docs/model.md §3): exact, but touching only what activity and masks leave non-zero.

* M stores only the P unmasked recurrent-path parameters (n x P); of its columns, only the P_r
  reached since the sequence start can be non-zero (``rtrl.reach``): the update, the contraction
  and the recorded ops cover those.
* J_t = diag(u * c') + G[:, A] diag(y'_A): the off-diagonal part has nnz(G[:, A]) entries
  (A = units that fired or lie in the pseudo-derivative support at t-1). While G[:, A] is sparse
  it is applied with M in one CSR product ((n + nnz(G[:, A])) x P multiply-accumulates); once it
  is at least DENSE_BLOCK_MIN_DENSITY full, as a dense n x |A| block through BLAS (n |A| P
  multiply-accumulates, faster there), after an in-place diagonal scale (P_r for P throughout).
* The immediate influence of W[i, j] / R[i, j] is scattered only where x_j / y_j is non-zero.
* The gradient contraction reads only the |A_t| rows of M where dL/ds_t can be non-zero.
* The forward products W x and R y use only non-zero inputs and events (event-based).

Devices (``model.device``): one algorithm written against the array module ``xp``. The
influence update (M_t = J_t M_{t-1} + Mbar_t) has three implementations, chosen by ``kernels``:

* ``"compiled"`` (the CPU default when numba, the ``fast`` extra, is installed): the whole step
  (forward, gates, readout, the in-place update of M, the contraction) in compiled code
  (``rtrl.kernels.compiled``);
* ``"generic"`` (the CPU default without numba): the CSR product (scipy on the CPU, cupyx on the
  GPU) and numpy scatters;
* ``"fused"`` (the GPU default): the fused kernels of ``rtrl.kernels`` (CUDA on the GPU, their
  numpy twins on the CPU).

All three hand the update to the generic dense block when G[:, A] is well filled, and all record
the same operations. The compiled path sweeps only the reached columns; the generic path
gathers them for its products while at most GATHER_MAX are reached; the fused path records them
but sweeps every column (its CUDA kernels take no column list yet).

A rewiring inside a sequence (``Learner.rewired``) builds the learner for the new masks, copies M's
surviving columns over (grown weights' start at zero, dropped weights' are discarded) and
re-derives the reached columns from M (``_influence_changed``), so every path continues exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import get_blas_funcs

from accel_sim.trace.schema import ListRecorder, op_row, record_rows
from rtrl.backend import array_module
from rtrl.cell import Events, bias_coefficients, gates, input_coefficients, recurrent_coefficients
from rtrl.kernels import compiled
from rtrl.layout import InfluenceLayout
from rtrl.learner import InfluenceLearner, StepOutput
from rtrl.model import BIASES, INPUT_WEIGHTS, MASKED
from rtrl.reach import Reach
from rtrl.recording import GATE_MACS_PER_UNIT, emit
from rtrl.static import cached

#: G[:, A] at least this full is multiplied as a dense block (BLAS) instead of a CSR product.
DENSE_BLOCK_MIN_DENSITY = 0.5

#: The generic path's products gather the reached columns of M only while at most this share of
#: them is reached (fancy-index gathers cost more than the zeros they skip beyond that).
GATHER_MAX = 0.5


#: Influence entries that decay below the smallest normal float are set to zero this often (steps):
#: subnormal arithmetic is ~100x slower on CPUs, and a fraction of a percent of subnormal entries
#: would otherwise slow the CSR product several-fold. The change is below float round-off.
FLUSH_SUBNORMALS_EVERY = 8


def flush_subnormals(M: np.ndarray) -> None:
    """Set entries of M with 0 < |value| < smallest normal number to 0, in place."""
    tiny = np.finfo(M.dtype).tiny
    np.copyto(M, 0, where=np.abs(M) < tiny)


def uses_dense_block(g_nnz: int, n_hidden: int, n_active: int) -> bool:
    """Whether a step with nnz(G[:, A]) = g_nnz takes the dense-block path."""
    return n_active > 0 and g_nnz >= DENSE_BLOCK_MIN_DENSITY * n_hidden * n_active


class SparseRTRL(InfluenceLearner):
    """``kernels``: None (the device's default, see the module docstring), "compiled",
    "generic" or "fused"; ``skip_unreached``: sweep only the reached columns of M (``rtrl.reach``;
    False sweeps every column, the same result, for comparisons)."""

    method = "sparse_rtrl"

    def __init__(self, model, recorder=None, kernels: str | None = None, skip_unreached: bool = True) -> None:
        self._kernels_asked, self._skip_unreached = kernels, bool(skip_unreached)
        self.kernels = _choose_kernels(kernels, model.backend.is_gpu)
        xp = model.xp
        # The index arrays depend on the masks only: built once per model (rtrl.static).
        lay, entries, union, g_rows, g_cols, bias_rows, bias_cols, n_input_entries = cached(
            model, ("sparse_rtrl",), lambda: _static_structure(model))
        self.layout = lay
        self._n_input_entries = n_input_entries
        self._compiled = None
        self._row_templates: dict[tuple[bool, bool], tuple[np.ndarray, ...] | None] = {}
        # The fused kernels sweep every column: there the reached columns only feed the records.
        track = self._skip_unreached and (self.kernels != "fused" or recorder is not None)
        self.reach = Reach(lay.n_columns, xp, block=compiled.COLUMN_BLOCK, enabled=track)
        if self.kernels == "compiled":
            from rtrl.kernels.cpu_step import CompiledStep

            self._compiled = CompiledStep(model, lay, g_rows, g_cols, self.reach)
        self._fused = None
        if self.kernels == "fused":
            from rtrl.kernels.fused import FusedInfluence

            self._fused = FusedInfluence(model, lay, *entries[:4], union)
        device = (lambda: tuple(xp.asarray(a) for a in (*entries, g_rows, g_cols, bias_rows, bias_cols)))
        (self._e_rows, self._e_gate, self._e_src, self._e_cols, self._e_flat, self._g_rows, self._g_cols,
         self._bias_rows, self._bias_cols) = device() if xp is np else cached(model, ("sparse_rtrl", "device"), device)
        super().__init__(model, lay, recorder)

    has_dense_gradient = False  # masked weights have no column in M

    def _reset_learning_state(self) -> None:
        super()._reset_learning_state()
        self.reach.clear()

    def _influence_changed(self) -> None:
        self.reach.from_matrix(self.M)  # every kernel path reads the reached columns from ``reach``

    def _options(self) -> dict:
        return {"kernels": self._kernels_asked, "skip_unreached": self._skip_unreached}

    def _step(self, x: np.ndarray, target: int, prev: Events) -> StepOutput:
        p, dtype, xp = self.model.params, self.model.dtype, self.xp
        n = self.model.n_hidden
        # Event-based forward: only entries whose source (input or event) is non-zero.
        source = xp.concatenate([x, prev.y])[self._e_src]
        live = xp.flatnonzero(source)
        weights = xp.concatenate([p[name].ravel() for name in MASKED])
        pre = _sum_by_index(self._e_gate[live], weights[self._e_flat[live]] * source[live], 6 * n)
        pre = pre.astype(dtype).reshape(6, n)
        g = gates(p, pre[:3], pre[3:], prev)
        rc = recurrent_coefficients(g)

        # The readout does not read M: on the GPU its host syncs (loss, active-set sizes) then
        # come before the pass over M is queued, and the step returns without waiting for it.
        ev, res = self._readout(g.s, target)
        if not self.reach.everything():  # the columns this step's Mbar writes are reached (rtrl.reach)
            self.reach.mark(xp.concatenate([self._e_cols[live], self._bias_cols, self.layout.start["thr"]
                                            + xp.flatnonzero((prev.o != 0) | (prev.dH != 0))]))
        fused = self._fused
        if fused is not None:
            act = fused.active_set(prev)
            act_now = fused.active_set(ev) if res.dl_ds is not None else None
            n_active, g_nnz = act.n_active, act.g_nnz
            dense_block = uses_dense_block(g_nnz, n, n_active)

        # M_t = J_t M_{t-1} + Mbar_t
        if fused is not None and not dense_block:
            fused.update(self.M, g, rc, prev, p, x, act)
        else:
            n_active, g_nnz, dense_block = self._generic_update(x, g, rc, prev, source, live)
        M = self.M
        if xp is np and self.t % FLUSH_SUBNORMALS_EVERY == 0:
            flush_subnormals(M)
        self.s = g.s

        # Gradient contraction over the |A_t| rows where dL/ds_t can be non-zero.
        if res.dl_ds is None:
            n_now = 0
        elif fused is not None:
            n_now = fused.contract(self._grad, M, act_now, res.dl_ds)
        else:
            now_active = ev.active
            n_now = now_active.size
            self._grad += res.dl_ds[now_active] @ M[now_active]  # (unreached columns are zero)
        if self.recorder is not None:
            live_in = int(xp.count_nonzero(live < self._n_input_entries))
            self._begin_record(x, prev, ev, reached=self.reach.mask())
            self._emit(target, (live_in, live.size - live_in, n_active, g_nnz, n_now, self.reach.n_reached), dense_block)
        return StepOutput(res.loss, res.logits, 0, 0)

    def step(self, x: np.ndarray, target: int = -1) -> StepOutput:
        if self._compiled is None:
            return super().step(x, target)
        model = self.model
        if type(x) is np.ndarray and x.dtype == model.dtype and x.shape == (model.n_in,) and x.flags.c_contiguous:
            return self._compiled_step(x, self._checked_target(target))  # NaN/inf: checked in compiled code
        return self._compiled_step(*self._checked_input(x, target))

    def _compiled_step(self, x: np.ndarray, target: int) -> StepOutput:
        """The step in compiled code (``rtrl.kernels.compiled``): one call for the forward, readout and
        the update's operands, one pass over M for the update (C or numba). A well-filled G[:, A]
        goes to the dense block (BLAS) instead."""
        step, rec, s_prev = self._compiled, self.recorder, self.s
        fwd = step.forward(s_prev, x, target, self._thr_direct, self._dW_o, self._db_o)
        if fwd.live_in < 0:
            raise ValueError("x contains NaN or inf")
        dense_block = uses_dense_block(fwd.g_nnz, self.model.n_hidden, fwd.n_active)
        if rec is not None:  # the counts are known: record before the pass over M evicts the caches
            prev, new = step.prev_events, step.new_events
            rec.begin_step(self.t, {"fired": prev[compiled.EV_O] != 0, "support": prev[compiled.EV_DH] != 0,
                                    "input_nz": x != 0, "fired_out": new[compiled.EV_O] != 0,
                                    "support_out": new[compiled.EV_DH] != 0, "reached": self.reach.mask()})
            self._record_rows(target, (fwd.live_in, fwd.live_rec, fwd.n_active, fwd.g_nnz,
                                       fwd.n_now if target >= 0 else 0, self.reach.n_reached), dense_block)
            rec.end_step()
        if dense_block:
            g, prev = step.gates(), step.previous_events(s_prev)
            source = np.concatenate([x, prev.y])[self._e_src]
            self._generic_update(x, g, recurrent_coefficients(g), prev, source, np.flatnonzero(source))
            if target >= 0:
                step.contract(self._grad, self.M)
        else:
            step.update(self.M, fwd.n_active, self._grad, target >= 0)
        self.s = step.gate_values[compiled.S].copy()
        return self._advance(fwd.loss, step.logits.copy(), fwd.n_fired, fwd.n_support, fwd.n_active)

    def _generic_update(self, x, g, rc, prev: Events, source, live) -> tuple[int, int, bool]:
        """M <- J M + Mbar with array-module operations (CSR product or dense block, then the
        immediate-influence scatters). Returns (|A|, nnz(G[:, A]), whether the dense block ran)."""
        p, lay, dtype, xp = self.model.params, self.layout, self.model.dtype, self.xp
        n = self.model.n_hidden
        # Jacobian columns of the active set: G[i, j] for j in A (union-mask structure).
        active_mask = (prev.o != 0) | (prev.dH != 0)
        sel = xp.flatnonzero(active_mask[self._g_cols])
        gr, gc = self._g_rows[sel], self._g_cols[sel]
        at = gr * n + gc
        g_vals = rc[0][gr] * p["R_u"].ravel()[at] + rc[1][gr] * p["R_r"].ravel()[at] + rc[2][gr] * p["R_z"].ravel()[at]
        active = xp.flatnonzero(active_mask)
        dense_block = uses_dense_block(sel.size, n, active.size)

        # Only the reached columns can be non-zero (rtrl.reach): the product covers those while
        # they are few; past GATHER_MAX of them, gathering costs more than the zeros (all columns).
        reach = self.reach
        M, cols = self.M, (reach.columns() if reach.n_reached <= GATHER_MAX * reach.n_columns else None)
        part = M if cols is None else xp.ascontiguousarray(M[:, cols])  # C order: gemm writes it in place
        if dense_block:
            block = xp.zeros((n, active.size), dtype)
            block[gr, xp.searchsorted(active, gc)] = g_vals * prev.dy[gc]
            gathered = part[active]
            part *= g.diag[:, None]
            if xp is np:  # part += block @ gathered, in place: BLAS gemm on the transposes (part.T is Fortran-ordered)
                gemm = get_blas_funcs("gemm", dtype=dtype)
                gemm(1.0, gathered.T, block.T, beta=1.0, c=part.T, overwrite_c=1)
            else:
                part += block @ gathered
        else:
            part = _jacobian_csr(g.diag, gr, gc, g_vals * prev.dy[gc], n) @ part
        if cols is None:
            M = part
        else:
            M[:, cols] = part
        coef = xp.concatenate([input_coefficients(g).ravel(), rc.ravel()])
        M[self._e_rows[live], self._e_cols[live]] += coef[self._e_gate[live]] * source[live]
        M[self._bias_rows, self._bias_cols] += bias_coefficients(g).ravel()
        thr0 = lay.start["thr"]
        M[gr, thr0 + gc] += g_vals * prev.dy_thr[gc]
        M[active, thr0 + active] += g.u[active] * prev.dc_thr[active]
        self.M = M
        return int(active.size), int(sel.size), dense_block

    def _record_rows(self, target: int, counts: tuple[int, ...], dense_block: bool) -> None:
        """The step's records as rows, from an affine template in the step's features (what
        ``_emit`` would record, without building a record per op), in one recorder call."""
        key = (dense_block, target >= 0)
        if key not in self._row_templates:
            self._row_templates[key] = self._row_template(target, dense_block)
        template = self._row_templates[key]
        if template is None:
            self._emit(target, counts, dense_block)
            return
        base, coef, rows = template
        compiled.template_rows(base, coef, np.asarray(_features(counts), np.int64), self.t, rows)
        record_rows(self.recorder, rows)

    def _row_template(self, target: int, dense_block: bool) -> tuple[np.ndarray, ...] | None:
        """(base (k, C), coef (k, C, F), scratch rows) with rows = base + coef @ features for
        ``_emit``'s records of one step (C = len(OP_COLUMNS); features: ``_features``), or None
        if they are not affine in them."""
        def rows(features) -> np.ndarray:
            saved = self.recorder, self.t
            self.recorder, self.t = ListRecorder(), 0
            try:
                self._emit_features(target, features, dense_block)
                return np.array([op_row(r) for r in self.recorder.ops], np.int64)
            finally:
                self.recorder, self.t = saved

        F = len(_features((0,) * 6))
        base = rows([0] * F)
        coef = np.stack([rows(np.eye(F, dtype=int)[j].tolist()) - base for j in range(F)], axis=-1)
        probe = _features((3, 5, 7, 11, 13, 17))
        affine = np.array_equal(rows(probe), base + coef @ np.array(probe))
        return (base, coef, np.empty_like(base)) if affine else None

    def _emit(self, target: int, counts: tuple[int, ...], dense_block: bool) -> None:
        """The step's ops for ``counts`` = (live input entries, live recurrent entries, |A|,
        nnz(G[:, A]), |A_t|, reached columns P_r)."""
        self._emit_features(target, _features(counts), dense_block)

    def _emit_features(self, target: int, f, dense_block: bool) -> None:
        """The step's ops with this code path's ``_features`` (linear in them: see ``_row_template``)."""
        live_in, live_rec, n_a, g_nnz, n_now, p_r, g_p, a_p, now_p = f
        rec, t, ops = self.recorder, self.t, self.ops
        n = self.model.n_hidden
        emit(rec, t, ops["active_set"], 0, n_a)
        emit(rec, t, ops["input_projection"], live_in, live_in)
        emit(rec, t, ops["recurrent_product"], live_rec, live_rec)
        emit(rec, t, ops["gates"], GATE_MACS_PER_UNIT * n)
        emit(rec, t, ops["jacobian_build"], 4 * g_nnz, g_nnz)
        if dense_block:  # M *= diag, then M += block @ M[A] in place (BLAS gemm), on the reached columns
            emit(rec, t, ops["influence_update_dense"], n * p_r + n * a_p, g_nnz)
        else:  # one pass over the reached columns: M[i] = diag_i M[i] + sum_k G[i, k] M_old[k]
            emit(rec, t, ops["influence_update"], n * p_r + g_p, g_nnz)
        scattered = live_in + live_rec + len(BIASES) * n + g_nnz + n_a
        emit(rec, t, ops["immediate_scatter"], scattered, scattered)
        self._emit_readout(target)
        if target >= 0:
            emit(rec, t, ops["contraction"], now_p, n_now)


def _features(counts: tuple[int, ...]) -> tuple[int, ...]:
    """A step's counts (live_in, live_rec, |A|, nnz(G[:, A]), |A_t|, P_r) and the products the
    recorded work uses (nnz(G[:, A]) P_r, |A| P_r, |A_t| P_r): the records are linear in these."""
    live_in, live_rec, n_a, g_nnz, n_now, p_r = counts
    return (live_in, live_rec, n_a, g_nnz, n_now, p_r, g_nnz * p_r, n_a * p_r, n_now * p_r)


def _static_structure(model) -> tuple:
    """The mask-derived index arrays of a sparse learner for ``model`` (host numpy arrays):
    (layout, entries, union, g_rows, g_cols, bias_rows, bias_cols, number of input entries).

    ``entries``: for every kept weight entry e, W groups first, its unit row, gate row (into the
    stacked 6n pre-activation / coefficient vector), source (into [x, y]), column in M and flat
    index into the concatenated weights. ``union`` (n, n): the union of the recurrent masks, the
    sparsity of G; ``g_rows``, ``g_cols`` its non-zeros, row-major."""
    n, n_in = model.n_hidden, model.n_in
    lay = InfluenceLayout(model, masked_only=True)
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
    entries = tuple(np.concatenate(a).astype(np.int64) for a in (rows, gate_rows, srcs, cols, flat))
    union = model.masks["R_u"] | model.masks["R_r"] | model.masks["R_z"]
    g_rows, g_cols = (a.astype(np.int64) for a in np.nonzero(union))
    bias_rows = np.tile(np.arange(n), len(BIASES))
    bias_cols = lay.start[BIASES[0]] + np.arange(len(BIASES) * n)
    n_input_entries = sum(lay.rows[name].size for name in INPUT_WEIGHTS)
    for a in (*entries, g_rows, g_cols, bias_rows, bias_cols, union):
        a.flags.writeable = False  # shared by every learner of the model
    return lay, entries, union, g_rows, g_cols, bias_rows, bias_cols, n_input_entries


def _choose_kernels(kernels: str | None, on_gpu: bool) -> str:
    """The influence-update implementation for ``kernels`` (None: the device's default)."""
    if kernels not in (None, "compiled", "generic", "fused"):
        raise ValueError(f"kernels must be 'compiled', 'generic' or 'fused', got {kernels!r}")
    if kernels is None:
        return "fused" if on_gpu else ("compiled" if compiled.AVAILABLE else "generic")
    if kernels == "compiled" and (on_gpu or not compiled.AVAILABLE):
        raise ValueError("kernels='compiled' runs on the CPU and needs numba (pip install '.[fast]')"
                         if not on_gpu else "kernels='compiled' runs on the CPU only; use 'fused' on the GPU")
    return kernels


def _jacobian_csr(diag: np.ndarray, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int):
    """CSR of diag(diag) + the off-diagonal entries (rows sorted ascending), one diagonal entry
    first in every row: a scipy matrix for numpy input, a cupyx one (int32 indices) for CuPy."""
    xp = array_module(diag)
    index_dtype = np.int64 if xp is np else np.int32
    units = xp.arange(n + 1)
    indptr = (xp.searchsorted(rows, units) + units).astype(index_dtype)  # entries of rows < i, plus i diagonals
    data = xp.empty(int(indptr[-1]), diag.dtype)
    indices = xp.empty(int(indptr[-1]), index_dtype)
    data[indptr[:-1]] = diag
    indices[indptr[:-1]] = xp.arange(n)
    rank = xp.arange(rows.size) - xp.searchsorted(rows, rows, side="left")
    pos = indptr[rows] + 1 + rank
    data[pos] = vals
    indices[pos] = cols
    if xp is np:
        return sp.csr_matrix((data, indices, indptr), shape=(n, n))
    import cupyx.scipy.sparse

    matrix = cupyx.scipy.sparse.csr_matrix((data, indices, indptr), shape=(n, n))
    matrix.sort_indices()  # the diagonal entry comes first in each row; cuSPARSE may want order
    return matrix


def _sum_by_index(index: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """(length,) float64 sums of ``weights`` by ``index`` (np.bincount; add.at on CuPy, where
    bincount cannot take an empty index)."""
    xp = array_module(weights)
    if xp is np:
        return np.bincount(index, weights=weights, minlength=length)
    out = xp.zeros(length, np.float64)
    xp.add.at(out, index, weights.astype(np.float64))
    return out
