"""``accel-sim gemm | simulate`` end to end."""

import io
import json

from accel_sim.trace.io import write_trace
from codesign.cli import main
from tests.sim.helpers import CONFIGS, ROOT, rtrl_like_trace

SYSTOLIC = str(CONFIGS / "systolic_os_16x16.yaml")


def test_gemm_cli_reference_numbers(capsys):
    assert main(["gemm", "--m", "64", "--k", "64", "--n", "64", "--config", SYSTOLIC, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["compute_cycles"] == 1503 and d["schema"] == "accel-sim/result/2"
    assert main(["gemm", "--m", "64", "--k", "64", "--n", "64", "--config", SYSTOLIC,
                 "--set", "pe_array.fold_overlap=true"]) == 0
    assert "compute_cycles    1024 cycles" in capsys.readouterr().out


def test_simulate_trace_file(tmp_path, capsys):
    header, chunks = rtrl_like_trace(16, 5)
    path = write_trace(tmp_path / "t.rtrace", header, chunks)
    for fidelity in ("L0", "L1", "L2"):
        assert main(["simulate", str(path), "--config", str(CONFIGS / "edge_tiny.yaml"),
                     "--fidelity", fidelity, "--csv"]) == 0
        out = capsys.readouterr().out
        assert "energy_pj.total" in out.splitlines()[0]


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "missing.rtrace"), "--config", SYSTOLIC]) == 2
    assert main(["gemm", "--m", "0", "--k", "4", "--n", "4", "--config", SYSTOLIC]) == 2
    assert main(["gemm", "--m", "4", "--k", "4", "--n", "4", "--config", SYSTOLIC, "--set", "pe_array.x=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_line_on_a_terminal_only_and_erased_at_the_end():
    from accel_sim import load_config, simulate_file
    from codesign.cli.simulate import TerminalProgress

    calls = []
    trace, cfg = ROOT / "traces" / "sparse_rtrl_h16.arrows", load_config(CONFIGS / "edge_tiny.yaml")
    result = simulate_file(trace, cfg, "L0", progress=lambda s, o: calls.append((s, o)))
    assert calls and calls == sorted(calls) and calls[-1] == (result.n_steps, result.n_ops)
    term, pipe = _Terminal(), io.StringIO()
    for stream in (term, pipe):
        with TerminalProgress("trace.arrows", stream, interval=0.0) as progress:
            progress(10, 120)
            progress(20, 240)
    assert "20 steps, 240 ops" in term.getvalue() and term.getvalue().endswith("\r\033[K")
    assert pipe.getvalue() == ""
