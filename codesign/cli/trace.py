"""``accel-sim trace info FILE [--json]``: steps, ops, MACs by label and activity of a trace file."""

from __future__ import annotations

import argparse
import json
import sys

from accel_sim.trace.stats import TraceSummary, WorkTotals, summarize


def register(subparsers) -> None:
    trace = subparsers.add_parser("trace", help="inspect operation-trace files",
                                  description="Inspect operation-trace files (Arrow IPC streams, see traces/README.md).")
    sub = trace.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    sub.required = True
    info = sub.add_parser("info", help="steps, ops, MACs and bytes by label, activity statistics",
                          description="Read a trace completely (checking its integrity) and summarize it.")
    info.add_argument("file", metavar="FILE", help="trace file written by accel-sim train --trace or write_trace")
    info.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    info.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    summary = summarize(args.file)
    if args.json:
        json.dump(summary.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(summary))
    return 0


def _table(title: str, rows: dict[str, WorkTotals], effectual_total: int) -> list[str]:
    lines = [f"{title:<26}{'ops':>8}{'learner MACs':>16}{'dense ops':>16}{'effectual ops':>16}{'share %':>9}"]
    for name, t in rows.items():
        share = 100.0 * t.effectual_ops / effectual_total if effectual_total else 0.0
        lines.append(f"{name:<26}{t.n_ops:>8}{t.learner_macs:>16}{t.dense_ops:>16}{t.effectual_ops:>16}{share:>9.2f}")
    return lines


def render(s: TraceSummary) -> str:
    """Plain-text report of a :class:`TraceSummary`."""
    m = s.model
    lines = [
        f"trace {s.path} ({s.size_bytes} bytes, schema {s.schema})",
        f"method {s.method}; n_in {m['n_in']}, n_hidden {m['n_hidden']}, n_out {m['n_out']} units; dtype {s.dtype}; "
        f"weight density {m['weight_density']:g}; seed {m['seed']}; influence columns P {m['n_influence_columns']}",
        f"steps {s.n_steps}, ops {s.n_ops}, chunks {s.n_chunks}; learner MACs {s.learner_macs}, "
        f"derived: dense {s.dense_ops}, effectual {s.effectual_ops} operations",
        f"rewiring: {s.rewiring_events} events ({s.mask_change_records} mask-change records)"
        if s.mask_change_records else "rewiring: none (fixed masks)",
    ]
    if s.index_sets:
        lines.append("index sets per step (members):")
        for name, st in s.index_sets.items():
            lines.append(f"  {name:<12} mean {st.mean:.2f} ({100 * st.mean_fraction:.1f} % of its size), "
                         f"min {st.min}, max {st.max}")
        if s.active is not None:
            st = s.active
            lines.append(f"  {'active |A|':<12} mean {st.mean:.2f} ({100 * st.mean_fraction:.1f} % of n_hidden), "
                         f"min {st.min}, max {st.max}  (fired or support)")
    lines.append("")
    lines += _table("by label", s.by_label, s.effectual_ops)
    lines.append("")
    lines += _table("by op", s.by_op, s.effectual_ops)
    lines.append("")
    lines.append(f"{'tensor':<16}{'kind':<13}{'shape':>14}{'elements':>12}{'pattern entries':>17}  structure")
    for t in s.tensors:
        lines.append(f"{t.name:<16}{t.kind:<13}{f'{t.shape[0]} x {t.shape[1]}':>14}{t.elements:>12}"
                     f"{t.pattern_entries:>17}  {t.structure}")
    return "\n".join(lines) + "\n"
