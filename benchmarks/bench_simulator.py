"""Simulator speed: L1 on a 10,000-step sparse-RTRL trace (n_hidden 128, weight density 0.1),
L0 on the same trace, and L2 on a short window. Writes its section of benchmarks/RESULTS.md.

Every fidelity first derives each op's demand from the trace (``accel_sim.engine.demand``: work,
accesses, spread over the PEs, bank conflicts, energies); L0 then adds closed forms per step, L1 /
L2 schedule discrete events. The costing alone is timed too: it bounds L0's speed-up over L1.

The trace: 200 steps recorded from the real sparse-RTRL learner, repeated (step numbers shifted)
to 10,000 steps, held in memory (trace-file reading is benchmarked by the trace engineer)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel_sim import load_config, simulate  # noqa: E402
from accel_sim.result import SimResult  # noqa: E402
from accel_sim.trace.schema import ListRecorder, SetLayout, TraceChunk, TraceHeader  # noqa: E402
from benchmarks._results import write_section  # noqa: E402

N_HIDDEN, DENSITY, N_IN, N_OUT, RECORDED, STEPS = 128, 0.1, 16, 10, 200, 10_000


def recorded_trace() -> tuple[TraceHeader, list[TraceChunk]]:
    from rtrl import EGRU, make_learner

    model = EGRU(N_IN, N_HIDDEN, N_OUT, weight_density=DENSITY, seed=0, dtype=np.float32)
    rec = ListRecorder()
    learner = make_learner(model, "sparse_rtrl", recorder=rec)
    learner.reset()
    rng = np.random.default_rng(0)
    for t in range(RECORDED):
        learner.step(rng.normal(size=N_IN).astype(np.float32), int(rng.integers(N_OUT)) if t % 10 == 9 else -1)
    from codesign.tracing import trace_header

    header = trace_header(model, "sparse_rtrl")
    layout = SetLayout.of(header)
    base = TraceChunk.from_records(layout, rec.steps, rec.ops)
    chunks = []
    for rep in range(STEPS // RECORDED):
        shift = rep * RECORDED
        ops = dict(base.ops)
        ops["step"] = base.ops["step"] + shift
        for i in range(0, RECORDED, 50):  # chunks of 50 steps, as a reader would yield
            keep = (ops["step"] >= shift + i) & (ops["step"] < shift + i + 50)
            chunks.append(TraceChunk(layout, base.step_ids[i:i + 50] + shift, base.set_bits[i:i + 50],
                                     {k: v[keep] for k, v in ops.items()}))
    return header, chunks


ROUNDS, L0_REPEAT = 3, 5
CONFIGS = ("sparse_skipping", "edge_tiny")


@dataclass
class Row:
    """One config's measurements: wall seconds per 10,000-step replay (medians over the rounds) and
    each round's own L1 / L0 wall-time ratio (both measured back to back, so load affects both)."""

    name: str
    r0: SimResult
    r1: SimResult
    l0_s: float
    l1_s: float
    ratios: list[float]
    l2_window: SimResult
    l1_window: SimResult
    l2_window_s: float
    costing_s: float


def costing_seconds(header, chunks, cfg, repeat: int) -> float:
    """Best wall time of the demand derivation alone (what every fidelity does before its engine)."""
    from accel_sim.engine import run as sim_run
    from accel_sim.engine.demand import Costing
    from accel_sim.engine.placement import Placement
    from accel_sim.trace.masks import MaskSchedule

    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        costing, placement, schedule = Costing(cfg, header), Placement(cfg, header), MaskSchedule()
        for batch in sim_run._batches(chunks, SetLayout.of(header), schedule):
            for segment, due in sim_run._segments(batch, schedule):
                costing.apply(due)
                if segment.n_ops:
                    costing.demand(segment.step_ids, segment.set_bits, segment.ops, placement)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def timed(header, chunks, cfg, fidelity, repeat=1):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        res = simulate(header, chunks, cfg, fidelity)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return res, best


