"""Where sweep tasks run: in this process, in local worker processes, or on a Dask cluster.

All three expose the same calls, ``share(data) -> handle`` (a value many tasks take, e.g. a
trace's bytes: shipped once to a cluster, passed as is elsewhere), ``submit(fn, *args) -> future``
(``args`` may hold handles), ``wait_first(futures) -> finished futures`` and ``threads()`` (how
many tasks can run at once: the executor hands out tasks by it, :mod:`codesign.sweep.dispatch`),
so the executor loop is written once; ``transient`` names the failures a rerun may fix (a worker
died). Workers run single-threaded numerical code (``OMP_NUM_THREADS=1``) so N workers use N
cores and results do not depend on BLAS thread scheduling.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import math
import multiprocessing as mp
import os
import time
from typing import Any, Callable, Iterable

_SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: Failures of the machinery rather than of the point (a rerun may succeed): I/O, a lost connection,
#: a worker process that died (the pool breaks), a cancelled task.
TRANSIENT: tuple[type[BaseException], ...] = (OSError, TimeoutError, cf.CancelledError, cf.BrokenExecutor)


def _single_thread_env() -> None:
    for key, value in _SINGLE_THREAD.items():
        os.environ.setdefault(key, value)


class _Lazy(cf.Future):
    """A task the in-process backend runs when the executor waits for it."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        super().__init__()
        self._call = (fn, args)

    def run(self) -> None:
        fn, args = self._call
        try:
            self.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - delivered through .result() like a pool
            self.set_exception(exc)


class InlineBackend:
    """One worker: run tasks one at a time in this process, oldest first, each only when the
    executor waits (so each result is stored before the next task starts)."""

    description = "1 worker (in process)"
    transient = TRANSIENT

    def __init__(self) -> None:
        self._seq = 0

    def threads(self) -> int:
        return 1

    def share(self, data: Any) -> Any:
        return data

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        fut = _Lazy(fn, args)
        fut.order = self._seq  # type: ignore[attr-defined]
        self._seq += 1
        return fut

    def wait_first(self, futures: Iterable[Any]) -> set[Any]:
        futures = list(futures)
        done = {f for f in futures if f.done()}
        if done:
            return done
        first = min(futures, key=lambda f: f.order)
        first.run()
        return {first}

    def close(self) -> None:
        pass


class ProcessBackend:
    """``workers`` local processes: forked where the platform can (they start at once with the
    parent's modules already imported; the parent runs no threads), spawned elsewhere."""

    transient = TRANSIENT

    def __init__(self, workers: int) -> None:
        _single_thread_env()
        self.description = f"{workers} local worker processes"
        self._workers = workers
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        self._pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method))

    def threads(self) -> int:
        return self._workers

    def share(self, data: Any) -> Any:
        return data

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        return self._pool.submit(fn, *args)

    def wait_first(self, futures: Iterable[Any]) -> set[Any]:
        done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
        return set(done)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """A Dask cluster: ``local`` starts a LocalCluster on loopback with ``workers`` processes;
    ``tcp://HOST:PORT`` connects to a running scheduler. Tasks and their results travel by value
    (workers need the installed package only). Shared data is scattered to every worker under a
    content hash, so a worker that dies takes no trace with it while one worker holds a copy;
    a task whose worker died is rerun elsewhere by the scheduler (up to its allowed failures).
    ``threads()`` is the cluster's thread count as the client last heard it from the scheduler
    (it asks every ``THREADS_EVERY_S`` seconds while connected, so workers that join are used)."""

    THREADS_EVERY_S = 2.0

    def __init__(self, address: str, workers: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - the dask extra is optional
            raise ValueError("--dask needs the 'dask' extra: pip install -e '.[dask]'") from exc
        _quiet_dask_logs()
        from distributed import KilledWorker

        self.transient = (*TRANSIENT, KilledWorker)
        _single_thread_env()
        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
            self.description = f"Dask LocalCluster, {workers} worker processes on 127.0.0.1"
        elif address.startswith("tcp://"):
            try:
                self._client = Client(address, timeout="10s")
            except OSError as exc:
                raise ValueError(f"--dask {address}: cannot connect to the scheduler ({exc})") from None
            self.description = f"Dask scheduler at {address}"
        else:
            raise ValueError(f"--dask {address!r}: expected 'local' or tcp://HOST:PORT")
        self._threads, self._threads_at = 1, -math.inf

    def threads(self) -> int:
        now = time.monotonic()
        if now - self._threads_at >= self.THREADS_EVERY_S and self._client.status == "running":
            self._threads_at = now
            with contextlib.suppress(*TRANSIENT):  # keep the last count while the scheduler is unreachable
                self._threads = max(1, sum(self._client.nthreads().values()))
        return self._threads

    def _connected(self) -> None:
        """Refuse new work once the scheduler connection is lost (the tasks in flight come back
        cancelled): a task submitted then would wait for a reconnection that rarely comes."""
        if self._client.status != "running":
            raise ConnectionError(f"lost the connection to the Dask scheduler (client {self._client.status})")

    def share(self, data: Any) -> Any:
        self._connected()
        return self._client.scatter(data, hash=True, broadcast=True)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._connected()
        return self._client.submit(fn, *args, pure=False)

    def wait_first(self, futures: Iterable[Any]) -> set[Any]:
        from distributed import wait

        futures = list(futures)
        try:
            done, _ = wait(futures, return_when="FIRST_COMPLETED")
        except cf.CancelledError:  # e.g. the scheduler is gone: its .result() raises, as for a failure
            done = [f for f in futures if f.done() or f.cancelled()]
        return set(done)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _quiet_dask_logs() -> None:
    """Dask logs lost workers and connections with tracebacks on stderr; the sweep reports each
    failed point itself (one line each), so only critical log records pass."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def make_backend(workers: int, dask: str | None) -> InlineBackend | ProcessBackend | DaskBackend:
    if workers < 1:
        raise ValueError(f"--workers {workers}: need at least 1 worker")
    if dask:
        return DaskBackend(dask, workers)
    return InlineBackend() if workers == 1 else ProcessBackend(workers)
