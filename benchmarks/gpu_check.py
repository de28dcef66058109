"""GPU check of sparse RTRL (issues 6 and 21): agreement with numpy, device copy bandwidth, and the
step time of sparse RTRL (fused kernels, generic CuPy path) against the memory floor and against
dense RTRL on the same GPU.

Run on a machine with a CUDA GPU and CuPy (``pip install '.[gpu]'``; ``benchmarks/gpu_session.sh``
does the whole GPU session):

    python benchmarks/gpu_check.py                # ~3-6 min on an H200; writes benchmarks/RESULTS_GPU.md
    python benchmarks/gpu_check.py --sizes 256 --densities 0.05 --steps 20   # a quick look

Settings: EGRU n_in 16, n_out 10, its default activity (threshold mean, pseudo-derivative), float32
timings; n_hidden 256 / 512 / 1024 x weight density 0.05 / 0.1. Memory floor = 2 x bytes of the
influence matrix M (read once, written once per step) / measured device copy bandwidth (bytes
read + written per second). Exit status: 0 when every agreement check passes, 1 when one fails,
2 on a bad argument or without a usable GPU (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rtrl.backend import gpu_available  # noqa: E402

N_IN, N_OUT = 16, 10
SIZES = (256, 512, 1024)
DENSITIES = (0.05, 0.1)
#: Relative tolerance against numpy, by dtype (issue 21).
RTOL = {"float64": 1e-10, "float32": 1e-5}
#: Issue 21's targets.
TARGET_SIZE, TARGET_DENSITY, TARGET_MS, TARGET_FLOOR_RATIO = 1024, 0.05, 1.0, 2.0
TARGET_DENSE_SIZE, TARGET_DENSE_SPEEDUP = 512, 20.0


@dataclass(frozen=True)
class Check:
    """One agreement check: relative max error of a GPU result against numpy."""

    name: str
    relative_error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.relative_error <= self.tolerance


@dataclass(frozen=True)
class Timing:
    """One sparse configuration, float32. Times in ms per step (median, synchronised after each
    step); ``dense_ms`` is dense RTRL at the same n_hidden (nan where it did not fit)."""

    n_hidden: int
    density: float
    active_fraction: float  # (fired + pseudo-derivative support) / n_hidden, mean over timed steps
    m_mib: float
    floor_ms: float
    fused_ms: float
    fused_update_gpu_ms: float
    generic_ms: float
    dense_ms: float

    @property
    def floor_ratio(self) -> float:
        return self.fused_ms / self.floor_ms

    @property
    def dense_speedup(self) -> float:
        return self.dense_ms / self.fused_ms


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (the team's CLI rule)
        self.exit(2, f"gpu_check: error: {message}\n")


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 8:
        raise argparse.ArgumentTypeError(f"sizes must be integers >= 8, got {text!r}")
    return values


def _densities(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or not all(0.0 < v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"densities must lie in (0, 1], got {text!r}")
    return values


def _at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


def parse_args(argv=None) -> argparse.Namespace:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_ints, default=SIZES, help="n_hidden values (comma-separated)")
    parser.add_argument("--densities", type=_densities, default=DENSITIES, help="weight densities (comma-separated)")
    parser.add_argument("--steps", type=_at_least(1), default=60, help="timed steps per sparse configuration (count)")
    parser.add_argument("--warmup", type=_at_least(0), default=5, help="untimed steps first (count)")
    parser.add_argument("--agree-steps", type=_at_least(2), default=8,
                        help="steps compared with numpy at each timed configuration (count)")
    parser.add_argument("--dense-steps", type=_at_least(1), default=5,
                        help="timed dense-RTRL steps per n_hidden (count)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_GPU.md"),
                        help="Markdown file to write")
    args = parser.parse_args(argv)
    if not args.out.parent.is_dir():
        parser.error(f"--out: directory {args.out.parent} does not exist")
    return args


def default_activity() -> tuple[float, tuple[float, float]]:
    """EGRU's default threshold mean and pseudo-derivative (gamma, eps): what the timings use."""
    from rtrl import EGRU

    params = inspect.signature(EGRU).parameters
    return params["threshold_mean"].default, tuple(params["pseudo_derivative"].default)


def relative_error(a, b) -> float:
    from rtrl.backend import to_host

    a, b = to_host(a).astype(np.float64), to_host(b).astype(np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)) if b.size else 0.0


