"""Compiled CPU kernels (numba) for one sparse-RTRL step on numpy arrays.

Per step, in this order (``rtrl.kernels.cpu_step.CompiledStep`` drives them):

* ``forward``: the events of s_{t-1}, the event-based forward (only inputs and events that are
  non-zero), the gates of docs/model.md §1, the events of the new state, the readout (loss, dL/ds,
  readout gradients), the rows of G[:, A] (static CSR of G, active columns only) and the
  immediate influence Mbar_t row by row (kept weights whose source is non-zero, biases, threshold
  columns). It returns |A| and nnz(G[:, A]), from which the learner picks this sparse path or the
  dense block (BLAS) when G[:, A] is well filled;
* ``update``: one pass over the reached columns of M (``rtrl.reach``), in place, span by span
  (the old active rows of a span are copied first): M[i] <- diag_i M[i] + sum_k G[i, k] dy_k M_old[k] + Mbar_t[i], and with
  a target the contraction grad += dL/ds[A_t] M[A_t], in denormals-are-zero mode
  (``rtrl.kernels.denormals``: subnormal arithmetic is ~100x slower; values below the smallest
  normal number become zero, far below round-off). The C build of the same update
  (``influence.c``, ``rtrl.kernels.native``) runs instead where it was compiled;
* ``contract``: the contraction alone, after the dense-block path.

The work done is what the learner records for its sparse path: (n + nnz(G[:, A])) x P_r
multiply-accumulates for the product (P_r: the reached columns), one per scattered entry,
|A_t| x P_r for the contraction.
Scalar arithmetic runs in float64 and is stored in the model's dtype.

numba comes with the ``fast`` extra; without it ``AVAILABLE`` is False and the learner uses the
generic (scipy) path.
"""

from __future__ import annotations

import math

import numpy as np

from rtrl.kernels import denormals
from rtrl.kernels.denormals import numba

AVAILABLE = numba is not None

#: Columns per block of the influence update: the |A| old rows of a block (23 x 256 x 4 bytes at
#: n = 128 and 18 % activity) stay in the L1 cache while every row of the block is accumulated.
COLUMN_BLOCK = 256

#: Rows of the gates buffer ``gate_values`` (n each).
U, R, Z, HZ, S, D_U, D_R, D_Z, DIAG = range(9)
#: Rows of an events buffer (n each): as ``rtrl.cell.Events``.
EV_O, EV_DH, EV_Y, EV_C, EV_DY, EV_DC, EV_DY_THR, EV_DC_THR = range(8)

# The step's arrays travel packed, so that a call passes ~30 arguments instead of ~50 (the
# dispatcher's per-argument work is paid cold, after the pass over M has evicted the caches):
#: sections of the static int32 index array ``idx`` (offsets in ``idx_at``);
IX_SRC_PTR, IX_GRP, IX_ROW, IX_SRCL, IX_G_PTR, IX_G_IDX, IX_ROW_PTR, IX_ROW_COLS, IX_ROW_SRC = range(9)
#: sections of the int64 work array (offsets in ``work_i_at``);
WI_SLOT, WI_UNITS, WI_PTR, WI_SLOTS, WI_IMM_PTR, WI_IMM_COL, WI_CURSOR = range(7)
#: sections of the float work array (offsets in ``work_f_at``);
WF_RAW, WF_VALS, WF_IMM_VAL, WF_LOGITS = range(4)
#: row blocks of the (27, n) float array ``rows``: previous events, gates, new events, cw, dl_ds.
ROWS_PREV, ROWS_GATES, ROWS_NEW, ROWS_CW, ROWS_DL_DS, N_ROWS = 0, 8, 17, 25, 26, 27


def _jit(fn):
    """numba.njit with this module's options. Per-entry loops are written out in full: helper
    calls that pass arrays measured ~70 ns per entry here (reference counting), more than the
    entry's own work."""
    if numba is None:
        return fn
    # "contract" lets LLVM fuse multiply and add (FMA); no other fast-math licence, so that NaN
    # and inf propagate to the loss, where the divergence guard sees them.
    return numba.njit(cache=True, nogil=True, fastmath={"contract"}, boundscheck=False)(fn)


