"""The non-zero patterns in force at each step of a trace whose masks were rewired.

A mask-change record (:class:`~accel_sim.trace.schema.MaskChange`, written after the step a
rewiring follows, inside a sequence or at its end) says that from step ``step`` on, the entries of pattern ``pattern`` at the flat
row-major positions ``removed`` are zero and those at ``added`` may be non-zero. Records take effect
in step order (records of one step in the order the trace holds them); every op of a step at or
after a record's step sees the pattern with that record applied.

* :func:`apply_change` — one record applied to a :class:`~accel_sim.trace.header.Pattern`, checked:
  a record that removes an entry the pattern does not hold, adds one it already holds, names a
  position outside the pattern, repeats a position or both removes and adds it raises
  :class:`~accel_sim.errors.MaskChangeError` naming the pattern and the step.
* :class:`MaskSchedule` — the records as the trace's chunks deliver them, and where a run of
  consecutive steps must be cut so that each segment is costed against one set of patterns
  (patterns change at a few steps only: the work model is rebuilt per segment, not per step).
* :func:`patterns_at` — the header's patterns with the records before a given step applied.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np

from accel_sim.errors import MaskChangeError
from accel_sim.trace.header import Pattern, TraceHeader
from accel_sim.trace.schema import MaskChange


def _shown(positions: np.ndarray) -> str:
    head = ", ".join(str(int(p)) for p in positions[:5])
    return head + (f", ... ({positions.size} in all)" if positions.size > 5 else "")


def apply_change(pattern: Pattern, change: MaskChange) -> Pattern:
    """``pattern`` (rows x cols) with ``change``'s removed flat positions (row * cols + col)
    dropped and its added ones joined. Raises :class:`MaskChangeError` for an impossible record."""
    rows, cols = pattern.shape
    size = rows * cols
    removed = np.asarray(change.removed, np.int64).reshape(-1)
    added = np.asarray(change.added, np.int64).reshape(-1)

    def fail(problem: str) -> MaskChangeError:
        return MaskChangeError(change.pattern, int(change.step), problem)

    for what, pos in (("removes", removed), ("adds", added)):
        outside = pos[(pos < 0) | (pos >= size)]
        if outside.size:
            raise fail(f"{what} flat positions outside its {rows} x {cols} entries ({_shown(outside)})")
        uniq, counts = np.unique(pos, return_counts=True)
        if np.any(counts > 1):
            raise fail(f"{what} flat positions more than once ({_shown(uniq[counts > 1])})")
    both = np.intersect1d(removed, added)
    if both.size:
        raise fail(f"both removes and adds flat positions ({_shown(both)})")
    held = pattern.row_of_entry() * cols + pattern.indices  # sorted: CSR rows in order, columns sorted
    absent = removed[~np.isin(removed, held, assume_unique=True)]
    if absent.size:
        raise fail(f"removes entries the pattern does not hold (flat positions {_shown(np.sort(absent))})")
    present = added[np.isin(added, held, assume_unique=True)]
    if present.size:
        raise fail(f"adds entries the pattern already holds (flat positions {_shown(np.sort(present))})")
    flat = np.union1d(np.setdiff1d(held, removed, assume_unique=True), added)
    indptr = np.zeros(rows + 1, np.int64)
    np.cumsum(np.bincount(flat // cols, minlength=rows), out=indptr[1:])
    return Pattern((rows, cols), indptr, (flat % cols).astype(np.int64))


def patterns_at(header: TraceHeader, changes: Iterable[MaskChange], step: int) -> TraceHeader:
    """``header`` with every record of ``changes`` whose step is at most ``step`` applied to its
    patterns (in step order): the structure in force at ``step``."""
    patterns = dict(header.patterns)
    for change in sorted((c for c in changes if c.step <= step), key=lambda c: c.step):
        patterns[change.pattern] = apply_change(patterns[change.pattern], change)
    return dataclasses.replace(header, patterns=patterns)


class MaskSchedule:
    """Mask-change records in the order they take effect, fed chunk by chunk (:meth:`add`).

    A record must not reach back: its step must come after every step of the chunks before the
    one holding it (the learner writes a rewiring's records with the chunk of the step before
    the new masks apply), else :class:`MaskChangeError`. :meth:`segments` then cuts a run of
    steps at the records' steps and hands out the records due before each segment."""

    def __init__(self) -> None:
        self.records: list[MaskChange] = []  # every record, in trace order (for their own cost)
        self._pending: list[MaskChange] = []  # not yet handed out, in step order
        self._last_step: int | None = None  # last step of the chunks added so far

    def add(self, step_ids: np.ndarray, changes: Iterable[MaskChange]) -> None:
        """The records of a chunk whose steps are ``step_ids`` (increasing)."""
        changes = list(changes)
        for change in changes:
            if self._last_step is not None and change.step <= self._last_step:
                raise MaskChangeError(change.pattern, int(change.step),
                                      f"recorded after step {self._last_step} (a record must precede the steps it "
                                      "changes)")
        self.records.extend(changes)
        if changes:
            self._pending = sorted(self._pending + changes, key=lambda c: c.step)  # stable: trace order per step
        if step_ids.size:
            self._last_step = int(step_ids[-1])

    def segments(self, step_ids: np.ndarray) -> Iterator[tuple[int, int, list[MaskChange]]]:
        """Cut the steps ``step_ids`` (increasing) where records take effect: yields ``(lo, hi,
        due)``, the index range of a segment and the records to apply before costing it. Records
        whose step lies after the last of ``step_ids`` stay pending."""
        lo, n = 0, int(step_ids.size)
        while lo < n:
            first = int(step_ids[lo])
            k = 0
            while k < len(self._pending) and self._pending[k].step <= first:
                k += 1
            due, self._pending = self._pending[:k], self._pending[k:]
            hi = n if not self._pending else int(np.searchsorted(step_ids, self._pending[0].step, side="left"))
            yield lo, max(hi, lo + 1), due
            lo = max(hi, lo + 1)

    def rest(self) -> list[MaskChange]:
        """The records no step came after (still pending at the end of the trace), handed out once."""
        rest, self._pending = self._pending, []
        return rest
