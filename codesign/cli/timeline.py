"""``accel-sim timeline TRACE --config FILE --out FILE.json``: a Perfetto/Chrome trace of a window
of the simulation (one track per PE group, SRAM level, DRAM channel and index unit; occupancy and
utilisation counters per step). Open the JSON in https://ui.perfetto.dev or chrome://tracing.

It also prints the per-PE work of the window's heaviest steps (``accel_sim.engine.pe_loads``: the
MACs of every PE in the ops the mapping spreads) and writes it under ``otherData.heaviest_steps``
in the JSON, where the report (``codesign/report/pe_work.py``) finds it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

import numpy as np

from codesign.cli import EXIT_OK, UsageError
from codesign.outputs import output_file

DEFAULT_WINDOW = "0:16"
HEAVIEST = 3  # steps whose per-PE loads the timeline keeps


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "timeline",
        help="write a Perfetto (Chrome trace-event) JSON timeline of a simulated window of a trace",
        description="Simulate steps A:B of TRACE on a hardware config and write every resource's busy "
        "intervals and occupancy counters as trace-event JSON (times in simulated microseconds).",
    )
    p.add_argument("trace", help="operation trace file (see 'accel-sim trace info')")
    p.add_argument("--config", required=True, help="hardware config YAML (e.g. hw_configs/sparse_skipping.yaml)")
    p.add_argument("--out", required=True, help="output JSON file (e.g. timeline.perfetto.json)")
    p.add_argument("--steps", default=None,
                   help="window of trace steps A:B, B exclusive, either side may be empty; it must lie inside the "
                   f"trace (default {DEFAULT_WINDOW}, or fewer steps if the trace is shorter)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field by dotted path (repeatable)")
    p.add_argument("--fidelity", default="L1", choices=["L1", "L2"],
                   help="discrete-event fidelity to run the window at (default L1)")
    p.set_defaults(func=run)


def parse_window(text: str) -> tuple[int, int | None]:
    """'A:B' → (A, B); empty sides mean 0 and the end. Steps are trace step numbers."""
    if ":" not in text:
        raise UsageError(f"--steps {text!r}: expected A:B (e.g. 0:16)")
    a, b = text.split(":", 1)
    try:
        start = int(a) if a.strip() else 0
        stop = int(b) if b.strip() else None
    except ValueError:
        raise UsageError(f"--steps {text!r}: A and B must be integers") from None
    if start < 0 or (stop is not None and stop <= start):
        raise UsageError(f"--steps {text!r}: need 0 <= A < B")
    return start, stop


def check_window(reader, start: int, stop: int | None, text: str | None) -> int | None:
    """Check the window against the trace's steps, reading the trace (:class:`TraceReader`) only up
    to the window's last step; returns ``stop``. An explicit window (``text``) must lie inside the
    trace; the default one is cut to the trace's end."""
    first = last = None
    count = 0
    for chunk in reader.chunks():
        if chunk.n_steps:
            first = int(chunk.step_ids[0]) if first is None else first
            last = int(chunk.step_ids[-1])
            count += chunk.n_steps
        if last is not None and stop is not None and last >= stop - 1:
            break
    if last is None:
        raise UsageError(f"{reader.path}: the trace holds no steps")
    if text is None:
        return min(stop, last + 1) if stop is not None else None
    if start < first or start > last or (stop is not None and stop - 1 > last):
        raise UsageError(f"{reader.path}: --steps {text}: outside the trace, which holds steps {first}:{last + 1} "
                         f"({count} steps)")
    return stop


def structure_at(reader, start: int):
    """The trace's header with the masks in force at step ``start``: the mask-change records that
    took effect by then applied to its patterns (``accel_sim.trace.masks``). Reads the trace only
    until no later chunk can hold such a record."""
    from accel_sim.trace.masks import patterns_at

    earlier = []
    for chunk in reader.chunks():
        earlier += [mc for mc in chunk.mask_changes if mc.step <= start]
        if chunk.n_steps and int(chunk.step_ids[-1]) >= start:  # later records change later steps
            break
    return patterns_at(reader.header, earlier, start) if earlier else reader.header


