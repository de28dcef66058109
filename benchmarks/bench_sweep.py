"""Sweep executor scaling: a 40-point sweep on 1 worker, on 2 local worker processes
(``--workers 2``, target >= 1.6x faster) and on a real Dask cluster over TCP (target >= 1.5x).

The cluster is a ``dask scheduler`` and ``dask worker tcp://127.0.0.1:PORT --nworkers 2 --nthreads 1``
started by this script in an empty temporary working directory (so the workers can see none of the
client's files) and stopped at the end; it stays up across the runs, as a user's cluster would.
Runs the real pipeline (online training on digits, trace recording, L1 simulation) when the
simulator and the shipped hardware configs are present, else the synthetic evaluator with a fixed
CPU-time cost per point. Each run is a fresh `accel-sim sweep` process with OMP_NUM_THREADS=1, so
the 1-worker run cannot borrow a second core through BLAS threads.

The machine may be shared: each run also records the CPU seconds the rest of the machine used
meanwhile (all cores' busy time from /proc/stat less this benchmark's processes), and the TCP runs
the CPU seconds of the client, the scheduler, the ``dask worker`` process (its nannies) and the
workers, so the section says what the walls were measured under and where the cluster's time goes.

    .venv/bin/python benchmarks/bench_sweep.py [--no-write]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(1, str(ROOT))
from _results import write_section  # noqa: E402

from tests.codesign.cluster_helpers import start_tcp_cluster  # noqa: E402

REPEATS = 3
TICK = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in clock ticks
CONFIGS = ["sparse_skipping", "sparse_gating", "dense_baseline", "neuromorphic_mesh", "edge_tiny"]


def real_pipeline_available() -> bool:
    try:
        from accel_sim import simulate_file  # noqa: F401
    except (ImportError, AttributeError):
        return False
    return all((ROOT / "hw_configs" / f"{c}.yaml").exists() for c in CONFIGS)


def make_spec(folder: Path, real: bool) -> tuple[Path, str]:
    if real:
        spec = {
            "schema": "accel-sim/sweep/1", "name": "bench40",
            "model": {"task": ["digits"], "method": ["sparse_rtrl"], "n_hidden": [24, 32],
                      "weight_density": [0.1, 0.25]},
            "training": {"epochs": 1, "train_sequences": 1200, "test_sequences": 200, "trace_sequences": 8},
            "hardware": {"configs": [str(ROOT / "hw_configs" / f"{c}.yaml") for c in CONFIGS],
                         "fidelity": ["L1", "L0"]},
        }
        what = ("real pipeline: 4 model points (sparse RTRL on digits, n_hidden 24/32 x weight density 0.1/0.25, "
                "1200 training sequences, 8 traced) x 5 shipped configs x fidelity L1/L0")
    else:
        for c in CONFIGS:
            (folder / f"{c}.yaml").write_text("# placeholder\n")
        spec = {
            "schema": "accel-sim/sweep/1", "name": "bench40", "evaluator": {"kind": "synthetic", "work_ms": 150},
            "model": {"method": ["sparse_rtrl"], "n_hidden": [16, 24], "weight_density": [0.1, 0.25]},
            "hardware": {"configs": [f"{c}.yaml" for c in CONFIGS], "set": {"pe_array.rows": [8, 16]}},
        }
        what = "synthetic evaluator: 40 points of 150 ms CPU time each (simulator not available)"
    path = folder / "bench40.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path, what


def machine_busy_s() -> float:
    """CPU seconds all cores have been busy since boot (Linux /proc/stat; 0 elsewhere)."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(x) for x in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK  # less idle and iowait


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (Linux /proc; 0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def worker_processes(pid: int) -> list[int]:
    """The worker processes a ``dask worker`` command (pid) started: its children, less
    multiprocessing's resource tracker."""
    out = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    tracker = b"resource_tracker" in fh.read()
            except OSError:
                continue
            if parent == pid and not tracker:
                out.append(int(entry))
    return sorted(out)


def wait_for_quiet(max_wait_s: float = 120.0, cores: float = 0.3) -> None:
    """Wait (at most ``max_wait_s``) until the machine was busy less than ``cores`` cores over
    each of two consecutive seconds, so a run starts on an idle machine when one comes."""
    deadline, quiet = time.monotonic() + max_wait_s, 0
    while quiet < 2 and time.monotonic() < deadline:
        busy0 = machine_busy_s()
        time.sleep(1.0)
        quiet = quiet + 1 if machine_busy_s() - busy0 < cores else 0


@dataclass
class Run:
    """One timed sweep: wall seconds, CPU seconds of its own processes by role (the cluster's
    only when it ran on the cluster), of the idle cluster otherwise, and of the rest of the machine."""

    wall_s: float
    cpu_s: dict[str, float]
    idle_cluster_s: float
    others_s: float


def timed_sweep(spec: Path, out: Path, workers: int, dask: str | None = None,
                cluster_pids: dict[str, int] | None = None) -> Run:
    """Run the sweep; ``cluster_pids`` (role -> pid) are the cluster's processes, counted as the
    run's own when it runs on the cluster (``dask``) and as the idle cluster otherwise."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "codesign", "sweep", str(spec), "--out", str(out), "--workers", str(workers),
           "--restart", "--no-progress"] + (["--dask", dask] if dask else [])
    cluster_pids = cluster_pids or {}
    wait_for_quiet()
    before = {k: process_cpu_s(p) for k, p in cluster_pids.items()}
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, t0 = machine_busy_s(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed, busy = time.perf_counter() - t0, machine_busy_s() - busy0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({proc.returncode}): {proc.stderr[-2000:]}{proc.stdout[-2000:]}")
    if "40 points" not in proc.stdout:
        raise SystemExit(f"expected a 40-point sweep, got: {proc.stdout}")
    cpu = {"sweep process": kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime}
    cluster = {k: process_cpu_s(p) - before[k] for k, p in cluster_pids.items()}
    idle_cluster = 0.0 if dask else sum(cluster.values())
    if dask:
        cpu.update(cluster)
    return Run(elapsed, cpu, idle_cluster, max(0.0, busy - sum(cpu.values()) - idle_cluster))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = parser.parse_args()
    real = real_pipeline_available()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec, what = make_spec(folder, real)
        cluster = start_tcp_cluster(folder / "cluster-cwd", folder / "cluster.log", worker_commands=1, nworkers=2,
                                    nanny=True)
        try:
            scheduler, nannies = cluster.procs[0].pid, cluster.procs[1].pid
            pids = {"scheduler": scheduler, "dask worker (nannies)": nannies}
            pids.update({f"worker {i + 1}": pid for i, pid in enumerate(worker_processes(nannies))})
            runs: dict[str, list[Run]] = {"1": [], "2": [], "tcp": []}
            for _ in range(REPEATS):  # alternate, keep the best of each: other load on the machine only slows runs down
                runs["1"].append(timed_sweep(spec, folder / "w1", 1, cluster_pids=pids))
                runs["2"].append(timed_sweep(spec, folder / "w2", 2, cluster_pids=pids))
                runs["tcp"].append(timed_sweep(spec, folder / "tcp", 1, dask=cluster.address, cluster_pids=pids))
            assert not any((folder / "cluster-cwd").iterdir()), "a worker wrote into its working directory"
        finally:
            cluster.stop()
    load_after = os.getloadavg()
    best = {k: min(v, key=lambda r: r.wall_s) for k, v in runs.items()}
    one, two, tcp = (best[k].wall_s for k in ("1", "2", "tcp"))
    speedup, speedup_tcp = one / two, one / tcp
    verdict = "PASS" if speedup >= 1.6 else "FAIL"
    verdict_tcp = "PASS" if speedup_tcp >= 1.5 else "FAIL"
    runs_text = "; ".join(f"{name} {', '.join(f'{r.wall_s:.1f}' for r in runs[k])} s"
                          for name, k in (("1 worker", "1"), ("2 workers", "2"), ("TCP cluster", "tcp")))
    others = "; ".join(f"{name} {', '.join(f'{r.others_s:.1f}' for r in runs[k])}"
                       for name, k in (("1 worker", "1"), ("2 workers", "2"), ("TCP cluster", "tcp")))
    t = best["tcp"]
    cpu_total = {k: sum(r.cpu_s.values()) for k, r in best.items()}
    breakdown = ", ".join(f"{k} {v:.2f}" for k, v in t.cpu_s.items())
    overhead = t.cpu_s["sweep process"] + t.cpu_s["scheduler"] + t.cpu_s["dask worker (nannies)"]
    md = (
        "## Sweep executor: 40 points on 1 worker, 2 local workers and a 2-worker Dask cluster over TCP "
        "(`benchmarks/bench_sweep.py`)\n\n"
        f"Workload: {what}. Wall time of a fresh `accel-sim sweep --restart` process each, "
        "OMP_NUM_THREADS=1, each started once the machine had been idle for 2 s (or after 2 min); "
        f"best of {REPEATS} alternating runs each (all: {runs_text}). "
        "The cluster: `dask scheduler` + `dask worker tcp://127.0.0.1:PORT --nworkers 2 --nthreads 1` started "
        "in an empty temporary folder, kept up across the runs (its first run pays the workers' imports); "
        "configs and traces travel to the workers by value, the client writes the store and traces.\n\n"
        "| backend | wall time [s] | points per second | speed-up vs 1 worker |\n|---|---|---|---|\n"
        f"| 1 worker (in process) | {one:.1f} | {40 / one:.2f} | 1.00x |\n"
        f"| `--workers 2` (local processes) | {two:.1f} | {40 / two:.2f} | {speedup:.2f}x |\n"
        f"| `--dask tcp://...`, 2 workers | {tcp:.1f} | {40 / tcp:.2f} | {speedup_tcp:.2f}x |\n\n"
        f"Speed-up with 2 local workers: **{speedup:.2f}x** (target >= 1.6x: {verdict}); "
        f"on the TCP cluster: **{speedup_tcp:.2f}x** (target >= 1.5x: {verdict_tcp}).\n\n"
        f"Load: 1-minute load average {load_before[0]:.2f} before, {load_after[0]:.2f} after (this benchmark "
        f"included); CPU seconds other processes used during each run: {others} (the idle cluster "
        f"itself: {', '.join(f'{r.idle_cluster_s:.1f}' for r in runs['1'] + runs['2'])} during the local runs). "
        f"CPU seconds of each best run, all its processes: 1 worker {cpu_total['1']:.2f}, 2 workers "
        f"{cpu_total['2']:.2f}, TCP cluster {cpu_total['tcp']:.2f} ({breakdown}); the client, scheduler and nannies "
        f"together {overhead:.2f} CPU-s, {overhead / (2 * tcp):.0%} of the 2 cores over its wall time."
    )
    print(md)
    if not args.no_write:
        write_section("sweep", md)


if __name__ == "__main__":
    main()
