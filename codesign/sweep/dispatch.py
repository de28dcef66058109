"""The executor's queue of tasks not yet handed to a backend, and the rule for handing them out.

The executor, not the backend, decides which task runs next: tasks wait here in priority order
(model points, longest first, before hardware points) and go to the backend only while a worker
thread can take them:

* a *long* task (a model point, seconds) only while fewer tasks are in flight than the backend
  has worker threads, so it starts at once on a free thread and never waits behind another task
  on a worker that is still busy (Dask assigns a task to a worker when it is submitted, all
  model tasks look alike to its scheduler, and its work stealing moves a queued task only after
  the other worker has idled);
* a *short* task (a hardware point, tens of ms) while fewer than twice that many are in flight:
  each thread has its next short task at hand when one ends, without a round trip to this
  process in between.

The order is strict: nothing is handed out past a task that has to wait. Times are not used.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

LONG, SHORT = 0, 1  # job classes, in priority order


@dataclass(order=True)
class Job:
    """One task: ``fn(*args)`` on a worker. ``kind`` and ``what`` say what it computes
    (``"model"`` and a model key, or ``"hw"`` and a SweepPoint)."""

    rank: tuple[int, int]
    kind: str = field(compare=False)
    what: Any = field(compare=False)
    fn: Callable[..., Any] = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)

    @property
    def long(self) -> bool:
        return self.rank[0] == LONG


class TaskQueue:
    """Jobs waiting for a thread (a heap) and jobs in flight (backend future -> job)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._waiting: list[Job] = []
        self._seq = itertools.count()
        self.in_flight: dict[Any, Job] = {}

    def __bool__(self) -> bool:
        return bool(self._waiting or self.in_flight)

    def push(self, klass: int, kind: str, what: Any, fn: Callable[..., Any], *args: Any) -> None:
        heapq.heappush(self._waiting, Job((klass, next(self._seq)), kind, what, fn, args))

    def dispatch(self) -> list[tuple[Job, BaseException]]:
        """Hand jobs to the backend while the rule allows; returns the jobs whose submission
        failed (e.g. the cluster is gone), with the exception."""
        failed: list[tuple[Job, BaseException]] = []
        threads = max(1, self.backend.threads())
        while self._waiting:
            job = self._waiting[0]
            if len(self.in_flight) >= (threads if job.long else 2 * threads):
                break
            heapq.heappop(self._waiting)
            try:
                self.in_flight[self.backend.submit(job.fn, *job.args)] = job
            except self.backend.transient as exc:
                failed.append((job, exc))
        return failed

    def finished(self) -> list[tuple[Job, Any]]:
        """Wait until at least one job in flight finished; returns (job, future) pairs."""
        done = self.backend.wait_first(self.in_flight)
        return [(self.in_flight.pop(f), f) for f in done]
