"""Which columns of the influence matrix M (n x P) may be non-zero since the sequence start: the
fill-in that sparse RTRL's update skips.

At a sequence start M = 0. Column c of M receives its first non-zero only through the immediate
influence Mbar_t (the Jacobian product J_t M_{t-1} keeps a zero column zero), so a column that has
had no immediate-influence entry since the start is exactly zero: for a weight W[i, j] that means
its source (x_j, or the event y_j) has been zero at every step so far; for a threshold, that its
unit has not been in the active set. Every kernel path marks the columns its immediate influence
writes, before the update, and the update, the gradient contraction and the recorded ops cover
only the reached columns (exact: what is skipped is zero).

Flags are kept per segment of ``SEGMENT`` columns (the update's vector tiles; a segment is reached
when any of its columns is; once ``FULL_SWEEP`` of them are, all are). The sparse layout orders
weight columns by source
(``rtrl.layout``), so the unreached columns of a source that has not fired yet are contiguous
and the reached ones form a few long runs (``spans``, cut at the update's column block).
"""

from __future__ import annotations

import numpy as np

from rtrl.backend import to_host
from rtrl.kernels import compiled

#: Columns per reach flag (the C update's vector tile of float32 on AVX2).
SEGMENT = 32
#: Once this share of the columns is reached, all count as reached (still exact: the rest are zero,
#: and sweeping them costs less than the gaps between many spans).
FULL_SWEEP = 0.9


class Reach:
    """Reached segments of M's ``n_columns`` columns: ``flags`` (n_segments,) uint8 of the array
    module ``xp`` (1 = may be non-zero). ``block``: the longest span the kernels take (columns).
    With ``enabled`` False every column counts as reached (no skipping: for comparisons)."""

    def __init__(self, n_columns: int, xp=np, block: int = 256, enabled: bool = True) -> None:
        if block % SEGMENT:
            raise ValueError(f"block must be a multiple of {SEGMENT}, got {block}")
        self.n_columns, self.xp, self.block, self.enabled = int(n_columns), xp, int(block), bool(enabled)
        self.flags = xp.zeros(-(-self.n_columns // SEGMENT), np.uint8)
        n_max = len(self.flags) + self.n_columns // self.block + 1
        #: the kernels' spans: ``span_start[:n_spans]``, ``span_width[:n_spans]`` (host int64, columns)
        self.span_start, self.span_width = np.zeros(n_max, np.int64), np.zeros(n_max, np.int64)
        self.n_spans, self.n_reached = 0, 0
        self._columns = None  # cached reached columns (xp int64) / mask (host bool), until flags change
        self._mask = None

    def clear(self) -> None:
        """Nothing reached (M = 0)."""
        self.flags[:] = 0 if self.enabled else 1
        self.changed()

    def from_matrix(self, M) -> None:
        """Flags from the columns of ``M`` that hold a non-zero (after M was set from outside)."""
        xp = self.xp
        if not self.enabled:
            return self.clear()
        nz = xp.zeros(len(self.flags) * SEGMENT, bool)
        nz[:self.n_columns] = (M != 0).any(axis=0)
        self.flags[:] = nz.reshape(-1, SEGMENT).any(axis=1).astype(np.uint8)
        self.changed()

    def mark(self, columns) -> None:
        """Reach the segments of ``columns`` (xp int array: columns the immediate influence writes)."""
        seg = columns // SEGMENT
        if not bool(self.flags[seg].all()):
            self.flags[seg] = 1
            self.changed()

    def changed(self) -> None:
        """Recompute the spans after ``flags`` changed (callers that write flags directly)."""
        self._columns = self._mask = None
        self.n_spans, self.n_reached = spans(to_host(self.flags), self.n_columns, self.block,
                                             self.span_start, self.span_width)
        if 0 < self.n_reached < self.n_columns and self.n_reached >= FULL_SWEEP * self.n_columns:
            self.flags[:] = 1  # nearly all reached: one sweep over everything is cheaper than the gaps
            self.changed()

    def everything(self) -> bool:
        return self.n_reached == self.n_columns

    def columns(self):
        """(n_reached,) int64 reached columns, ascending (array module ``xp``)."""
        if self._columns is None:
            cols = np.flatnonzero(self.mask())
            self._columns = cols if self.xp is np else self.xp.asarray(cols)
        return self._columns

    def mask(self) -> np.ndarray:
        """(n_columns,) host bool: the reached columns (the trace's ``reached`` set)."""
        if self._mask is None:
            self._mask = np.repeat(to_host(self.flags).astype(bool), SEGMENT)[:self.n_columns]
            self._mask.flags.writeable = False  # replaced, never changed: recorders may pack it once
        return self._mask


def spans(flags: np.ndarray, n_columns: int, block: int, start: np.ndarray, width: np.ndarray) -> tuple[int, int]:
    """Runs of reached segments (``flags`` (n_segments,)) as column spans of at most ``block``
    columns, ascending, into ``start`` / ``width``; returns (spans, reached columns)
    (``rtrl.kernels.compiled.reach_spans``: compiled with numba, plain Python without)."""
    return tuple(int(v) for v in compiled.reach_spans(flags, SEGMENT, n_columns, block, start, width))