@_jit
def events(s, thr, gamma, eps, ev):
    """Events of state ``s`` (n,) into ``ev`` (8, n) (rows EV_*), as ``rtrl.cell.events``."""
    for i in range(s.shape[0]):
        si, th = float(s[i]), float(thr[i])
        o = 1.0 if si - th > 0 else 0.0
        dh = gamma * max(0.0, 1.0 - abs(si - th) / eps)
        ev[EV_O, i], ev[EV_DH, i], ev[EV_Y, i], ev[EV_C, i] = o, dh, o * si, si - o * th
        ev[EV_DY, i], ev[EV_DC, i] = o + si * dh, 1.0 - th * dh
        ev[EV_DY_THR, i], ev[EV_DC_THR, i] = -si * dh, -o + th * dh


@_jit
def _gates(pre, prev, b_u, b_r, b_z, b_rz, gv):
    """Gates of docs/model.md §1 from the pre-activations ``pre`` (6n: W x for u r z, then R y)."""
    n = b_u.shape[0]
    for i in range(n):
        c, dc = float(prev[EV_C, i]), float(prev[EV_DC, i])
        u = 0.5 * (1.0 + math.tanh(0.5 * (pre[i] + pre[3 * n + i] + b_u[i])))
        r = 0.5 * (1.0 + math.tanh(0.5 * (pre[n + i] + pre[4 * n + i] + b_r[i])))
        hz = pre[5 * n + i] + b_rz[i]
        z = math.tanh(pre[2 * n + i] + r * hz + b_z[i])
        d_z = (1.0 - u) * (1.0 - z * z)
        gv[U, i], gv[R, i], gv[Z, i], gv[HZ, i] = u, r, z, hz
        gv[S, i] = u * c + (1.0 - u) * z
        gv[D_U, i], gv[D_R, i], gv[D_Z, i] = (c - z) * u * (1.0 - u), d_z * hz * r * (1.0 - r), d_z
        gv[DIAG, i] = u * dc


@_jit
def _readout(ev, W_o, b_o, target, logits, dl_ds, thr_direct, dW_o, db_o):
    """Logits; with a target, the cross-entropy loss (returned, nats), dl_ds and the readout
    gradients (accumulated), as ``rtrl.readout.readout``."""
    n_out, n = W_o.shape
    for k in range(n_out):
        acc = float(b_o[k])
        for i in range(n):
            acc += W_o[k, i] * ev[EV_Y, i]
        logits[k] = acc
    if target < 0:
        return 0.0
    top = -np.inf
    for k in range(n_out):
        top = max(top, float(logits[k]))
    total = 0.0
    for k in range(n_out):
        total += math.exp(logits[k] - top)
    log_z = math.log(total)
    g = np.empty(n_out)
    for k in range(n_out):
        g[k] = math.exp(logits[k] - top - log_z) - (1.0 if k == target else 0.0)
        db_o[k] += g[k]
    for i in range(n):
        dl_dy = 0.0
        for k in range(n_out):
            dl_dy += W_o[k, i] * g[k]
            dW_o[k, i] += g[k] * ev[EV_Y, i]
        dl_ds[i] = dl_dy * ev[EV_DY, i]
        thr_direct[i] += dl_dy * ev[EV_DY_THR, i]
    return log_z - (logits[target] - top)


@_jit
def _restrict(g_ptr, g_idx, prev, gv, R_u, R_r, R_z, slot, units, ptr, slots, raw, vals):
    """G[:, A] for A = the active units of ``prev`` (fired or in the support): ``units`` (first |A|
    entries) lists A, ``slot[k]`` is k's position in it (-1 outside A); row i of G[:, A] is
    ``slots``, ``raw`` (G[i, k]) and ``vals`` (G[i, k] dy_k) over ``ptr[i]..ptr[i+1]``.
    Returns (|A|, nnz(G[:, A]))."""
    n = slot.shape[0]
    n_active = 0
    for k in range(n):
        slot[k] = -1
        if prev[EV_O, k] != 0 or prev[EV_DH, k] != 0:
            slot[k], units[n_active] = n_active, k
            n_active += 1
    nnz = 0
    for i in range(n):
        ptr[i] = nnz
        cu, cr, cz = float(gv[D_U, i]), float(gv[D_R, i]), float(gv[D_Z, i] * gv[R, i])
        for q in range(g_ptr[i], g_ptr[i + 1]):
            k = g_idx[q]
            if slot[k] >= 0:
                g = cu * R_u[i, k] + cr * R_r[i, k] + cz * R_z[i, k]
                slots[nnz] = slot[k]
                raw[nnz] = g
                vals[nnz] = g * prev[EV_DY, k]
                nnz += 1
    ptr[n] = nnz
    return n_active, nnz


