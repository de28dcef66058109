"""The executor hands tasks out by the workers' thread count (codesign.sweep.dispatch): a model
point only to a free thread, longest first, a hardware point while at most one waits per thread,
so on Dask (which assigns a task to a worker when it is submitted) no model point waits behind
another task; a backend that lost its cluster fails the points not yet handed out as transient,
at once. Checked with a backend that records what was in flight at each submission."""

from __future__ import annotations

import concurrent.futures as cf

import pytest

from codesign.sweep import executor, expand, load_spec, run_sweep
from codesign.sweep.backends import TRANSIENT
from codesign.sweep.dispatch import LONG, SHORT, TaskQueue
from codesign.sweep.executor import estimated_cost
from tests.codesign.codesign_helpers import write_spec


class RecordingBackend:
    """Runs each task when it finishes it (oldest first, or newest with ``lifo``); records the
    tasks in flight at every submission. ``lose_after`` submissions later the cluster is gone."""

    description = "recording"
    transient = TRANSIENT

    def __init__(self, threads: int, lifo: bool = False, lose_after: int | None = None) -> None:
        self._threads, self.lifo, self.lose_after = threads, lifo, lose_after
        self.submitted: list[tuple[str, object, int]] = []  # (function name, first point arg, in flight before)
        self.in_flight: list[tuple[cf.Future, object, tuple]] = []

    def threads(self) -> int:
        return self._threads

    def share(self, data):
        return data

    def submit(self, fn, *args):
        if self.lose_after is not None and len(self.submitted) >= self.lose_after:
            raise ConnectionError("lost the connection to the scheduler")
        self.submitted.append((fn.__name__, args[1], len(self.in_flight)))
        fut = cf.Future()
        self.in_flight.append((fut, fn, args))
        return fut

    def wait_first(self, futures):
        fut, fn, args = self.in_flight.pop(-1 if self.lifo else 0)
        fut.set_result(fn(*args))
        return {fut}

    def close(self) -> None:
        pass


@pytest.fixture
def spec(tmp_path):
    return load_spec(write_spec(tmp_path))  # 12 model points x 4 hardware points


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("lifo", [False, True])
def test_model_points_go_to_free_threads_longest_first_and_hardware_points_queue_one_per_thread(
        tmp_path, spec, monkeypatch, threads, lifo):
    backend = RecordingBackend(threads, lifo=lifo)
    monkeypatch.setattr(executor, "make_backend", lambda workers, dask: backend)
    summary = run_sweep(spec, tmp_path / "out", progress=False)
    assert summary.failed == 0 and summary.computed == len(expand(spec)) == 48
    models = [(point, busy) for name, point, busy in backend.submitted if name == "model_task"]
    hardware = [busy for name, _, busy in backend.submitted if name == "hardware_task"]
    assert len(models) == 12 and len(hardware) == 48
    assert all(busy < threads for _, busy in models), "a model point was queued behind another task"
    assert all(busy < 2 * threads for busy in hardware)
    assert max(hardware) == 2 * threads - 1  # the queue is used, not just one task per thread
    costs = [estimated_cost(point) for point, _ in models]
    assert costs == sorted(costs, reverse=True)


def test_no_hardware_point_is_handed_out_before_a_waiting_model_point(tmp_path, spec, monkeypatch):
    backend = RecordingBackend(2)
    monkeypatch.setattr(executor, "make_backend", lambda workers, dask: backend)
    run_sweep(spec, tmp_path / "out", progress=False)
    names = [name for name, _, _ in backend.submitted]
    last_model = max(i for i, n in enumerate(names) if n == "model_task")
    assert "hardware_task" not in names[:last_model]


def test_a_lost_cluster_fails_the_points_not_handed_out_as_transient(tmp_path, spec, monkeypatch):
    backend = RecordingBackend(2, lose_after=20)
    monkeypatch.setattr(executor, "make_backend", lambda workers, dask: backend)
    summary = run_sweep(spec, tmp_path / "out", progress=False)
    assert summary.computed + summary.failed == len(expand(spec))
    assert summary.computed > 0 and summary.failed > 0
    assert {f.kind for f in summary.failures} == {"transient"}
    assert all("ConnectionError" in f.cause for f in summary.failures)
    # a rerun on a cluster that is up computes exactly the failed points
    monkeypatch.setattr(executor, "make_backend", lambda workers, dask: RecordingBackend(2))
    again = run_sweep(spec, tmp_path / "out", progress=False)
    assert again.already_done == summary.computed and again.computed == summary.failed


def test_queue_order_is_strict():
    class Threads1:
        transient = TRANSIENT
        def threads(self):
            return 1
        def submit(self, fn, *args):
            return object()

    queue = TaskQueue(Threads1())
    queue.push(SHORT, "hw", "h1", print)
    queue.push(LONG, "model", "m1", print)
    queue.push(LONG, "model", "m2", print)
    assert queue.dispatch() == []
    assert [j.what for j in queue.in_flight.values()] == ["m1"]  # a long job first, one per thread
    queue.dispatch()
    assert len(queue.in_flight) == 1  # m2 waits for a free thread, and h1 waits behind it
