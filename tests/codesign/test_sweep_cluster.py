"""Sweeps on a real Dask cluster: a scheduler and worker processes started from the command line in
an empty working directory of their own, reached over TCP on 127.0.0.1. Workers get configs and
traces by value, so the rows equal those of local worker processes, the workers' folder stays
empty and the traces land beside the client's store. A worker, the whole cluster or the client
killed mid-sweep loses no stored point and repeats none; a point with bad input exits 2 naming it
and its cause instead of advising a rerun."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("distributed", reason="the dask extra (dask, distributed) is not installed")

from codesign.cli import main  # noqa: E402
from codesign.store import ResultStore  # noqa: E402
from codesign.sweep import expand, load_spec, run_sweep  # noqa: E402
from codesign.sweep.executor import trace_path_for  # noqa: E402
from tests.codesign.cluster_helpers import TcpCluster, start_tcp_cluster  # noqa: E402
from tests.codesign.codesign_helpers import write_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ["edge_tiny", "sparse_skipping"]
SMALL = {"method": ["sparse_rtrl", "bptt"], "n_hidden": [16, 32]}  # 4 model points x 4 hardware points


@contextlib.contextmanager
def _cluster(folder: Path):
    cluster = start_tcp_cluster(folder / "workers-cwd", folder / "cluster.log")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with _cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture
def fresh_cluster(tmp_path):
    """A cluster of its own, for a test that kills part of it."""
    with _cluster(tmp_path / "fresh") as c:
        yield c


def _point_keys(store: Path) -> list[tuple[str, float]]:
    with contextlib.closing(sqlite3.connect(store, timeout=10)) as db:
        return db.execute("SELECT point_key, finished_at FROM points").fetchall()


def _wait_for_rows(store: Path, n: int, alive, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(sqlite3.Error):
            if store.exists() and len(_point_keys(store)) >= n:
                return
        time.sleep(0.01)
    raise AssertionError(f"the sweep stored fewer than {n} points before it ended or timed out")


def _real_spec(folder: Path, **hardware) -> Path:
    """A tiny real-pipeline spec whose configs are copies beside it, named by relative paths: a
    worker that tried to read them would not find them in its own working directory."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in CONFIGS:
        (folder / f"{name}.yaml").write_bytes((ROOT / "hw_configs" / f"{name}.yaml").read_bytes())
    spec = {
        "schema": "accel-sim/sweep/1", "name": "tcp",
        "model": {"task": ["copy"], "method": ["sparse_rtrl", "bptt"], "n_hidden": [8], "weight_density": [0.5]},
        "training": {"epochs": 1, "train_sequences": 6, "test_sequences": 3, "trace_sequences": 1},
        "hardware": {"configs": [f"{name}.yaml" for name in CONFIGS], "fidelity": ["L0", "L1"], **hardware},
    }
    path = folder / "tcp.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_tcp_cluster_in_an_empty_folder_gives_the_rows_of_local_workers(tmp_path, cluster, monkeypatch):
    (tmp_path / "spec").mkdir()
    spec_path = write_spec(tmp_path / "spec", model=SMALL)
    monkeypatch.chdir(tmp_path)  # the client resolves the spec's relative config paths; workers never see them
    spec = load_spec(spec_path)
    tcp = run_sweep(spec, tmp_path / "tcp", dask=cluster.address, progress=False)
    local = run_sweep(spec, tmp_path / "local", workers=2, progress=False)
    assert tcp.failed == 0, tcp.errors
    assert tcp.backend == f"Dask scheduler at {cluster.address}"
    rows = ResultStore(tcp.store_path).rows()
    assert len(rows) == len(expand(spec)) == 16
    assert rows == ResultStore(local.store_path).rows()
    for key in {p.model.key for p in expand(spec)}:  # the client wrote each trace, beside its store
        assert trace_path_for(tmp_path / "tcp", key).read_bytes() == trace_path_for(tmp_path / "local", key).read_bytes()
    assert list(cluster.cwd.iterdir()) == []


@pytest.mark.skipif(not all((ROOT / "hw_configs" / f"{c}.yaml").exists() for c in CONFIGS),
                    reason="shipped hw configs missing")
def test_real_pipeline_on_a_tcp_cluster_equals_local_workers(tmp_path, cluster, monkeypatch):
    spec_path = _real_spec(tmp_path / "spec", set={"pe_array.rows": [4, 8]})
    monkeypatch.chdir(tmp_path)
    spec = load_spec(spec_path)
    tcp = run_sweep(spec, tmp_path / "tcp", dask=cluster.address, progress=False)
    local = run_sweep(spec, tmp_path / "local", workers=2, progress=False)
    assert tcp.failed == 0 and local.failed == 0, (tcp.errors, local.errors)
    rows = ResultStore(tcp.store_path).rows()
    assert len(rows) == 16 and rows == ResultStore(local.store_path).rows()
    assert {r["hw.pe_array.rows"] for r in rows} == {4, 8}
    assert len({r["cycles"] for r in rows if r["model_key"] == rows[0]["model_key"]}) > 1  # overrides took effect
    assert list(cluster.cwd.iterdir()) == []


@pytest.mark.skipif(not all((ROOT / "hw_configs" / f"{c}.yaml").exists() for c in CONFIGS),
                    reason="shipped hw configs missing")
