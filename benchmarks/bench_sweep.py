"""Sweep executor scaling: a 40-point sweep on 1 worker, on 2 local worker processes
(``--workers 2``, target >= 1.6x faster) and on a real Dask cluster over TCP (target >= 1.5x).

The cluster is a ``dask scheduler`` and ``dask worker tcp://127.0.0.1:PORT --nworkers 2 --nthreads 1``
started by this script in an empty temporary working directory (so the workers can see none of the
client's files) and stopped at the end; it stays up across the runs, as a user's cluster would.
Runs the real pipeline (online training on digits, trace recording, L1 simulation) when the
simulator and the shipped hardware configs are present, else the synthetic evaluator with a fixed
CPU-time cost per point. Each run is a fresh `accel-sim sweep` process with OMP_NUM_THREADS=1, so
the 1-worker run cannot borrow a second core through BLAS threads.

    .venv/bin/python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(1, str(ROOT))
from _results import write_section  # noqa: E402

from tests.codesign.cluster_helpers import start_tcp_cluster  # noqa: E402

REPEATS = 2
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


def timed_sweep(spec: Path, out: Path, workers: int, dask: str | None = None) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "codesign", "sweep", str(spec), "--out", str(out), "--workers", str(workers),
           "--restart", "--no-progress"] + (["--dask", dask] if dask else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({proc.returncode}): {proc.stderr[-2000:]}{proc.stdout[-2000:]}")
    if "40 points" not in proc.stdout:
        raise SystemExit(f"expected a 40-point sweep, got: {proc.stdout}")
    return elapsed


def main() -> None:
    real = real_pipeline_available()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec, what = make_spec(folder, real)
        cluster = start_tcp_cluster(folder / "cluster-cwd", folder / "cluster.log", worker_commands=1, nworkers=2,
                                    nanny=True)
        try:
            times: dict[str, list[float]] = {"1": [], "2": [], "tcp": []}
            for _ in range(REPEATS):  # alternate, keep the best of each: other load on the machine only slows runs down
                times["1"].append(timed_sweep(spec, folder / "w1", 1))
                times["2"].append(timed_sweep(spec, folder / "w2", 2))
                times["tcp"].append(timed_sweep(spec, folder / "tcp", 1, dask=cluster.address))
            assert not any((folder / "cluster-cwd").iterdir()), "a worker wrote into its working directory"
        finally:
            cluster.stop()
    one, two, tcp = (min(times[k]) for k in ("1", "2", "tcp"))
    speedup, speedup_tcp = one / two, one / tcp
    verdict = "PASS" if speedup >= 1.6 else "FAIL"
    verdict_tcp = "PASS" if speedup_tcp >= 1.5 else "FAIL"
    runs = "; ".join(f"{name} {', '.join(f'{s:.1f}' for s in times[k])} s"
                     for name, k in (("1 worker", "1"), ("2 workers", "2"), ("TCP cluster", "tcp")))
    md = (
        "## Sweep executor: 40 points on 1 worker, 2 local workers and a 2-worker Dask cluster over TCP "
        "(`benchmarks/bench_sweep.py`)\n\n"
        f"Workload: {what}. Wall time of a fresh `accel-sim sweep --restart` process each, "
        f"OMP_NUM_THREADS=1; best of {REPEATS} alternating runs each (all: {runs}). "
        "The cluster: `dask scheduler` + `dask worker tcp://127.0.0.1:PORT --nworkers 2 --nthreads 1` started "
        "in an empty temporary folder, kept up across the runs; configs and traces travel to the workers by value, "
        "the client writes the store and traces.\n\n"
        "| backend | wall time [s] | points per second | speed-up vs 1 worker |\n|---|---|---|---|\n"
        f"| 1 worker (in process) | {one:.1f} | {40 / one:.2f} | 1.00x |\n"
        f"| `--workers 2` (local processes) | {two:.1f} | {40 / two:.2f} | {speedup:.2f}x |\n"
        f"| `--dask tcp://...`, 2 workers | {tcp:.1f} | {40 / tcp:.2f} | {speedup_tcp:.2f}x |\n\n"
        f"Speed-up with 2 local workers: **{speedup:.2f}x** (target >= 1.6x: {verdict}); "
        f"on the TCP cluster: **{speedup_tcp:.2f}x** (target >= 1.5x: {verdict_tcp})."
    )
    print(md)
    write_section("sweep", md)


if __name__ == "__main__":
    main()
