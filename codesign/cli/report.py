"""``accel-sim report STORE --out DIR``: HTML + Markdown + CSV co-design report from a sweep store."""

from __future__ import annotations

import argparse

from codesign.cli import EXIT_OK
from codesign.outputs import output_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="render a co-design report (index.html, report.md, results.csv) from a sweep's store",
        description="Render the report of a sweep: Pareto front, energy breakdown, cost vs sparsity, "
        "influence-matrix footprint vs SRAM, KPI table and winning configs.",
    )
    p.add_argument("store", help="SQLite result store written by 'accel-sim sweep' (OUT/results.sqlite)")
    p.add_argument("--out", required=True, help="folder for index.html, report.md, results.csv and plots/")
    p.add_argument("--title", help="report title (default: from the sweep spec's name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codesign.report import build_report

    files = build_report(args.store, output_dir(args.out, "--out"), title=args.title)
    print(f"report: {files.html}")
    print(f"markdown: {files.markdown}")
    print(f"csv: {files.csv}")
    return EXIT_OK