@_jit
def _immediate(x, prev, gv, row_ptr, row_cols, row_src, bias0, thr0, units, ptr, slots, raw, imm_ptr, imm_col,
               imm_val):
    """The immediate influence Mbar_t, row by row with ascending columns: kept weights whose source
    (x or the previous events y) is non-zero (each group's weight columns of M listed row by row,
    ascending, in ``row_cols``, with their sources (into [x, y]) in ``row_src``; group g's entries
    of row i at ``row_ptr[g, i]..row_ptr[g, i + 1]``), the four biases, and the threshold
    columns (G[i, k] dy_thr[k] over G[:, A] from ``_restrict``, and u_i dc_thr[i] for active i)."""
    n, n_in = gv.shape[1], x.shape[0]
    m = 0
    for i in range(n):
        imm_ptr[i] = m
        for grp in range(6):  # ds_i/dw = coefficient(grp, i) * source
            if grp == 0 or grp == 3:
                coef = gv[D_U, i]
            elif grp == 1 or grp == 4:
                coef = gv[D_R, i]
            elif grp == 2:
                coef = gv[D_Z, i]
            else:
                coef = gv[D_Z, i] * gv[R, i]
            for e in range(row_ptr[grp, i], row_ptr[grp, i + 1]):
                col, j = row_cols[e], row_src[e]
                v = x[j] if j < n_in else prev[EV_Y, j - n_in]
                if v != 0:
                    imm_col[m], imm_val[m] = col, coef * v
                    m += 1
        bias = (gv[D_U, i], gv[D_R, i], gv[D_Z, i], gv[D_Z, i] * gv[R, i])
        for b in range(4):
            imm_col[m], imm_val[m] = bias0 + b * n + i, bias[b]
            m += 1
        diagonal = prev[EV_O, i] != 0 or prev[EV_DH, i] != 0
        for q in range(ptr[i], ptr[i + 1]):
            k = units[slots[q]]
            if diagonal and k > i:
                imm_col[m], imm_val[m] = thr0 + i, gv[U, i] * prev[EV_DC_THR, i]
                m += 1
                diagonal = False
            imm_col[m], imm_val[m] = thr0 + k, raw[q] * prev[EV_DY_THR, k]
            m += 1
        if diagonal:
            imm_col[m], imm_val[m] = thr0 + i, gv[U, i] * prev[EV_DC_THR, i]
            m += 1
    imm_ptr[n] = m


@_jit
def forward(s, x, W_u, W_r, W_z, R_u, R_r, R_z, b_u, b_r, b_z, b_rz, thr, W_o, b_o, thr_direct, dW_o, db_o,
            target, gamma, eps, bias0, thr0, idx, idx_at, work_i, work_i_at, rows, work_f, work_f_at):
    """The step up to the influence update, on packed arrays (sections above); see ``_forward``."""
    n = b_u.shape[0]
    sec = lambda a, at, k: a[at[k]:at[k + 1]]  # noqa: E731
    return _forward(
        s, x, rows[ROWS_PREV:ROWS_GATES], W_u, W_r, W_z, R_u, R_r, R_z, sec(idx, idx_at, IX_SRC_PTR),
        sec(idx, idx_at, IX_GRP), sec(idx, idx_at, IX_ROW), sec(idx, idx_at, IX_SRCL), b_u, b_r, b_z, b_rz, thr,
        gamma, eps, W_o, b_o, target, rows[ROWS_GATES:ROWS_NEW], rows[ROWS_NEW:ROWS_CW],
        sec(work_f, work_f_at, WF_LOGITS), rows[ROWS_DL_DS], thr_direct, dW_o, db_o, sec(idx, idx_at, IX_G_PTR),
        sec(idx, idx_at, IX_G_IDX), sec(work_i, work_i_at, WI_SLOT), sec(work_i, work_i_at, WI_UNITS),
        sec(work_i, work_i_at, WI_PTR), sec(work_i, work_i_at, WI_SLOTS), sec(work_f, work_f_at, WF_RAW),
        sec(work_f, work_f_at, WF_VALS), sec(idx, idx_at, IX_ROW_PTR).reshape((6, n + 1)),
        sec(idx, idx_at, IX_ROW_COLS), sec(idx, idx_at, IX_ROW_SRC), bias0, thr0, sec(work_i, work_i_at, WI_IMM_PTR),
        sec(work_i, work_i_at, WI_IMM_COL), sec(work_f, work_f_at, WF_IMM_VAL), rows[ROWS_CW])


