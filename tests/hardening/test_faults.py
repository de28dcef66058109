"""Faults: sweeps killed with SIGKILL at random points resume to a complete, duplicate-free store
equal to an uninterrupted run; a trace being written when its process dies is never left under
its final name and is refused as unfinished; a full disk (a real tiny tmpfs when mounting is
allowed, else simulated) or a read-only output folder gives one clear line, exit 2, and keeps
what was stored."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accel_sim.errors import TraceFormatError
from accel_sim.trace.io import read_trace
from codesign.store import ResultStore
from codesign.sweep import expand, load_spec, run_sweep
from tests.codesign.codesign_helpers import write_spec
from tests.hardening.helpers import FUZZ, ROOT, assert_bad_input, cli, files_under


def _point_keys(store: Path) -> list[str]:
    """Stored point keys; none while a sweep killed at its start left the file before its tables."""
    with contextlib.closing(sqlite3.connect(store, timeout=10)) as db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'points'").fetchone() is None:
            return []
        return [k for (k,) in db.execute("SELECT point_key FROM points")]


def _kill_after(cmd: list[str], delay_s: float) -> int:
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and all its workers, mid-whatever
        proc.wait(timeout=30)
    return proc.returncode


def _kill_loop(tmp_path: Path, kills: int, seed: int) -> None:
    spec_path = write_spec(tmp_path, name="killed", work_ms=25)
    spec = load_spec(spec_path)
    expected = {p.key for p in expand(spec)}
    reference = run_sweep(spec, tmp_path / "reference", workers=1, progress=False)
    with ResultStore(reference.store_path) as store:
        reference_rows = store.rows()
    out = tmp_path / "out"
    store = out / "results.sqlite"
    cmd = [sys.executable, "-m", "codesign", "sweep", str(spec_path), "--out", str(out), "--workers", "2",
           "--no-progress"]
    rng = random.Random(seed)
    kept: list[str] = []
    for _ in range(kills):
        _kill_after(cmd, rng.uniform(0.05, 2.5))
        if store.exists():
            keys = _point_keys(store)
            assert len(keys) == len(set(keys)), "a point was stored twice"
            assert set(kept) <= set(keys), "a stored point was lost by a later kill"
            assert set(keys) <= expected
            kept = keys
    assert run_sweep(spec, out, workers=2, progress=False).failed == 0
    keys = _point_keys(store)
    assert len(keys) == len(set(keys)) and set(keys) == expected
    with ResultStore(store) as final:
        assert final.rows() == reference_rows  # same numbers as a run never killed


def test_sweep_killed_at_random_points_resumes_complete_and_duplicate_free(tmp_path):
    _kill_loop(tmp_path, kills=3 if not FUZZ else 10, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_sweep_killed_many_times_resumes_complete_and_duplicate_free(tmp_path, seed):
    _kill_loop(tmp_path, kills=10, seed=seed)


# ------------------------------------------------------------------ traces of dying processes

def test_trace_of_a_killed_training_run_is_never_complete(tmp_path):
    trace = tmp_path / "run.arrows"
    partial = tmp_path / "run.arrows.partial"
    cmd = [sys.executable, "-m", "codesign", "train", "--task", "copy", "--task-option", "n_train=400",
           "--task-option", "n_test=2", "--hidden", "16", "--quiet", "--trace", str(trace)]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if partial.exists() and partial.stat().st_size > 20_000:  # some chunks are on disk
                break
            time.sleep(0.02)
        assert proc.poll() is None, "training finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not trace.exists()
    for path in (partial, trace):  # also when a user renames the partial file to the real name
        if path == trace:
            os.replace(partial, trace)
        with pytest.raises(TraceFormatError, match="truncated or unfinished"):
            read_trace(path)
        code, _, err = cli(["trace", "info", path])
        assert_bad_input(code, err, path, "unfinished")


# ------------------------------------------------------------------ full disk / read-only folder

@contextlib.contextmanager
def _tmpfs(where: Path, size: str, readonly: bool = False):
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextlib.contextmanager
def _readonly_folder(where: Path):
    """A folder this process cannot write: chmod for normal users, a read-only tmpfs for root."""
    if os.geteuid() != 0:
        where.mkdir(parents=True)
        where.chmod(0o555)
        try:
            yield where
        finally:
            where.chmod(0o755)
    else:
        with _tmpfs(where, "64k", readonly=True) as path:
            yield path


def _fill(folder: Path, leave_bytes: int) -> Path:
    """Fill a tmpfs until only about ``leave_bytes`` remain."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    filler = folder / "filler"
    filler.write_bytes(b"\0" * max(0, free - leave_bytes))
    return filler