def grads_error(a: dict, b: dict) -> float:
    from rtrl.backend import to_host

    scale = max(float(np.abs(to_host(v)).max()) for v in b.values())
    return max(float(np.abs(to_host(a[k]).astype(np.float64) - to_host(b[k])).max()) for k in b) / max(scale, 1e-300)


def small_cases() -> list[Check]:
    """GPU (fused and generic) vs numpy on small models, both dtypes, the fused update every step
    and as the learner decides, three activity regimes: gradients, final M, recorded traces."""
    import rtrl.sparse_rtrl
    from accel_sim.trace.schema import ListRecorder
    from rtrl import EGRU, make_learner
    from rtrl.sparse_rtrl import SparseRTRL

    checks, decided = [], rtrl.sparse_rtrl.DENSE_BLOCK_MIN_DENSITY
    for dtype in ("float64", "float32"):
        for min_density, label in ((np.inf, "fused every step"), (decided, "as decided")):
            rtrl.sparse_rtrl.DENSE_BLOCK_MIN_DENSITY = min_density
            try:
                for n, density, thr, eps in ((64, 0.1, 0.3, 0.3), (200, 0.05, 0.3, 0.05), (32, 1.0, 0.0, 5.0)):
                    kw = dict(weight_density=density, threshold_mean=thr, pseudo_derivative=(0.5, eps), seed=n,
                              dtype=dtype)
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
                        name = f"{kernels} {dtype} n={n} density={density} ({label})"
                        checks.append(Check(f"{name}: gradients", grads_error(b.grads(), a.grads()), RTOL[dtype]))
                        checks.append(Check(f"{name}: influence matrix", relative_error(b.M, a.M), RTOL[dtype]))
                    fired_c, fired_g = ([s.fired.tolist() for s in r.steps] for r in (rec_c, rec_g))
                    same = float(rec_c.ops != rec_g.ops or fired_c != fired_g)
                    checks.append(Check(f"trace {dtype} n={n} density={density} ({label}): records identical", same,
                                        0.0))
            finally:
                rtrl.sparse_rtrl.DENSE_BLOCK_MIN_DENSITY = decided
    return checks


def timed_sizes_agree(sizes, densities, steps: int) -> list[Check]:
    """The fused GPU learner vs the numpy learner at each timed configuration (default activity),
    both dtypes, over ``steps`` steps with a loss every other step: gradients and final M."""
    from rtrl import EGRU, make_learner

    checks = []
    for n in sizes:
        for density in densities:
            for dtype in ("float64", "float32"):
                kw = dict(weight_density=density, seed=1, dtype=dtype)
                a, b = (make_learner(EGRU(N_IN, n, N_OUT, device=d, **kw), "sparse_rtrl") for d in ("cpu", "gpu"))
                rng = np.random.default_rng(n)
                for i, x in enumerate(rng.normal(0, 1, (steps, N_IN))):
                    target = int(i % N_OUT) if i % 2 else -1
                    a.step(x, target)
                    b.step(x, target)
                name = f"timed config {dtype} n={n} density={density}, {steps} steps"
                checks.append(Check(f"{name}: gradients", grads_error(b.grads(), a.grads()), RTOL[dtype]))
                checks.append(Check(f"{name}: influence matrix", relative_error(b.M, a.M), RTOL[dtype]))
                del a, b
                _free()
    return checks


def _free() -> None:
    import cupy

    cupy.get_default_memory_pool().free_all_blocks()


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
    _free()
    return 2 * nbytes / best


def time_learner(learner, xs, warmup: int) -> tuple[float, float]:
    """Median wall seconds per step (synchronised after each step) and mean (fired + support) / n."""
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


def dense_ms(n: int, steps: int) -> float:
    """Median ms per dense-RTRL step on the GPU at ``n`` (float32), nan if it does not fit."""
    import cupy

    from rtrl import EGRU, make_learner

    try:
        learner = make_learner(EGRU(N_IN, n, N_OUT, weight_density=TARGET_DENSITY, seed=0, device="gpu"), "dense_rtrl")
        xs = np.random.default_rng(0).normal(0, 1, (steps + 1, N_IN)).astype(np.float32)
        seconds, _ = time_learner(learner, xs, warmup=1)
        return seconds * 1e3
    except cupy.cuda.memory.OutOfMemoryError:
        return float("nan")
    finally:
        learner = None
        _free()


