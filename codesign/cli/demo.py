"""``accel-sim demo``: the whole pipeline on real data, end to end (what ``make demo`` runs).

Online sparse-RTRL training on the sklearn digits → operation trace → simulation on every shipped
hardware config → a small sweep with BPTT and dense-RTRL baselines → co-design report in
``reports/demo/`` and a Perfetto timeline; ends by printing where the report is and the three KPIs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from codesign.cli import EXIT_INTERNAL, EXIT_OK, UsageError

ROOT = Path(__file__).resolve().parents[2]
DEMO_SPEC = ROOT / "hw_configs" / "sweeps" / "demo.yaml"
DEFAULT_OUT = "reports/demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on digits and write the co-design report to reports/demo/",
        description="Train sparse RTRL online on digits, record its trace, simulate it on the shipped "
        "configs, sweep with BPTT / dense-RTRL baselines and write the report (about 2 minutes on 2 cores).",
    )
    p.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    p.add_argument("--spec", default=str(DEMO_SPEC), help="sweep spec to run (default hw_configs/sweeps/demo.yaml)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--resume", action="store_true", help="keep results of a previous demo run instead of starting over")
    p.set_defaults(func=run)


def _stage(n: int, text: str) -> float:
    print(f"[{n}/4] {text}", flush=True)
    return time.perf_counter()


def _config_table(rows: list[dict], model_key: str) -> list[str]:
    from codesign.report.units import fmt_bytes, fmt_energy, fmt_time

    lines = [f"    {'config':<22} {'cycles/step':>12} {'latency/step':>13} {'energy/step':>12} "
             f"{'DRAM traffic':>13}  learning state on chip?"]
    for r in rows:
        if r["model_key"] != model_key:
            continue
        fits = "yes" if r.get("influence_fits_on_chip") == 1 else "no, spills to DRAM"
        lines.append(f"    {r['config']:<22} {r['cycles_per_step']:>12.0f} {fmt_time(r['latency_per_step_s']):>13} "
                     f"{fmt_energy(r['energy_per_step_pj']):>12} {fmt_bytes(r['dram_bytes']):>13}  {fits}")
    return lines


def run(args: argparse.Namespace) -> int:
    from codesign.outputs import output_dir
    from codesign.report import build_report
    from codesign.report.analysis import METHOD_NAMES, analyse
    from codesign.report.units import count, fmt_bytes, fmt_time
    from codesign.store import ResultStore
    from codesign.sweep import load_spec, run_sweep
    from codesign.sweep.executor import trace_path_for

    t_start = time.perf_counter()
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: need at least 1 worker")
    out = output_dir(args.out, "--out", default=args.out == DEFAULT_OUT)  # before the work: codesign/outputs.py
    spec = load_spec(args.spec)
    t = _stage(1, f"training online on {spec.model.task[0]} (sparse RTRL, BPTT, dense RTRL), recording traces, "
               f"simulating on {len(spec.hardware.configs)} hardware configs with {args.workers} workers")
    summary = run_sweep(spec, out / "sweep", workers=args.workers, restart=not args.resume)
    print(f"      {count(summary.total_points, 'point')} ({count(summary.models_trained, 'model point')} trained) "
          f"in {time.perf_counter() - t:.1f} s")
    if summary.failed:
        for err in summary.errors[:5]:
            print(f"      failed: {err}")
        return EXIT_INTERNAL

    with ResultStore(summary.store_path, create=False) as store:
        rows, models = store.rows(), store.models()
        meta = {k: store.get_meta(k) or "" for k in ("spec_name", "spec_json")}
    an = analyse(rows, models, meta)
    sparse = [k for k in an.kpis if k.method == "sparse_rtrl"]
    best = max(sparse or an.kpis, key=lambda k: k.test_accuracy)
    best_row = max((r for r in rows if r["method"] == best.method and r["n_hidden"] == best.n_hidden
                    and r["weight_density"] == best.weight_density), key=lambda r: r["test_accuracy"])
    t = _stage(2, f"simulation of the best sparse-RTRL model (n_hidden={best.n_hidden}, "
               f"weight density={best.weight_density:g}) on the shipped configs:")
    for line in _config_table(rows, best_row["model_key"]):
        print(line)

    t = _stage(3, "Perfetto timeline of the first 16 steps on the reference config")
    timeline_path = out / "timeline.perfetto.json"
    try:
        from codesign.cli import main as cli_main

        trace = trace_path_for(out / "sweep", best_row["model_key"])
        config = next(p for p in spec.hardware.configs if Path(p).stem == best_row["base_config"])
        code = cli_main(["timeline", str(trace), "--config", str(spec.config_path(config)),
                         "--out", str(timeline_path), "--steps", "0:16"])
        if code != EXIT_OK:
            print("      (timeline skipped: see the error above)")
    except ImportError as exc:  # pragma: no cover - simulator without timeline support
        print(f"      (timeline skipped: {exc})")

    t = _stage(4, "writing the report")
    files = build_report(summary.store_path, out, title="Co-design report: online sparse RTRL on digits")
    print(f"      {len(files.plots)} plots in {time.perf_counter() - t:.1f} s")

    print()
    print(f"Report: {files.html.resolve()}")
    print(f"        {files.markdown}  {files.csv}  {files.out_dir / 'plots'}/")
    print(f"KPIs of online sparse RTRL on {best.task} (n_hidden={best.n_hidden}, weight density={best.weight_density:g}):")
    host = f", {best.host_step_time_ms:.3g} ms on this CPU" if best.host_step_time_ms is not None else ""
    print(f"  compute time per step      {fmt_time(best.sim_time_per_step_s)} simulated on {best.config}{host}")
    print(f"  memory of learning state   {fmt_bytes(best.learning_state_bytes)} (the influence matrix as "
          f"{best.config} stores it)")
    print(f"  accuracy                   {best.test_accuracy * 100:.1f} % on the {best.task} test set")
    others = [k for k in an.kpis if k.method != "sparse_rtrl"]
    for k in others:
        print(f"  vs {METHOD_NAMES[k.method]:<11} (n_hidden={k.n_hidden}): {fmt_time(k.sim_time_per_step_s)} per step, "
              f"{fmt_bytes(k.learning_state_bytes)} learning state, {k.test_accuracy * 100:.1f} % accuracy"
              + (f" (trained on {k.trained_sequences} sequences)" if k.trained_sequences != best.trained_sequences else ""))
    print(f"Total demo time: {time.perf_counter() - t_start:.1f} s")
    return EXIT_OK
