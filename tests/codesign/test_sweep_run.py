"""Executor and store: kill -9 then resume holds every point exactly once; Dask, processes and
in-process runs store identical rows; a store refuses another spec; CSV export is complete."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.store import ResultStore
from codesign.sweep import expand, load_spec, run_sweep
from tests.codesign.codesign_helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]


def _stored(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path, timeout=10) as db:
        return db.execute("SELECT point_key, finished_at FROM points").fetchall()


def test_kill_9_then_rerun_stores_every_point_exactly_once(tmp_path):
    spec_path = write_spec(tmp_path, work_ms=60)
    expected = {p.key for p in expand(load_spec(spec_path))}
    out = tmp_path / "out"
    store = out / "results.sqlite"
    cmd = [sys.executable, "-m", "codesign", "sweep", str(spec_path), "--out", str(out), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        n = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists():
                try:
                    n = len(_stored(store))
                except sqlite3.OperationalError:
                    n = 0
                if n >= 5:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its worker processes
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = dict(_stored(store))
    assert 5 <= len(before) < len(expected)

    summary = run_sweep(load_spec(spec_path), out, workers=2, progress=False)
    after = _stored(store)
    keys = [k for k, _ in after]
    assert len(keys) == len(set(keys)) == len(expected)
    assert set(keys) == expected
    assert summary.already_done == len(before)
    assert summary.computed == len(expected) - len(before)
    # rows written before the kill were kept, not recomputed
    assert all(dict(after)[k] == t for k, t in before.items())


def test_dask_local_and_worker_processes_give_identical_rows(tmp_path):
    pytest.importorskip("distributed", reason="the dask extra (dask, distributed) is not installed")
    spec_path = write_spec(tmp_path, model={"method": ["sparse_rtrl", "bptt"], "n_hidden": [16, 32]})
    spec = load_spec(spec_path)
    run_sweep(spec, tmp_path / "procs", workers=2, progress=False)
    run_sweep(spec, tmp_path / "dask", workers=2, dask="local", progress=False)
    run_sweep(spec, tmp_path / "inline", workers=1, progress=False)
    rows = [ResultStore(tmp_path / d / "results.sqlite").rows() for d in ("procs", "dask", "inline")]
    assert len(rows[0]) == len(expand(spec)) == 16
    assert rows[0] == rows[1] == rows[2]


def test_store_refuses_another_spec_unless_restart(tmp_path, capsys):
    spec_path = write_spec(tmp_path, model={"n_hidden": [16]})
    out = tmp_path / "out"
    assert main(["sweep", str(spec_path), "--out", str(out), "--no-progress"]) == 0
    other = write_spec(tmp_path, model={"n_hidden": [24]})
    assert main(["sweep", str(other), "--out", str(out), "--no-progress"]) == 2
    assert "different spec" in capsys.readouterr().err
    assert main(["sweep", str(other), "--out", str(out), "--no-progress", "--restart"]) == 0
    assert {r["n_hidden"] for r in ResultStore(out / "results.sqlite").rows()} == {24}


def test_rerun_of_a_finished_sweep_computes_nothing(tmp_path, capsys):
    spec_path = write_spec(tmp_path, model={"n_hidden": [16]})
    out = tmp_path / "out"
    assert main(["sweep", str(spec_path), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["sweep", str(spec_path), "--out", str(out), "--no-progress", "--csv", str(tmp_path / "r.csv")]) == 0
    text = capsys.readouterr().out
    assert "0 computed now" in text
    with open(tmp_path / "r.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(expand(load_spec(spec_path)))
    assert {"point_key", "energy_per_sample_pj", "latency_per_step_s", "test_accuracy"} <= set(rows[0])


def test_trace_is_recorded_once_per_model_point(tmp_path):
    spec_path = write_spec(tmp_path)
    spec = load_spec(spec_path)
    summary = run_sweep(spec, tmp_path / "out", workers=1, progress=False)
    n_models = len({p.model.key for p in expand(spec)})
    assert summary.models_trained == n_models
    assert len(list((tmp_path / "out" / "traces").iterdir())) == n_models
    rows = ResultStore(tmp_path / "out" / "results.sqlite").rows()
    by_model: dict[str, set] = {}
    for r in rows:  # every hardware point of a model saw the same model KPIs
        by_model.setdefault(r["model_key"], set()).add((r["test_accuracy"], r["learning_state_bytes"]))
    assert all(len(v) == 1 for v in by_model.values())


def test_store_rejects_a_file_that_is_not_a_store(tmp_path):
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="not a result store"):
        ResultStore(bad)


def test_put_point_is_idempotent(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert store.put_point("k1", 0, "m", {"a": 1})
        assert not store.put_point("k1", 0, "m", {"a": 2})
        assert store.rows() == [{"a": 1}]


def test_dask_scheduler_address_runs_on_an_existing_cluster(tmp_path):
    LocalCluster = pytest.importorskip("distributed", reason="the dask extra (dask, distributed) is not installed").LocalCluster

    spec = load_spec(write_spec(tmp_path, model={"method": ["sparse_rtrl"], "n_hidden": [16]}))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        summary = run_sweep(spec, tmp_path / "tcp", dask=cluster.scheduler_address, progress=False)
    run_sweep(spec, tmp_path / "inline", progress=False)
    assert summary.backend.startswith("Dask scheduler at tcp://127.0.0.1:")
    assert ResultStore(tmp_path / "tcp" / "results.sqlite").rows() == ResultStore(tmp_path / "inline" / "results.sqlite").rows()


def test_bad_dask_address_exits_2(tmp_path, capsys):
    spec_path = write_spec(tmp_path, model={"n_hidden": [16]})
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "o"), "--dask", "udp://x", "--no-progress"]) == 2
    try:
        import distributed  # noqa: F401
    except ImportError:  # without the dask extra, that is what the user must hear first
        assert "--dask needs the 'dask' extra" in capsys.readouterr().err
    else:
        assert "expected 'local' or tcp://HOST:PORT" in capsys.readouterr().err
