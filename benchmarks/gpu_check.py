"""GPU check of sparse RTRL (issue 6): correctness against numpy, device copy bandwidth, and the
sparse step time (fused kernels vs the generic CuPy path) against the memory floor.

Run on a machine with a CUDA GPU and CuPy (``pip install '.[gpu]'``):

    python benchmarks/gpu_check.py          # ~1-3 min; writes benchmarks/RESULTS_GPU.md

Exit status: 0 when every correctness check passes, 1 when one fails, 2 when no GPU is usable.
Memory floor = 2 x bytes of the influence matrix M (read once, written once per step) /
measured device copy bandwidth (bytes read + written per second).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rtrl.backend import gpu_available  # noqa: E402

N_IN, N_OUT = 16, 10
PSEUDO = (0.3, 0.05)  # the activity regime of benchmarks/bench_rtrl.py
THRESHOLD = 0.3
SIZES = (256, 512, 1024)
DENSITIES = (0.05, 0.1)
RTOL = {"float64": 1e-10, "float32": 1e-5}


@dataclass(frozen=True)
class Check:
    name: str
    relative_error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.relative_error <= self.tolerance


@dataclass(frozen=True)
class Timing:
    n_hidden: int
    density: float
    active_fraction: float
    m_mib: float
    floor_ms: float
    fused_ms: float
    fused_update_gpu_ms: float
    generic_ms: float


def correctness() -> list[Check]:
    """GPU (fused and generic) vs numpy: gradients, final M, and recorded traces."""
    import rtrl.sparse_rtrl
    from accel_sim.trace.schema import ListRecorder
    from rtrl import EGRU, make_learner
    from rtrl.backend import to_host
    from rtrl.sparse_rtrl import SparseRTRL

    checks = []
    for dtype in ("float64", "float32"):
        for min_density, label in ((np.inf, "fused every step"), (rtrl.sparse_rtrl.DENSE_BLOCK_MIN_DENSITY, "as decided")):
            saved = rtrl.sparse_rtrl.DENSE_BLOCK_MIN_DENSITY
            rtrl.sparse_rtrl.DENSE_BLOCK_MIN_DENSITY = min_density
            try:
                for n, density, thr, eps in ((64, 0.1, 0.3, 0.3), (200, 0.05, 0.3, 0.05), (32, 1.0, 0.0, 5.0)):
                    kw = dict(weight_density=density, threshold_mean=thr, pseudo_derivative=(0.5, eps), seed=n, dtype=dtype)
                    cpu, gpu = EGRU(N_IN, n, N_OUT, **kw), EGRU(N_IN, n, N_OUT, device="gpu", **kw)
                    rng = np.random.default_rng(n)
                    xs, targets = rng.normal(0, 1.5, (25, N_IN)), rng.integers(-1, N_OUT, 25)
                    rec_c, rec_g = ListRecorder(), ListRecorder()
                    a = make_learner(cpu, "sparse_rtrl", rec_c)
                    for kernels, recorder in (("fused", rec_g), ("generic", None)):
                        b = SparseRTRL(gpu, recorder=recorder, kernels=kernels)
                        for x, t in zip(xs, targets):
                            if kernels == "fused":
                                a.step(x, int(t))
                            b.step(x, int(t))
                        ga, gb = a.grads(), b.grads()
                        scale = max(float(np.abs(v).max()) for v in ga.values())
                        err = max(float(np.abs(to_host(gb[k]).astype(float) - ga[k]).max()) for k in ga) / scale
                        err_m = float(np.abs(to_host(b.M).astype(float) - a.M).max() / max(np.abs(a.M).max(), 1e-300))
                        name = f"{kernels} {dtype} n={n} density={density} ({label})"
                        checks.append(Check(f"{name}: gradients", err, RTOL[dtype]))
                        checks.append(Check(f"{name}: influence matrix", err_m, RTOL[dtype]))
                    same = float(rec_c.ops != rec_g.ops or [s.fired.tolist() for s in rec_c.steps] != [s.fired.tolist() for s in rec_g.steps])
                    checks.append(Check(f"trace {dtype} n={n} density={density} ({label}): records identical", same, 0.0))
            finally:
                rtrl.sparse_rtrl.DENSE_BLOCK_MIN_DENSITY = saved
    return checks


def copy_bandwidth(nbytes: int = 1 << 30) -> float:
    """Device copy bandwidth in bytes/s (read + written), best of 5 x 10 copies of ``nbytes``."""
    import cupy

    a = cupy.ones(nbytes // 4, np.float32)
    b = cupy.empty_like(a)
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    best = np.inf
    for _ in range(5):
        start.record()
        for _ in range(10):
            cupy.copyto(b, a)
        end.record()
        end.synchronize()
        best = min(best, cupy.cuda.get_elapsed_time(start, end) / 1e3 / 10)
    del a, b
    return 2 * nbytes / best


def time_learner(learner, xs, warmup: int) -> tuple[float, float]:
    """Median wall seconds per step (synchronised after each step) and mean |A| / n."""
    import cupy

    times, active = [], []
    for i, x in enumerate(xs):
        t0 = time.perf_counter()
        out = learner.step(x, 1 if i % 8 == 7 else -1)
        cupy.cuda.Device().synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            active.append(out.n_fired + out.n_support)
    return float(np.median(times)), float(np.mean(active)) / learner.model.n_hidden


def timed_update(fused, spans: list) -> None:
    """Wrap ``fused.update`` to record CUDA events around it (the M pass and its helpers)."""
    import cupy

    inner = fused.update

    def update(*args, **kwargs):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        inner(*args, **kwargs)
        end.record()
        spans.append((start, end))

    fused.update = update


def timings(bandwidth: float, steps: int, warmup: int) -> list[Timing]:
    import cupy

    from rtrl import EGRU
    from rtrl.sparse_rtrl import SparseRTRL

    rows = []
    for n in SIZES:
        for density in DENSITIES:
            model = EGRU(N_IN, n, N_OUT, weight_density=density, threshold_mean=THRESHOLD,
                         pseudo_derivative=PSEUDO, seed=0, device="gpu")
            xs = np.random.default_rng(0).normal(0, 1, (steps + warmup, N_IN)).astype(np.float32)
            fused = SparseRTRL(model, kernels="fused")
            spans: list = []
            timed_update(fused._fused, spans)
            t_fused, act = time_learner(fused, xs, warmup)
            spans = spans[-steps:]
            gpu_ms = float(np.median([cupy.cuda.get_elapsed_time(s, e) for s, e in spans])) if spans else float("nan")
            m_bytes = fused.M.nbytes
            del fused
            generic = SparseRTRL(model, kernels="generic")
            t_generic, _ = time_learner(generic, xs[: warmup + max(10, steps // 2)], warmup)
            del generic
            cupy.get_default_memory_pool().free_all_blocks()
            floor = 2 * m_bytes / bandwidth
            row = Timing(n, density, act, m_bytes / 2**20, floor * 1e3, t_fused * 1e3, gpu_ms, t_generic * 1e3)
            rows.append(row)
            print(f"n={n} density={density}: active {act:.3f}, M {row.m_mib:.0f} MiB, floor {row.floor_ms:.3f} ms, "
                  f"fused {row.fused_ms:.3f} ms (update on GPU {gpu_ms:.3f} ms), generic {row.generic_ms:.3f} ms",
                  flush=True)
    return rows


def versions() -> str:
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
    return (f"{name}, {props['totalGlobalMem'] / 2**30:.0f} GiB; CUDA runtime {rt // 1000}.{rt % 1000 // 10}, "
            f"driver {drv // 1000}.{drv % 1000 // 10}; CuPy {cupy.__version__}; numpy {np.__version__}; "
            f"Python {platform.python_version()}")


def report(path: Path, device: str, checks: list[Check], bandwidth: float, rows: list[Timing], seconds: float) -> None:
    lines = ["# GPU results (`benchmarks/gpu_check.py`)", "", f"Device: {device}", "",
             "## Correctness (GPU vs numpy, relative max error)", "",
             "| check | relative error | tolerance | ok |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {c.relative_error:.2e} | {c.tolerance:.0e} | {'yes' if c.ok else 'NO'} |" for c in checks]
    lines += ["", f"## Sparse RTRL step, float32 (device copy bandwidth {bandwidth / 1e9:.0f} GB/s)", "",
              f"n_in = {N_IN}, n_out = {N_OUT}, threshold mean {THRESHOLD}, pseudo-derivative (gamma, eps) = {PSEUDO}, "
              "Gaussian input, one loss every 8 steps; median wall time per step, synchronised. "
              "Floor = 2 x bytes of M / copy bandwidth. 'update on GPU' = CUDA-event span of the fused M update.",
              "", "| n_hidden | weight density | active fraction | M (MiB) | floor ms | fused ms/step | update on GPU ms "
              "| generic ms/step | fused / floor | generic / fused |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.n_hidden} | {r.density} | {r.active_fraction:.3f} | {r.m_mib:.0f} | {r.floor_ms:.3f} | "
                     f"{r.fused_ms:.3f} | {r.fused_update_gpu_ms:.3f} | {r.generic_ms:.3f} | "
                     f"{r.fused_ms / r.floor_ms:.2f} | {r.generic_ms / r.fused_ms:.1f}x |")
    lines += ["", "Targets (issue 6, n_hidden 1024, density 0.05): fused step <= 1 ms, <= 2x floor, >= 3x faster "
              "than generic.", "", f"_Run took {seconds:.0f} s._", ""]
    path.write_text("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed steps per configuration (count)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (count)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_GPU.md"), help="Markdown file to write")
    args = parser.parse_args(argv)
    ok, reason = gpu_available()
    if not ok:
        print(f"gpu_check: no usable GPU, nothing measured: {reason}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    device = versions()
    print(device, flush=True)
    checks = correctness()
    bad = [c for c in checks if not c.ok]
    print(f"correctness: {len(checks) - len(bad)}/{len(checks)} checks pass", flush=True)
    bandwidth = copy_bandwidth()
    print(f"copy bandwidth {bandwidth / 1e9:.0f} GB/s", flush=True)
    rows = timings(bandwidth, args.steps, args.warmup)
    report(args.out, device, checks, bandwidth, rows, time.perf_counter() - t0)
    print(f"wrote {args.out}")
    for c in bad:
        print(f"FAILED: {c.name}: relative error {c.relative_error:.2e} > {c.tolerance:.0e}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
