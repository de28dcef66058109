"""``accel-sim simulate | gemm | validate-config``: run the accelerator model from the shell."""

from __future__ import annotations

import argparse
import sys
import time

from codesign.cli import EXIT_OK, UsageError

FIDELITIES = ("L0", "L1", "L2")


def register(subparsers) -> None:
    sim = subparsers.add_parser("simulate", help="replay a trace file on a hardware config",
                                description="Replay an operation trace on a hardware config and report "
                                            "cycles, energy (pJ), traffic (bytes) and memory.")
    sim.add_argument("trace", help="trace file written by the recorder (accel-sim trace ...)")
    _common(sim)
    sim.set_defaults(func=_run_simulate)

    gemm = subparsers.add_parser("gemm", help="simulate one dense GEMM O[MxN] = I[MxK] W[KxN]",
                                 description="Simulate one dense GEMM (synthetic trace) on a config; "
                                             "prints compute cycles, SRAM/DRAM bytes and energy (pJ).")
    gemm.add_argument("--m", type=int, required=True, help="rows of the output (elements)")
    gemm.add_argument("--k", type=int, required=True, help="reduction length (elements)")
    gemm.add_argument("--n", type=int, required=True, help="columns of the output (elements)")
    gemm.add_argument("--word-bytes", type=int, default=None,
                      help="bytes per operand word (default: the config's datatype)")
    _common(gemm)
    gemm.set_defaults(func=_run_gemm)

    val = subparsers.add_parser("validate-config", help="check a hardware config file",
                                description="Validate a hardware config YAML; exit 0 if valid, "
                                            "2 with 'FILE: field.path: problem' if not.")
    val.add_argument("config", help="hardware config YAML file")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field (dotted path), repeatable")
    val.set_defaults(func=_run_validate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="hardware config YAML file (hw_configs/*.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set pe_array.rows=32 (repeatable, typed)")
    parser.add_argument("--fidelity", choices=FIDELITIES, default="L1",
                        help="L0 analytic, L1 tile-level discrete-event (default), L2 fine-grained")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the full result as JSON")
    output.add_argument("--csv", action="store_true", help="print the result as one CSV row with a header")


def _run_validate(args) -> int:
    from accel_sim import load_config

    config = load_config(args.config, args.overrides)
    print(f"{args.config}: valid ({config.name}: {config.pe_array.rows}x{config.pe_array.cols} PEs, "
          f"{len(config.sram)} SRAM levels, {sum(config.level_capacity_bytes(l) for l in config.sram)} bytes on chip)")
    return EXIT_OK


def _run_simulate(args) -> int:
    from accel_sim import load_config, simulate_file

    config = load_config(args.config, args.overrides)
    with TerminalProgress(f"{args.trace} ({args.fidelity})") as progress:
        result = simulate_file(args.trace, config, args.fidelity, progress=progress)
    from codesign.columns import trace_kinds

    return _print(result, args, trace_kinds(args.trace))


class TerminalProgress:
    """``progress(steps, ops)`` callback that keeps one status line on an interactive stderr
    (at most every ``interval`` seconds) and erases it when the run ends; silent when stderr is not
    a terminal, so logs and error output stay one line."""

    def __init__(self, what: str, stream=None, interval: float = 0.5) -> None:
        self.what, self.stream, self.interval = what, stream or sys.stderr, interval
        self.live = self.stream.isatty()
        self.shown = False

    def __enter__(self) -> "TerminalProgress":
        self.start = self.last = time.monotonic()
        return self

    def __call__(self, steps: int, ops: int) -> None:
        now = time.monotonic()
        if self.live and now - self.last >= self.interval:
            self.last, self.shown = now, True
            self.stream.write(f"\r{self.what}: {steps:,} steps, {ops:,} ops simulated in {now - self.start:.1f} s")
            self.stream.flush()

    def __exit__(self, *exc) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _run_gemm(args) -> int:
    from accel_sim import load_config, simulate
    from accel_sim.trace.synthetic import gemm_trace

    config = load_config(args.config, args.overrides)
    for name in ("m", "k", "n"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    word = args.word_bytes if args.word_bytes is not None else config.pe_array.word_bytes
    if word < 1 or int(word) != word:
        raise UsageError(f"--word-bytes must be a positive integer, got {word}")
    header, chunks = gemm_trace(args.m, args.k, args.n, word_bytes=int(word))
    return _print(simulate(header, chunks, config, args.fidelity), args)


def _print(result, args, kinds: dict[str, str] | None = None) -> int:
    """Print ``result`` as JSON, CSV or text; ``kinds`` ({tensor: kind} of the trace) picks the
    learning-state tensors (:func:`codesign.columns.learning_state`, the verdict the sweep rows use)."""
    if args.json:
        print(result.to_json())
    elif args.csv:
        sys.stdout.write(result.to_csv())
    else:
        d = result.to_dict()
        t, e = d["traffic_bytes"], d["energy_pj"]
        print(f"config {d['config']} ({d['fidelity']}), {d['n_steps']} steps, {d['n_ops']} ops")
        print(f"cycles            {d['cycles']} cycles ({d['seconds']:.6g} s)")
        print(f"compute_cycles    {d['compute_cycles']} cycles (PE array busy)")
        print("sram_read_bytes   " + ", ".join(f"{k} {v} B" for k, v in t["sram_read"].items()))
        print("sram_write_bytes  " + ", ".join(f"{k} {v} B" for k, v in t["sram_write"].items()))
        print(f"dram_bytes        read {t['dram_read']} B, write {t['dram_write']} B, spill {t['dram_spill']} B")
        parts = ", ".join(f"{k} {v:.6g}" for k, v in e.items() if isinstance(v, float) and k != "total")
        print(f"energy_pj         total {e['total']:.6g} pJ ({parts})")
        p = d["power_mw"]
        print(f"power_mw          average {p['average']:.4g} mW (static {p['static']:.4g}, dynamic {p['dynamic']:.4g}), "
              f"peak {p['peak']:.4g} mW")
        a = d["area_mm2"]
        print(f"area_mm2          total {a['total']:.4g} mm² ("
              + ", ".join(f"{k} {v:.4g}" for k, v in a.items() if k != "total") + ")")
        from codesign.columns import learning_state

        ls = learning_state(d, kinds)
        cap = d["memory_bytes"]["capacity"]
        print("sram_levels       " + ", ".join(f"{lv} {c} B capacity, {d['memory_bytes']['resident'].get(lv, 0)} B resident"
                                                for lv, c in cap.items()))
        where = "; ".join(f"{t.tensor} {t.bytes} B at {t.level} (capacity {t.capacity_bytes} B)" for t in ls.levels)
        if not ls.tensors:
            print("learning_state    none (the trace declares no influence or history tensor)")
        else:
            print(f"learning_state    {ls.bytes} B ({where}): {ls.verdict}"
                  + (f"; spilled: {', '.join(d['spilled_tensors'])}" if d["spilled_tensors"] else ""))
        print("stall_cycles      " + ", ".join(f"{k} {v:.6g}" for k, v in d["stall_cycles"].items()))
    return EXIT_OK