def test_full_disk_during_a_sweep_exits_2_keeps_points_and_resumes(tmp_path):
    spec_path = write_spec(tmp_path, name="full")
    expected = {p.key for p in expand(load_spec(spec_path))}
    with _tmpfs(tmp_path / "fs", "2m") as fs:
        out = fs / "out"
        filler = _fill(fs, 450 * 1024)  # the store's write-ahead log outgrows this part-way through
        code, _, err = cli(["sweep", spec_path, "--out", out, "--no-progress"])
        assert_bad_input(code, err, out / "results.sqlite", "No space left", "kept")
        stored = set(_point_keys(out / "results.sqlite"))
        assert stored < expected
        filler.unlink()
        code, _, err = cli(["sweep", spec_path, "--out", out, "--no-progress"])
        assert code == 0, err
        keys = _point_keys(out / "results.sqlite")
        assert len(keys) == len(set(keys)) and set(keys) == expected and stored <= set(keys)


def test_simulated_full_disk_in_the_store_exits_2_and_keeps_points(tmp_path, monkeypatch):
    """Without mount rights: SQLite's own disk-full error injected after 5 stored points."""
    spec_path = write_spec(tmp_path, name="enospc")
    out = tmp_path / "out"
    real_put = ResultStore.put_point
    calls = {"n": 0}

    def put_point(self, *args, **kw):
        calls["n"] += 1
        if calls["n"] > 5:
            with self._transaction():
                raise sqlite3.OperationalError("database or disk is full")
        return real_put(self, *args, **kw)

    monkeypatch.setattr(ResultStore, "put_point", put_point)
    code, _, err = cli(["sweep", spec_path, "--out", out, "--no-progress"])
    assert_bad_input(code, err, out / "results.sqlite", "No space left", "kept")
    assert len(_point_keys(out / "results.sqlite")) == 5
    monkeypatch.setattr(ResultStore, "put_point", real_put)
    code, _, err = cli(["sweep", spec_path, "--out", out, "--no-progress"])
    assert code == 0 and len(set(_point_keys(out / "results.sqlite"))) == len(expand(load_spec(spec_path)))


def test_full_disk_while_writing_report_and_trace_leaves_no_valid_looking_file(tmp_path):
    spec_path = write_spec(tmp_path, name="rep")
    summary = run_sweep(load_spec(spec_path), tmp_path / "sweep", progress=False)
    with _tmpfs(tmp_path / "fs", "1m") as fs:
        _fill(fs, 8 * 1024)
        code, _, err = cli(["report", summary.store_path, "--out", fs / "report"])
        assert_bad_input(code, err, "No space left")
        left = files_under(fs)
        assert not any(name.endswith(("index.html", "report.md", "results.csv")) for name in left), left
        assert not any(".tmp-" in name for name in left), left
        code, _, err = cli(["train", "--task", "copy", "--task-option", "n_train=30", "--task-option", "n_test=2",
                            "--hidden", "8", "--quiet", "--trace", fs / "t.arrows"])
        assert_bad_input(code, err, "No space left")
        assert not (fs / "t.arrows").exists()


def test_simulated_full_disk_in_report_writes_leaves_no_output(tmp_path, monkeypatch):
    spec_path = write_spec(tmp_path, name="rep2")
    summary = run_sweep(load_spec(spec_path), tmp_path / "sweep", progress=False)
    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(f".tmp-{os.getpid()}"):  # an atomic report write
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "report"
    code, _, err = cli(["report", summary.store_path, "--out", out])
    assert_bad_input(code, err, "No space left")
    assert not [n for n in files_under(out) if n.endswith((".html", ".md", ".csv")) or ".tmp-" in n]


@pytest.mark.parametrize("command", ["sweep", "report", "train", "timeline"])
def test_read_only_output_folder_exits_2_naming_it(tmp_path, command):
    spec_path = write_spec(tmp_path, name="ro")
    store = run_sweep(load_spec(spec_path), tmp_path / "sweep", progress=False).store_path
    before = files_under(tmp_path / "sweep")
    with _readonly_folder(tmp_path / "ro") as ro:
        argv = {
            "sweep": ["sweep", spec_path, "--out", ro / "out", "--no-progress"],
            "report": ["report", store, "--out", ro / "rep"],
            "train": ["train", "--task", "copy", "--task-option", "n_train=3", "--task-option", "n_test=2",
                      "--hidden", "8", "--quiet", "--trace", ro / "t.arrows"],
            "timeline": ["timeline", ROOT / "traces" / "sparse_rtrl_h16.arrows", "--config",
                         ROOT / "hw_configs" / "edge_tiny.yaml", "--out", ro / "tl.json"],
        }[command]
        code, _, err = cli(argv)
        assert_bad_input(code, err, ro)
        assert files_under(ro) == {}
    assert files_under(tmp_path / "sweep") == before