@_jit
def _forward(s, x, prev, W_u, W_r, W_z, R_u, R_r, R_z, src_ptr, e_grp, e_row, e_srcl, b_u, b_r, b_z, b_rz, thr,
             gamma, eps, W_o, b_o, target, gv, ev, logits, dl_ds, thr_direct, dW_o, db_o,
             g_ptr, g_idx, slot, units, ptr, slots, raw, vals, row_ptr, row_cols, row_src, bias0, thr0,
             imm_ptr, imm_col, imm_val, cw):
    """The step up to the influence update.

    ``s``: the state s_{t-1}, whose events go to ``prev`` (8, n); ``W_*``, ``R_*``: the masked
    weights; kept entries listed by source j (into [x, y]) over ``src_ptr[j]..src_ptr[j+1]`` with
    their group (W_u W_r W_z R_u R_r R_z), unit row and source index within the group. Writes the gates ``gv`` (9, n), the new
    events ``ev`` (8, n), ``logits`` (n_out,), with a target ``dl_ds`` (n,) and the readout
    gradients (accumulated), G[:, A] (see ``_restrict``), the immediate influence per row (see
    ``_immediate``) and ``cw`` (n,): dL/ds_i on the active rows of the new state, 0 elsewhere.
    Returns (loss in nats, live input entries, live recurrent entries, |A|, nnz(G[:, A]), units of
    s_{t-1} that fired, units in its pseudo-derivative support, |A_t| of the new state); when ``x``
    holds NaN or inf, live input entries = -1 and nothing is written."""
    n, n_in = b_u.shape[0], x.shape[0]
    for j in range(n_in):
        if not math.isfinite(x[j]):
            return math.nan, -1, 0, 0, 0, 0, 0, 0
    events(s, thr, gamma, eps, prev)
    n_fired, n_support = 0, 0
    for i in range(n):
        n_fired += 1 if prev[EV_O, i] != 0 else 0
        n_support += 1 if prev[EV_DH, i] != 0 else 0
    pre = np.zeros(6 * n)
    live_in, live_rec = 0, 0
    for j in range(src_ptr.shape[0] - 1):  # event-based: only non-zero sources
        v = x[j] if j < n_in else prev[EV_Y, j - n_in]
        if v == 0:
            continue
        for e in range(src_ptr[j], src_ptr[j + 1]):
            grp, i, jj = e_grp[e], e_row[e], e_srcl[e]
            if grp == 0:
                w = W_u[i, jj]
            elif grp == 1:
                w = W_r[i, jj]
            elif grp == 2:
                w = W_z[i, jj]
            elif grp == 3:
                w = R_u[i, jj]
            elif grp == 4:
                w = R_r[i, jj]
            else:
                w = R_z[i, jj]
            pre[grp * n + i] += w * v
        if j < n_in:
            live_in += src_ptr[j + 1] - src_ptr[j]
        else:
            live_rec += src_ptr[j + 1] - src_ptr[j]
    _gates(pre, prev, b_u, b_r, b_z, b_rz, gv)
    events(gv[S], thr, gamma, eps, ev)
    loss = _readout(ev, W_o, b_o, target, logits, dl_ds, thr_direct, dW_o, db_o)
    n_active, nnz = _restrict(g_ptr, g_idx, prev, gv, R_u, R_r, R_z, slot, units, ptr, slots, raw, vals)
    _immediate(x, prev, gv, row_ptr, row_cols, row_src, bias0, thr0, units, ptr, slots, raw, imm_ptr, imm_col, imm_val)
    n_now = 0
    for i in range(n):
        now_active = ev[EV_O, i] != 0 or ev[EV_DH, i] != 0
        n_now += 1 if now_active else 0
        cw[i] = dl_ds[i] if target >= 0 and now_active else 0.0
    return loss, live_in, live_rec, n_active, nnz, n_fired, n_support, n_now


