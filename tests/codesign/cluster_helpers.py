"""A real Dask cluster of separate processes on 127.0.0.1, started as a user would from the shell
(``dask scheduler``, ``dask worker tcp://HOST:PORT``) in a working directory of their own, so tests
and ``benchmarks/bench_sweep.py`` see what a sweep on a remote cluster sees: workers that share
neither the client's working directory nor its files.

Every process runs in its own process group; :meth:`TcpCluster.stop` kills the groups (also of
processes a test has killed already), so nothing is left behind even when a test fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TcpCluster:
    """A scheduler at ``address`` and worker processes, all with working directory ``cwd``;
    their output goes to ``log`` (outside ``cwd``)."""

    address: str
    cwd: Path
    log: Path
    procs: list[subprocess.Popen] = field(default_factory=list)  # [scheduler, worker command, ...]

    @property
    def workers(self) -> list[subprocess.Popen]:
        return self.procs[1:]

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL one process group (a ``dask worker`` command and the processes it started)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            self.kill(proc)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start_tcp_cluster(cwd: Path, log: Path, worker_commands: int = 2, nworkers: int = 1,
                      nanny: bool = False, timeout_s: float = 120.0) -> TcpCluster:
    """Start ``dask scheduler`` and ``worker_commands`` x ``dask worker --nworkers N`` (one
    thread each) in the empty folder ``cwd``; return once all workers joined the scheduler. On
    any failure the processes started so far are stopped."""
    from distributed import Client

    cwd.mkdir(parents=True, exist_ok=True)
    address = f"tcp://127.0.0.1:{free_port()}"
    cluster = TcpCluster(address, cwd, log)
    env = {**os.environ, **SINGLE_THREAD}
    out = open(log, "ab")  # noqa: SIM115 - closed below; the children keep their own descriptors
    try:
        commands = [[sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                     "--port", address.rsplit(":", 1)[1], "--no-dashboard"]]
        commands += [[sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                      "--nworkers", str(nworkers), "--no-dashboard", "--nanny" if nanny else "--no-nanny",
                      "--death-timeout", "60"]] * worker_commands
        for cmd in commands:
            cluster.procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                  stdin=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + timeout_s
        with Client(address, timeout=f"{timeout_s:.0f}s") as client:
            client.wait_for_workers(worker_commands * nworkers, timeout=max(1.0, deadline - time.monotonic()))
    except BaseException:
        cluster.stop()
        raise
    finally:
        out.close()
    return cluster
