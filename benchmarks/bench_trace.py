"""Trace recording overhead and read throughput -> benchmarks/RESULTS.md section "trace".

1. Recording overhead: sparse RTRL step time (n_hidden 128, weight density 0.1, n_in 16) with no
   recorder vs. streaming to a trace file (TraceWriter, lz4). Runs alternate, median of repeats.
   Target: <= 10 % extra.
2. File size per step of that recording. Target: no larger than rtrl-trace/1 (360 bytes per step
   at n_hidden 128 with lz4, measured with the last v1 code on this benchmark's run).
3. Read throughput: a ~1.4 M-op trace (a recorded sparse-RTRL chunk replicated) read back with
   TraceReader.chunks() including all integrity checks. Target: >= 1e6 op records / s.

Usage: .venv/bin/python benchmarks/bench_trace.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accel_sim.trace.io import TraceReader, TraceWriter  # noqa: E402
from accel_sim.trace.schema import ListRecorder, SetLayout, TraceChunk  # noqa: E402
from benchmarks._results import write_section  # noqa: E402
from codesign.tracing import trace_header  # noqa: E402
from rtrl import EGRU, make_learner  # noqa: E402

N_IN, N_HIDDEN, N_OUT, DENSITY = 16, 128, 4, 0.1
V1_BYTES_PER_STEP = 360  # rtrl-trace/1 on this benchmark's recording (lz4), the size target


def inputs(steps: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    xs = (rng.random((steps, N_IN)) < 0.3).astype(np.float32)
    targets = np.where(rng.random(steps) < 0.5, rng.integers(0, N_OUT, steps), -1)
    return xs, targets


def run_steps(model: EGRU, recorder, xs: np.ndarray, targets: np.ndarray) -> float:
    """Seconds per step for one pass over the sequence (learner built outside the timing)."""
    learner = make_learner(model, "sparse_rtrl", recorder=recorder)
    learner.step(xs[0], int(targets[0]))  # warm-up (scratch buffers)
    start = time.perf_counter()
    for x, target in zip(xs, targets):
        learner.step(x, int(target))
    return (time.perf_counter() - start) / len(xs)


class NullRecorder:
    """Receives records and drops them: isolates the learner-side cost of emitting records."""

    def begin_step(self, step, sets) -> None:
        pass

    def op(self, record) -> None:
        pass

    def op_rows(self, rows) -> None:
        pass

    def end_step(self) -> None:
        pass


def writer_seconds_per_step(tmp: Path, header, recorded: ListRecorder, repeats: int) -> float:
    """Time a TraceWriter spends per step (begin_step/op/end_step, chunk encoding, file write),
    measured by replaying recorded steps into it: low-noise, unlike the end-to-end difference."""
    by_step: dict[int, list] = {}
    for rec in recorded.ops:
        by_step.setdefault(rec.step, []).append(rec)
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        with TraceWriter(tmp / f"replay{r}.arrows", header) as writer:
            for s in recorded.steps:
                writer.begin_step(s.step, s.sets)
                for rec in by_step.get(s.step, ()):
                    writer.op(rec)
                writer.end_step()
        times.append((time.perf_counter() - start) / len(recorded.steps))
    return min(times)


def recording_overhead(tmp: Path, steps: int, repeats: int) -> dict:
    model = EGRU(N_IN, N_HIDDEN, N_OUT, weight_density=DENSITY, seed=0)
    xs, targets = inputs(steps)
    header = trace_header(model, "sparse_rtrl", config={"bench": "trace"})
    off, null, on = [], [], []
    n_ops = size = 0
    for r in range(repeats):
        off.append(run_steps(model, None, xs, targets))
        null.append(run_steps(model, NullRecorder(), xs, targets))
        path = tmp / f"rec{r}.arrows"
        with TraceWriter(path, header) as writer:
            on.append(run_steps(model, writer, xs, targets))
        n_ops, size = writer.n_ops, path.stat().st_size
    recorded = ListRecorder()
    run_steps(model, recorded, xs, targets)
    t_off, t_null, t_on = statistics.median(off), statistics.median(null), statistics.median(on)
    t_writer = writer_seconds_per_step(tmp, header, recorded, repeats)
    return {"step_off_s": t_off, "step_on_s": t_on, "overhead": t_on / t_off - 1.0,
            "emit_s": max(0.0, t_null - t_off), "writer_s": t_writer,
            "component_overhead": (max(0.0, t_null - t_off) + t_writer) / t_off,
            "ops_per_step": n_ops / (steps + 1), "bytes_per_op": size / n_ops, "bytes_per_step": size / (steps + 1)}


def big_trace(tmp: Path, target_ops: int) -> tuple[Path, int]:
    """Replicate one recorded 256-step chunk until ``target_ops`` op records are written."""
    model = EGRU(N_IN, N_HIDDEN, N_OUT, weight_density=DENSITY, seed=0)
    xs, targets = inputs(256)
    rec = ListRecorder()
    learner = make_learner(model, "sparse_rtrl", recorder=rec)
    for x, target in zip(xs, targets):
        learner.step(x, int(target))
    header = trace_header(model, "sparse_rtrl")
    base = TraceChunk.from_records(SetLayout.of(header), rec.steps, rec.ops)
    path = tmp / "big.arrows"
    written = 0
    with TraceWriter(path, header) as writer:
        k = 0
        while written < target_ops:
            shift = k * len(rec.steps)
            ops = dict(base.ops)
            ops["step"] = base.ops["step"] + shift
            writer.write_chunk(TraceChunk(base.layout, base.step_ids + shift, base.set_bits, ops))
            written += base.n_ops
            k += 1
    return path, written


def read_rate(path: Path, n_ops: int, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        seen = macs = 0
        for chunk in TraceReader(path).chunks():
            seen += chunk.n_ops
            macs += int(chunk.ops["macs"].sum())
        times.append(time.perf_counter() - start)
        assert seen == n_ops
    best = min(times)
    return {"read_s": best, "ops_per_s": n_ops / best, "bytes": path.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and ops (smoke run)")
    args = parser.parse_args()
    steps, repeats, target_ops = (60, 3, 200_000) if args.quick else (300, 11, 1_400_000)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        rec = recording_overhead(tmp, steps, repeats)
        path, n_ops = big_trace(tmp, target_ops)
        read = read_rate(path, n_ops, 3)
    ok_rec = "yes" if rec["overhead"] <= 0.10 else "NO"
    ok_parts = "yes" if rec["component_overhead"] <= 0.10 else "NO"
    ok_read = "yes" if read["ops_per_s"] >= 1e6 else "NO"
    ok_size = "yes" if rec["bytes_per_step"] <= V1_BYTES_PER_STEP else "NO"
    md = f"""## Operation traces (`benchmarks/bench_trace.py{' --quick' if args.quick else ''}`)