@_jit
def update(M, old, units, n_active, diag, ptr, slots, vals, span_start, span_width, n_spans, imm_ptr, imm_col,
           imm_val, cursor, grad, cw, with_grad):
    """In place, in one pass over the reached columns of M (``rtrl.reach``: spans
    ``span_start[s]``, ``span_width[s]`` for s < ``n_spans``, ascending, each at most ``old``'s
    width; the other columns are zero and stay zero) (the numba version of ``influence.c``): every
    row becomes M[i] = diag_i M[i] + sum_q vals[q] M_old[units[slots[q]]] + its immediate influence
    (``imm_*``, all in reached columns), and with ``with_grad`` grad += cw[i] M[i]. Per span, the
    old active rows are copied to ``old`` first; rows are accumulated in passes of up to four
    terms (the first also scales)."""
    word = denormals.begin()
    n = M.shape[0]
    tiny = np.finfo(M.dtype).tiny
    for i in range(n):
        cursor[i] = imm_ptr[i]
    for s in range(n_spans):
        c0, w = span_start[s], span_width[s]
        c1 = c0 + w
        for a in range(n_active):
            old[a, :w] = M[units[a], c0:c1]
        for i in range(n):
            o = M[i, c0:c1]
            d = diag[i]
            q, end = ptr[i], ptr[i + 1]
            if end - q >= 3:
                v0, v1, v2 = vals[q], vals[q + 1], vals[q + 2]
                r0, r1, r2 = old[slots[q], :w], old[slots[q + 1], :w], old[slots[q + 2], :w]
                for c in range(w):
                    o[c] = d * o[c] + v0 * r0[c] + v1 * r1[c] + v2 * r2[c]
                q += 3
            else:
                for c in range(w):
                    o[c] = d * o[c]
            while end - q >= 4:
                v0, v1, v2, v3 = vals[q], vals[q + 1], vals[q + 2], vals[q + 3]
                r0, r1, r2, r3 = old[slots[q], :w], old[slots[q + 1], :w], old[slots[q + 2], :w], old[slots[q + 3], :w]
                for c in range(w):
                    o[c] += v0 * r0[c] + v1 * r1[c] + v2 * r2[c] + v3 * r3[c]
                q += 4
            while q < end:
                v, r0 = vals[q], old[slots[q], :w]
                for c in range(w):
                    o[c] += v * r0[c]
                q += 1
            if not denormals.SUPPORTED:  # no denormals-are-zero mode: flush explicitly
                for c in range(w):
                    if abs(o[c]) < tiny:
                        o[c] = 0.0
            e = cursor[i]
            while e < imm_ptr[i + 1] and imm_col[e] < c1:
                o[imm_col[e] - c0] += imm_val[e]
                e += 1
            cursor[i] = e
            if with_grad and cw[i] != 0:
                g = cw[i]
                for c in range(w):
                    grad[c0 + c] += g * o[c]
    denormals.end(word)


@_jit
def contract(grad, M, ev, dl_ds, span_start, span_width, n_spans):
    """grad += dl_ds[i] M[i] over the active units of ``ev`` (8, n) (fired or in the support), on
    the reached columns (spans as in ``update``); returns the units' count."""
    count = 0
    for i in range(M.shape[0]):
        if ev[EV_O, i] != 0 or ev[EV_DH, i] != 0:
            count += 1
            w = dl_ds[i]
            m = M[i]
            for s in range(n_spans):
                for c in range(span_start[s], span_start[s] + span_width[s]):
                    grad[c] += w * m[c]
    return count


@_jit
def mark_reached(imm_col, n_imm, flags, segment):
    """flags[col // segment] = 1 for the first ``n_imm`` immediate-influence columns; returns
    whether a flag changed (``rtrl.reach``)."""
    changed = False
    for e in range(n_imm):
        k = imm_col[e] // segment
        if flags[k] == 0:
            flags[k] = 1
            changed = True
    return changed


@_jit
def reach_spans(flags, segment, n_columns, block, start, width):
    """Runs of set ``flags`` (one per ``segment`` columns) as spans of at most ``block`` columns,
    ascending, into ``start`` / ``width``; returns (spans, columns covered) (``rtrl.reach.spans``)."""
    k, covered, s = 0, 0, 0
    n = flags.shape[0]
    while s < n:
        if flags[s] == 0:
            s += 1
            continue
        e = s
        while e < n and flags[e] != 0:
            e += 1
        lo, hi = s * segment, min(e * segment, n_columns)
        covered += hi - lo
        while lo < hi:
            start[k], width[k] = lo, min(block, hi - lo)
            lo += width[k]
            k += 1
        s = e
    return k, covered


@_jit
def template_rows(base, coef, counts, step, out):
    """out = base + coef @ counts (F,), with column 0 (the step) set to ``step``: a step's op
    records as rows from their affine template (``SparseRTRL._row_template``)."""
    k, n_cols = base.shape
    for r in range(k):
        for c in range(n_cols):
            acc = base[r, c]
            for f in range(counts.shape[0]):
                acc += coef[r, c, f] * counts[f]
            out[r, c] = acc
        out[r, 0] = step
