"""How a matmul's effectual work falls on the output's rows or columns, from the declared structure
and each step's index sets, and the busiest of ``units`` groups of them (the PEs a mapping spreads
the rows or columns over). Used for ops that skip zeros: their array time is the busiest PE's.

For Z = A @ B (m x k times k x n), with ``use_a`` / ``use_b`` saying whose zeros are skipped:

    rows:    w_i = [i in A's rows] * sum_k a_ik * b_k      a_ik: A non-zero (or in A's domain),
                                                           b_k: B's non-zeros (or domain) in row k
    columns: the rows of Z^T = B^T @ A^T, the roles swapped.

Groups: ``interleaved`` puts line i on unit i mod units, ``blocked`` lines [u * s, (u + 1) * s) on
unit u with s = ceil(L / units). Diagonal extras of an operand are not spread (they are few).
"""

from __future__ import annotations

import numpy as np

from accel_sim.trace.work import _Frame, _and, _cnt, _transposed

MAX_CELLS = 1 << 22  # line-work cells computed at once (memory bound of one chunk)


def line_work(model, fa: _Frame, fb: _Frame, steps: np.ndarray, expr, r: int, use_a: bool, use_b: bool):
    """(work, lines): ``work`` (r or 1, m) per output row, or (r or 1, 1) when every row of the
    op's extent carries the same work; ``lines`` (r,) rows of the extent."""
    rs, cs = expr(fa.rows, steps), expr(fa.cols, steps)
    rows_a = _and(rs, expr(fa.nz_rows, steps)) if use_a else rs
    cols_a = _and(cs, expr(fa.nz_cols, steps)) if use_a else cs
    fbt = fb.transposed()
    if use_b:
        bk = model._colnz(fbt, steps, expr, r)  # (r or 1, K): B's non-zeros in each row k
    else:
        n = _cnt(expr(fb.cols, steps), fb.shape[1], r)
        bk = np.broadcast_to(n[:, None], (r, fa.shape[1]))
    if cols_a is not None:
        bk = bk * cols_a.bool
    lines = _cnt(rs, fa.shape[0], r)
    pattern = fa.pattern if use_a else None
    if pattern is None and rows_a is rs:  # every row of the extent carries the same sum (compacted or not)
        return bk.sum(axis=1, dtype=np.float64)[:, None], lines
    if pattern is None:
        w = bk.sum(axis=1, dtype=np.float64)[:, None] * np.ones((1, fa.shape[0]))
    elif 3 * pattern.shape[0] * -(-pattern.shape[1] // 64) < pattern.nnz and bk.size and 0 <= bk.min() and bk.max() <= 1:
        # B's rows hold at most one non-zero and the pattern's bit words are fewer than its entries: count bits
        w = _masked_row_counts(fa.words(), np.asarray(bk) != 0)
    else:
        w = np.asarray((pattern @ np.asarray(bk, np.int64).T).T, np.int64)  # (r or 1, m)
    if rows_a is not None:
        w = w * rows_a.bool
    if rs is not None:  # rows outside the extent are not the op's lines: drop them
        w = _compact_rows(w, rs.bool)
    return w, lines


def _masked_row_counts(words: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(r, m) int64: for each row of the bool ``member`` (r, K), the entries of each pattern row
    among its members: popcounts of the AND with the pattern's bit words (``words``: (W, m) uint64,
    ``_Frame.words``)."""
    packed = np.packbits(member, axis=1, bitorder="little")
    pad = words.shape[0] * 8 - packed.shape[1]
    bits = np.ascontiguousarray(np.pad(packed, ((0, 0), (0, pad)))).view(np.uint64)  # (r, W)
    acc = np.uint8 if words.shape[0] <= 3 else np.int64  # at most 64 per word: uint8 holds three words' sum
    out = np.bitwise_count(bits[:, :1] & words[0][None, :]).astype(acc, copy=False)
    for j in range(1, words.shape[0]):
        out += np.bitwise_count(bits[:, j:j + 1] & words[j][None, :])
    return out


def _compact_rows(w: np.ndarray, member: np.ndarray) -> np.ndarray:
    """(r, m) work with each op row's members moved to the front (lines of the op's own extent)."""
    member = np.broadcast_to(member, (max(w.shape[0], member.shape[0]), member.shape[1]))
    w = np.broadcast_to(w, member.shape)
    order = np.argsort(~member, axis=1, kind="stable")
    return np.take_along_axis(w, order, axis=1) * np.take_along_axis(member, order, axis=1)


def busiest(work: np.ndarray, lines: np.ndarray, units: int, interleaved: bool) -> np.ndarray:
    """(r,) the largest load of ``units`` groups of each row's first ``lines`` lines."""
    r = lines.shape[0]
    if work.shape[1] == 1:  # uniform lines: the busiest group holds ceil(L / units) of them
        return np.broadcast_to(work[:, 0], (r,)) * -(-lines // units)
    work = np.broadcast_to(work, (r, work.shape[1]))
    rows = max(1, MAX_CELLS // max(work.shape[1], 1))
    out = np.zeros(r)
    width = work.shape[1]
    for start in range(0, r, rows):
        w = work[start:start + rows]
        if interleaved and units < width <= 2 * units:  # lines u and u + units share unit u: no group copy
            t = width - units
            pair = np.add(w[:, :t], w[:, units:], dtype=np.float64)  # (small integer counts: exact)
            out[start:start + rows] = np.maximum(pair.max(axis=1), w[:, t:units].max(axis=1) if t < units else 0)
        else:
            out[start:start + rows] = group_loads(w, lines[start:start + rows], units, interleaved).max(axis=1)
    return out


def group_loads(work: np.ndarray, lines: np.ndarray, units: int, interleaved: bool) -> np.ndarray:
    """(r, units or fewer) the load of each group: the work of the lines it holds (MACs). ``work``:
    (r or 1, width) per line (width 1: every one of a row's ``lines`` lines carries that work);
    with no more lines than units each line is its own group (interleaved and blocked agree)."""
    r = lines.shape[0]
    if work.shape[1] == 1:  # uniform lines: group u holds the lines it is dealt of the row's L
        per = np.arange(units)[None, :]
        if interleaved:
            count = np.maximum(-(-(lines[:, None] - per) // units), 0)
        else:
            size = np.maximum(-(-lines // units), 1)[:, None]
            count = np.clip(lines[:, None] - per * size, 0, size)
        return np.broadcast_to(work[:, :1], (r, 1)) * count
    w = np.broadcast_to(work, (r, work.shape[1]))
    width = w.shape[1]
    if width <= units:  # one line per unit at most
        return np.asarray(w, np.float64)
    if interleaved:
        full = width - width % units
        loads = w[:, :full].reshape(r, -1, units).sum(axis=1)
        loads[:, :width - full] += w[:, full:]
        return loads
    size = np.maximum(-(-lines // units), 1)  # blocks of ceil(L / units) of each row's own lines
    group = np.arange(width)[None, :] // size[:, None]
    loads = np.zeros((r, units + 1))
    np.add.at(loads, (np.repeat(np.arange(r), width), np.minimum(group, units).ravel()), w.ravel())
    return loads[:, :units]


def transposed_frames(fa: _Frame, fb: _Frame) -> tuple[_Frame, _Frame]:
    """(B^T, A^T): the frames whose row work is Z's column work."""
    return _transposed(fb), _transposed(fa)