def window_chunks(chunks: Iterator, start: int, stop: int | None) -> Iterator:
    """The chunks restricted to steps in [start, stop) (steps and ops both filtered), with the
    mask-change records that take effect inside the window (start < step < stop: the window
    replays those rewirings; earlier ones are in :func:`structure_at`'s header)."""
    from accel_sim.trace.schema import TraceChunk

    for chunk in chunks:
        ids = chunk.step_ids
        in_window = (ids >= start) & (ids < stop if stop is not None else True)
        keep = chunk.ops["step"] >= start
        if stop is not None:
            keep &= chunk.ops["step"] < stop
        changes = tuple(mc for mc in chunk.mask_changes if mc.step > start and (stop is None or mc.step < stop))
        if in_window.any() or keep.any() or changes:
            yield TraceChunk(chunk.layout, ids[in_window], chunk.set_bits[in_window],
                             {k: np.asarray(v)[keep] for k, v in chunk.ops.items()}, changes)
        if stop is not None and chunk.n_steps and int(ids[-1]) >= stop - 1:
            break


def run(args: argparse.Namespace) -> int:
    from accel_sim import load_config, simulate
    from accel_sim.trace.io import TraceReader
    from codesign.report.perfetto import PerfettoTimeline

    start, stop = parse_window(args.steps or DEFAULT_WINDOW)
    output_file(args.out, "--out")
    config = load_config(args.config, args.overrides)
    reader = TraceReader(args.trace)
    stop = check_window(reader, start, stop, args.steps)
    window = f"{start}:{'' if stop is None else stop}"
    timeline = PerfettoTimeline(clock_hz=float(config.clock_hz),
                                process_name=f"accel-sim {Path(args.config).stem} steps {window}")
    result = simulate(structure_at(reader, start), window_chunks(reader.chunks(), start, stop), config,
                      fidelity=args.fidelity, timeline=timeline, pe_loads=HEAVIEST)
    if not timeline.events:
        raise UsageError(f"{args.trace}: no steps in the window {window}")
    timeline.notes["heaviest_steps"] = [s.to_json() for s in result.heaviest_steps]
    path = timeline.write(args.out)
    print(f"timeline: {path} ({len(timeline.events)} events on {len(timeline.tracks)} tracks"
          + (f", {timeline.dropped} dropped" if timeline.dropped else "") + ")")
    print(f"window: steps {window}, {result.cycles} cycles = {result.seconds * 1e6:.3f} µs simulated")
    for line in heaviest_lines(result.heaviest_steps):
        print(line)
    print("open it in https://ui.perfetto.dev (Open trace file) or chrome://tracing")
    return EXIT_OK


def heaviest_lines(steps) -> list[str]:
    """The heaviest steps' per-PE work (``StepLoads``) as lines for the terminal."""
    if not steps:
        return ["per-PE work: no op of the window is spread over the PEs (nothing skips zeros, or the matmuls "
                "run dense on the systolic array)"]
    out = [f"per-PE work of the {len(steps)} heaviest steps (MACs of the ops the mapping spreads):"]
    for s in steps:
        loads = s.loads
        top = max(s.ops, key=lambda o: o.busiest)
        out.append(f"  step {s.step}: {s.array_cycles:,.0f} array cycles; busiest PE {int(np.argmax(loads))} "
                   f"{loads.max():,.0f} MACs, mean {loads.mean():,.1f}, idle PEs {int((loads == 0).sum())} of "
                   f"{loads.size}; imbalance {s.imbalance:.2f} (worst op {top.op}: busiest {top.busiest:,.0f}, "
                   f"mean {top.macs / top.loads.size:,.1f})")
    return out