| measurement | value | target | met |
|---|---|---|---|
| sparse RTRL step, no recorder (n_hidden {N_HIDDEN}, density {DENSITY}, n_in {N_IN}) | {1e3 * rec['step_off_s']:.3f} ms/step | | |
| same, streaming to a trace file (lz4) | {1e3 * rec['step_on_s']:.3f} ms/step | | |
| recording overhead, end to end (median step time ratio - 1) | {100 * rec['overhead']:.1f} % | <= 10 % | {ok_rec} |
| learner-side emit cost (NullRecorder - none) | {1e6 * rec['emit_s']:.1f} µs/step | | |
| TraceWriter cost (replayed records, best of {repeats}) | {1e6 * rec['writer_s']:.1f} µs/step | | |
| recording overhead from the two parts above | {100 * rec['component_overhead']:.2f} % | <= 10 % | {ok_parts} |
| op records per step | {rec['ops_per_step']:.1f} | | |
| file size per op record (incl. the index sets) | {rec['bytes_per_op']:.1f} bytes | | |
| file size per step (rtrl-trace/2, lz4) | {rec['bytes_per_step']:.0f} bytes | <= {V1_BYTES_PER_STEP} bytes (v1) | {ok_size} |
| read throughput ({n_ops} op records, {read['bytes'] / 1e6:.1f} MB file, all checks) | {read['ops_per_s'] / 1e6:.2f} M op records/s | >= 1 M/s | {ok_read} |

Median of {repeats} alternating runs of {steps} steps each for the step times (the end-to-end
difference is within the noise of a shared 2-core machine, so the per-part costs are listed too);
best of 3 reads. Default compression lz4: zstd files are ~2x smaller but read ~2x slower.
"""
    print(md)
    write_section("trace", md)


if __name__ == "__main__":
    main()
