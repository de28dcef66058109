"""``accel-sim sweep SPEC``: run or resume a co-design sweep into a SQLite result store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codesign.cli import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, _one_line


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="run or resume a sweep over hardware configs and model sparsity",
        description="Run (or resume) a sweep spec. Each finished point is written to the SQLite store "
        "at once; rerunning a killed sweep computes only the missing points.",
    )
    p.add_argument("spec", help="sweep spec YAML (see hw_configs/sweeps/)")
    p.add_argument("--out", help="output folder for the store and traces (default: reports/sweeps/<spec name>)")
    p.add_argument("--store", help="SQLite store path (default: OUT/results.sqlite)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1: run in this process)")
    p.add_argument("--dask", metavar="local|tcp://HOST:PORT",
                   help="run on Dask: 'local' starts a LocalCluster on 127.0.0.1 with --workers processes; "
                   "tcp://HOST:PORT connects to a running scheduler (its workers need the installed package only: "
                   "configs and traces travel with the tasks, results come back here)")
    p.add_argument("--restart", action="store_true", help="discard the store's previous results first")
    p.add_argument("--csv", help="also export all rows to this CSV file")
    p.add_argument("--dry-run", action="store_true", help="validate the spec and list the points; run nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codesign.outputs import output_dir, output_file
    from codesign.report.units import count
    from codesign.store import ResultStore
    from codesign.sweep import expand, load_spec, run_sweep

    spec = load_spec(args.spec)
    if args.dry_run:
        points = expand(spec)
        models = {p.model.key for p in points}
        hardware = {(p.hardware.label, p.hardware.fidelity) for p in points}
        print(f"{spec.source}: valid; {count(len(points), 'point')}: {count(len(models), 'model point')} "
              f"on {count(len(hardware), 'hardware point')}")
        for p in points[:20]:
            m = p.model
            print(f"  {p.index:4d} {m.task} {m.method} n_hidden={m.n_hidden} weight_density={m.weight_density:g} "
                  f"on {p.hardware.label} {p.hardware.fidelity}")
        if len(points) > 20:
            print(f"  ... {len(points) - 20} more")
        return EXIT_OK
    out = Path(args.out) if args.out else Path("reports") / "sweeps" / spec.name
    output_dir(out, "--out", default=not args.out)  # before the work: see codesign/outputs.py
    for option, path in (("--store", args.store), ("--csv", args.csv)):
        if path:
            output_file(path, option)
    summary = run_sweep(spec, out, workers=args.workers, dask=args.dask, store_path=args.store,
                        restart=args.restart, progress=not args.no_progress)
    for line in summary.lines():
        print(line)
    if args.csv:
        with ResultStore(summary.store_path, create=False) as store:
            print(f"csv: {store.export_csv(args.csv)}")
    return _failure_exit(summary)


def _failure_exit(summary) -> int:
    """Exit 2 if a point's input is bad (rerunning cannot help), 1 for a bug, 1 with the advice to
    rerun when only transient failures (a worker died, lost connection) stopped points; 0 if none."""
    if not summary.failed:
        return EXIT_OK
    for kind, head, code in (
        ("input", "cannot be computed from this input (rerunning will not help)", EXIT_USAGE),
        ("internal", "failed on an internal error (a bug; please report it)", EXIT_INTERNAL),
    ):
        failures = summary.failed_by(kind)
        if failures:
            n = sum(f.points for f in failures)
            more = f" (and {len(failures) - 1} more, listed above)" if len(failures) > 1 else ""
            print(_one_line(f"error: {n} points {head}: {failures[0].line()}{more}"), file=sys.stderr)
            return code
    print(f"error: {summary.failed} points failed on a transient problem (see above); rerun to retry them",
          file=sys.stderr)
    return EXIT_INTERNAL