def timings(sizes, densities, bandwidth: float, steps: int, warmup: int, dense_steps: int) -> list[Timing]:
    import cupy

    from rtrl import EGRU
    from rtrl.sparse_rtrl import SparseRTRL

    rows = []
    for n in sizes:
        dense = dense_ms(n, dense_steps)
        for density in densities:
            model = EGRU(N_IN, n, N_OUT, weight_density=density, seed=0, device="gpu")
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
            del generic, model
            _free()
            floor = 2 * m_bytes / bandwidth
            row = Timing(n, density, act, m_bytes / 2**20, floor * 1e3, t_fused * 1e3, gpu_ms, t_generic * 1e3, dense)
            rows.append(row)
            print(f"n={n} density={density}: active {act:.3f}, M {row.m_mib:.0f} MiB, floor {row.floor_ms:.3f} ms, "
                  f"fused {row.fused_ms:.3f} ms (update on GPU {gpu_ms:.3f} ms), generic {row.generic_ms:.3f} ms, "
                  f"dense {dense:.3f} ms", flush=True)
    return rows


def _smi(query: str) -> str:
    try:
        run = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
        return run.stdout.strip().splitlines()[0] if run.returncode == 0 and run.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> str:
    """Device, compute capability, memory, driver, CUDA runtime / driver API, NVRTC, CuPy, numpy, Python."""
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
    nvrtc = ".".join(str(v) for v in cupy.cuda.nvrtc.getVersion())
    gib = props["totalGlobalMem"] / 2**30
    return (f"{name} (compute capability {props['major']}.{props['minor']}, {gib:.0f} GiB); "
            f"NVIDIA driver {_smi('driver_version')} (CUDA driver API {drv // 1000}.{drv % 1000 // 10}); "
            f"CUDA runtime {rt // 1000}.{rt % 1000 // 10}, NVRTC {nvrtc}; CuPy {cupy.__version__}; "
            f"numpy {np.__version__}; Python {platform.python_version()}")


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def targets(rows: list[Timing]) -> list[str]:
    """Issue 21's targets against the measured rows (a target without its row is 'not measured')."""
    out = []
    at = [r for r in rows if (r.n_hidden, r.density) == (TARGET_SIZE, TARGET_DENSITY)]
    if at:
        r = at[0]
        out.append(f"n_hidden {TARGET_SIZE}, density {TARGET_DENSITY}: fused step <= {TARGET_MS} ms: "
                   f"{_verdict(r.fused_ms <= TARGET_MS)} ({r.fused_ms:.3f} ms); <= {TARGET_FLOOR_RATIO}x the floor: "
                   f"{_verdict(r.floor_ratio <= TARGET_FLOOR_RATIO)} ({r.floor_ratio:.2f}x)")
    else:
        out.append(f"n_hidden {TARGET_SIZE}, density {TARGET_DENSITY}: not measured")
    dense = [r for r in rows if r.n_hidden == TARGET_DENSE_SIZE and np.isfinite(r.dense_ms)]
    if dense:
        worst = min(dense, key=lambda r: r.dense_speedup)
        out.append(f"n_hidden {TARGET_DENSE_SIZE}: sparse >= {TARGET_DENSE_SPEEDUP:.0f}x faster than dense RTRL: "
                   f"{_verdict(worst.dense_speedup >= TARGET_DENSE_SPEEDUP)} (lowest {worst.dense_speedup:.1f}x, "
                   f"density {worst.density})")
    else:
        out.append(f"n_hidden {TARGET_DENSE_SIZE}: sparse vs dense RTRL not measured")
    return out


