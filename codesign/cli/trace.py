"""``accel-sim trace info FILE [--json]``: steps, ops, MACs by label and activity of a trace file."""

from __future__ import annotations

import argparse
import json
import sys

from accel_sim.trace.stats import LabelTotals, TraceSummary, summarize


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


def _table(title: str, rows: dict[str, LabelTotals], macs_total: int) -> list[str]:
    lines = [f"{title:<26}{'ops':>8}{'MACs':>16}{'MAC share %':>13}{'indices':>12}"
             f"{'read bytes':>14}{'written bytes':>15}"]
    for name, t in rows.items():
        share = 100.0 * t.macs / macs_total if macs_total else 0.0
        lines.append(f"{name:<26}{t.n_ops:>8}{t.macs:>16}{share:>13.2f}{t.index_count:>12}"
                     f"{t.bytes_read:>14}{t.bytes_written:>15}")
    return lines


def render(s: TraceSummary) -> str:
    """Plain-text report of a :class:`TraceSummary`."""
    h = s.header
    lines = [
        f"trace {s.path} ({s.size_bytes} bytes, schema {h.schema})",
        f"method {h.method}; n_in {h.n_in}, n_hidden {h.n_hidden}, n_out {h.n_out} units; dtype {h.dtype}; "
        f"weight density {h.weight_density:g}; seed {h.seed}; influence columns P {h.n_influence_columns}",
        f"steps {s.n_steps}, ops {s.n_ops}, chunks {s.n_chunks}, MACs total {s.macs_total}",
        "activity per step (units of the previous state):",
    ]
    for name, st in (("fired", s.fired), ("support", s.support), ("active |A|", s.active)):
        lines.append(f"  {name:<12} mean {st.mean_units:.2f} units ({100 * st.mean_fraction:.1f} % of n_hidden), "
                     f"min {st.min_units}, max {st.max_units} units")
    lines.append("")
    lines += _table("by label", s.by_label, s.macs_total)
    lines.append("")
    lines += _table("by op kind", s.by_kind, s.macs_total)
    lines.append("")
    lines.append(f"{'traffic by tensor':<26}{'read bytes':>14}{'written bytes':>15}")
    for t in s.bytes_read_by_tensor:
        lines.append(f"{t:<26}{s.bytes_read_by_tensor[t]:>14}{s.bytes_written_by_tensor[t]:>15}")
    return "\n".join(lines) + "\n"