def test_a_point_with_bad_input_exits_2_naming_it_not_advising_a_rerun(tmp_path, cluster, monkeypatch, capsys):
    # a clock of 1e-300 Hz validates but no simulation can give finite numbers on it
    spec_path = _real_spec(tmp_path / "spec", set={"clock_hz": [1e8, 1e-300]})
    monkeypatch.chdir(tmp_path)
    code = main(["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--dask", cluster.address, "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: 8 points cannot be computed from this input"), err
    assert "point 2 " in lines[0] and "edge_tiny[clock_hz=1e-300] L0" in lines[0] and "non-finite" in lines[0]
    assert "retry" not in err
    assert "accel-sim-sweep-" not in err + out  # no temporary path of a worker in the messages
    rows = ResultStore(tmp_path / "out" / "results.sqlite").rows()
    assert len(rows) == 8 and {r["hw.clock_hz"] for r in rows} == {1e8}  # the good points are stored


def _worker_pid_to_address(client) -> dict[int, str]:
    return {pid: addr for addr, pid in client.run(os.getpid).items()}


def _kill_mid_point(cluster: TcpCluster, victim: subprocess.Popen, address: str, client, alive,
                    timeout_s: float = 120.0) -> None:
    """SIGKILL ``victim`` right after it started a point, so the kill lands inside the point's
    work (120 ms of CPU time) rather than between points; no sleep races the work."""
    def started_points(dask_worker) -> list[float]:  # on the worker (a local function travels by value)
        return [ts.start_time for ts in dask_worker.state.executing if ts.start_time is not None]

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        started = client.run(started_points, workers=[address]).get(address, [])
        if started and time.time() - max(started) < 0.03:
            cluster.kill(victim)
            return
    raise AssertionError("the worker was never seen starting a point")


def _removal_events(client, address: str) -> list[dict]:
    """The scheduler's record of removing the worker at ``address`` (what it had in hand)."""
    return [e for _, e in client.get_events(address) if isinstance(e, dict) and e.get("action") == "remove-worker"]


def _sweep_process(spec_path: Path, out: Path, address: str, cwd: Path) -> subprocess.Popen:
    """``accel-sim sweep`` as its own process (one Dask client per process: the test's own
    clients must not share its event loop)."""
    cmd = [sys.executable, "-m", "codesign", "sweep", str(spec_path), "--out", str(out), "--dask", address,
           "--no-progress"]
    return subprocess.Popen(cmd, cwd=cwd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_killing_a_worker_mid_sweep_finishes_on_the_other_with_every_point_once(tmp_path, fresh_cluster):
    from distributed import Client

    spec_path = write_spec(tmp_path, work_ms=120, model=SMALL)
    spec = load_spec(spec_path)
    reference = run_sweep(spec, tmp_path / "reference", progress=False)
    victim = fresh_cluster.workers[0]
    out = tmp_path / "tcp"
    with Client(fresh_cluster.address, timeout="30s") as client:
        victim_address = _worker_pid_to_address(client)[victim.pid]
        sweep = _sweep_process(spec_path, out, fresh_cluster.address, tmp_path)
        try:
            _wait_for_rows(out / "results.sqlite", 3, lambda: sweep.poll() is None)
            _kill_mid_point(fresh_cluster, victim, victim_address, client, lambda: sweep.poll() is None)
            output, err = sweep.communicate(timeout=300)
        finally:
            _stop(sweep)
        removed = _removal_events(client, victim_address)
    assert len(removed) == 1 and removed[0]["processing-tasks"], f"the killed worker had no point in hand: {removed}"
    assert sweep.returncode == 0 and err == "", output + err
    assert f"{len(expand(spec))} computed now" in output and "0 failed" in output
    keys = [k for k, _ in _point_keys(out / "results.sqlite")]
    assert len(keys) == len(set(keys)) == len(expand(spec))
    assert ResultStore(out / "results.sqlite").rows() == ResultStore(reference.store_path).rows()
    assert victim.poll() is not None and fresh_cluster.workers[1].poll() is None


def test_cluster_or_client_killed_mid_sweep_resumes_without_losing_or_repeating_points(tmp_path):
    spec_path = write_spec(tmp_path, work_ms=120, model=SMALL)
    spec = load_spec(spec_path)
    expected = {p.key for p in expand(spec)}
    reference = run_sweep(spec, tmp_path / "reference", progress=False)
    out = tmp_path / "out"
    store = out / "results.sqlite"

    # 1. the whole cluster dies: the sweep ends, advising a rerun; whole rows only
    with _cluster(tmp_path / "c1") as first:
        sweep = _sweep_process(spec_path, out, first.address, tmp_path)
        try:
            _wait_for_rows(store, 3, lambda: sweep.poll() is None)
            first.stop()
            _, err = sweep.communicate(timeout=300)
        finally:
            _stop(sweep)
    assert sweep.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "failed on a transient problem" in lines[0] and "rerun to retry them" in lines[0], err
    after_cluster = dict(_point_keys(store))
    assert 3 <= len(after_cluster) < len(expected)

    with _cluster(tmp_path / "c2") as second:
        # 2. the client dies (kill -9) while the new cluster works for it
        client = _sweep_process(spec_path, out, second.address, tmp_path)
        try:
            _wait_for_rows(store, len(after_cluster) + 2, lambda: client.poll() is None)
        finally:
            _stop(client)  # kill -9
        after_client = dict(_point_keys(store))
        assert len(after_client) >= len(after_cluster) + 2

        # 3. rerun: every point once, the stored rows untouched, the same rows as an uninterrupted run
        summary = run_sweep(spec, out, dask=second.address, progress=False)
    assert summary.failed == 0, summary.errors
    assert summary.already_done == len(after_client)
    final = _point_keys(store)
    assert len(final) == len({k for k, _ in final}) == len(expected) and {k for k, _ in final} == expected
    assert all(dict(final)[k] == t for k, t in after_client.items())
    assert all(after_client[k] == t for k, t in after_cluster.items())
    assert ResultStore(store).rows() == ResultStore(reference.store_path).rows()