def report(path: Path, device: str, checks: list[Check], bandwidth: float, rows: list[Timing], seconds: float,
           args: argparse.Namespace, pending: str = "") -> None:
    """Write the Markdown report atomically; ``pending`` names what has not run yet (a partial
    report, rewritten as the run goes on, so that a run stopped early leaves what it measured)."""
    thr, pseudo = default_activity()
    bad = [c for c in checks if not c.ok]
    lines = ["# GPU results (`benchmarks/gpu_check.py`)", ""]
    if pending:
        lines += [f"**Partial: the run had not yet done {pending}.**", ""]
    lines += [f"Device: {device}", "",
             f"Command: `python benchmarks/gpu_check.py --sizes {','.join(map(str, args.sizes))} "
             f"--densities {','.join(map(str, args.densities))} --steps {args.steps} --warmup {args.warmup} "
             f"--agree-steps {args.agree_steps} --dense-steps {args.dense_steps}`", "",
             "## Agreement with numpy (relative max error)", "",
             f"{len(checks) - len(bad)} of {len(checks)} checks pass (tolerance 1e-5 float32, 1e-10 float64).", "",
             "| check | relative error | tolerance | ok |", "|---|---|---|---|"]
    lines += [f"| {c.name} | {c.relative_error:.2e} | {c.tolerance:.0e} | {'yes' if c.ok else 'NO'} |" for c in checks]
    bw = f"{bandwidth / 1e9:.0f} GB/s" if np.isfinite(bandwidth) else "not measured"
    lines += ["", f"## Sparse RTRL step, float32 (device copy bandwidth {bw}, read + written)", "",
              f"n_in = {N_IN}, n_out = {N_OUT}, EGRU default activity: threshold mean {thr}, pseudo-derivative "
              f"(gamma, eps) = {pseudo}; Gaussian input, one loss every 8 steps; median wall time per step, "
              f"synchronised after each step ({args.steps} timed after {args.warmup} warm-up; generic: "
              f"{max(10, args.steps // 2)}; dense RTRL: {args.dense_steps} after 1, weight density {TARGET_DENSITY}, "
              "its cost does not depend on the density). Floor = 2 x bytes of M / copy bandwidth. "
              "'update on GPU' = CUDA-event span of the fused M update. Active = (fired + pseudo-derivative "
              "support) / n_hidden, mean over the timed steps.",
              "", "| n_hidden | weight density | active | M (MiB) | floor ms | fused ms/step | update on GPU ms "
              "| generic ms/step | dense ms/step | fused / floor | dense / fused | generic / fused |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.n_hidden} | {r.density} | {r.active_fraction:.3f} | {r.m_mib:.0f} | {r.floor_ms:.3f} | "
                     f"{r.fused_ms:.3f} | {r.fused_update_gpu_ms:.3f} | {r.generic_ms:.3f} | {r.dense_ms:.3f} | "
                     f"{r.floor_ratio:.2f} | {r.dense_speedup:.1f}x | {r.generic_ms / r.fused_ms:.1f}x |")
    lines += ["", "Targets (issue 21):", ""] + [f"* {t}" for t in targets(rows)]
    lines += ["", f"_Run took {seconds:.0f} s._", ""]
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    ok, reason = gpu_available()
    if not ok:
        print(f"gpu_check: no usable GPU, nothing measured: {reason}", file=sys.stderr)
        return 2
    # a time limit's SIGTERM: exit through the handler below, which writes the partial report
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    device = versions()
    print(device, flush=True)
    checks: list[Check] = []
    rows: list[Timing] = []
    bandwidth = float("nan")

    def write(pending: str = "") -> None:
        report(args.out, device, checks, bandwidth, rows, time.perf_counter() - t0, args, pending)

    pending = "anything"
    try:
        write(pending)
        checks += small_cases()
        print(f"small cases: {sum(c.ok for c in checks)}/{len(checks)} checks pass", flush=True)
        pending = "the timings and the agreement at the timed sizes"
        write(pending)
        bandwidth = copy_bandwidth()
        print(f"copy bandwidth {bandwidth / 1e9:.0f} GB/s", flush=True)
        for n in args.sizes:  # one n_hidden at a time, the report rewritten after each
            rows += timings((n,), args.densities, bandwidth, args.steps, args.warmup, args.dense_steps)
            write(pending)
        pending = "the agreement at the timed sizes"
        for i, n in enumerate(args.sizes):
            checks += timed_sizes_agree((n,), args.densities, args.agree_steps)
            rest = ", ".join(map(str, args.sizes[i + 1:]))
            pending = f"the agreement at n_hidden {rest}" if rest else ""
            write(pending)
    except BaseException as exc:  # leave what was measured, say where it stopped, then fail as usual
        write(f"{pending} (stopped by {type(exc).__name__}: {str(exc)[:200]})")
        raise
    bad = [c for c in checks if not c.ok]
    print(f"agreement: {len(checks) - len(bad)}/{len(checks)} checks pass", flush=True)
    print(f"wrote {args.out}")
    for line in targets(rows):
        print(f"target: {line}")
    for c in bad:
        print(f"FAILED: {c.name}: relative error {c.relative_error:.2e} > {c.tolerance:.0e}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