def measure(header, chunks) -> list[Row]:
    cfgs = {name: load_config(ROOT / "hw_configs" / f"{name}.yaml") for name in CONFIGS}
    times = {name: ([], []) for name in CONFIGS}
    results = {}
    for rnd in range(ROUNDS):
        for name, cfg in cfgs.items():
            r0, t0 = timed(header, chunks, cfg, "L0", repeat=L0_REPEAT)
            r1, t1 = timed(header, chunks, cfg, "L1")
            times[name][0].append(t0)
            times[name][1].append(t1)
            results[name] = (r0, r1)
            print(f"round {rnd + 1}/{ROUNDS} {name}: L1 {t1:.2f} s, L0 {t0:.3f} s ({t1 / t0:.0f}x)", flush=True)
    rows = []
    for name, cfg in cfgs.items():
        window = chunks[:2]  # 100 steps
        r2w, t2 = timed(header, window, cfg, "L2")
        r1w, _ = timed(header, window, cfg, "L1")
        l0, l1 = times[name]
        rows.append(Row(name, *results[name], float(np.median(l0)), float(np.median(l1)),
                        [b / a for a, b in zip(l0, l1)], r2w, r1w, t2, costing_seconds(header, chunks, cfg, L0_REPEAT)))
    return rows


def main() -> None:
    header, chunks = recorded_trace()
    n_ops = sum(c.n_ops for c in chunks)
    rows = measure(header, chunks)
    lines = [
        f"Trace: {STEPS:,} steps of sparse RTRL (n_hidden {N_HIDDEN}, weight density {DENSITY}; {RECORDED} steps "
        f"recorded from the learner, repeated), {n_ops:,} ops, P = {header.n_influence_columns} influence columns. "
        f"{ROUNDS} rounds, each timing L0 (best of {L0_REPEAT}) then L1 per config; walls are medians over the rounds, "
        "the speed-up is the median of the rounds' own L1 / L0 ratios (range shown).",
        "",
        "| config | L1 wall (s) | L1 ops/s | L1 SimPy events | L1 events/s | L0 wall (s) | costing alone (s) "
        "| L0 speed-up over L1 (range) | bound: L1 / costing "
        "| L1 cycles | L0 cycles (lower bound) | L2 vs L1 cycles, 100 steps | L2 wall, 100 steps (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        events = r.r1.simulation["events"]
        dev = (r.l2_window.cycles - r.l1_window.cycles) / r.l2_window.cycles
        lines.append(
            f"| {r.name} | {r.l1_s:.2f} | {n_ops / r.l1_s:,.0f} | {events:,} | {events / r.l1_s:,.0f} | {r.l0_s:.3f} | "
            f"{r.costing_s:.3f} | {np.median(r.ratios):.0f}x ({min(r.ratios):.0f}-{max(r.ratios):.0f}x) | "
            f"{r.l1_s / r.costing_s:.0f}x | {r.r1.cycles:,} | {r.r0.cycles:,} | "
            f"{dev:+.3%} | {r.l2_window_s:.2f} |"
        )
    worst = min(float(np.median(r.ratios)) for r in rows)
    slowest = max(r.l1_s for r in rows)
    lines += ["", f"Targets: L1 <= 60 s for 10,000 steps: **{'met' if slowest <= 60 else 'missed'}** "
              f"(slowest config {slowest:.1f} s); L0 >= 100x faster than L1: **{'met' if worst >= 100 else 'missed'}** "
              f"(lowest median {worst:.0f}x). L1 is one SimPy event per tile (tiles: one per op that uses one resource, "
              "else about `engine.l1_tile_cycles` of its longest stage, at most `engine.l1_max_tiles_per_op`); "
              "L0 is per-op closed forms in numpy over the whole batch. Both first derive every op's demand from the "
              "trace (work, accesses, the spread over the PEs, bank conflicts, energies: 'costing alone'), which is "
              "most of L0's time, so L0's speed-up over L1 cannot exceed L1 / costing ('bound')."]
    text = "\n".join(lines)
    print(text)
    write_section("simulator", "## Accelerator simulator (bench_simulator.py)\n\n" + text)


if __name__ == "__main__":
    main()
