"""``accel-sim gemm | simulate`` end to end."""

import io
import json

import pytest

from accel_sim.trace.io import write_trace
from codesign.cli import main
from tests.sim.helpers import CONFIGS, ROOT, rtrl_like_trace

SYSTOLIC = str(CONFIGS / "systolic_os_16x16.yaml")


def test_gemm_cli_reference_numbers(capsys):
    assert main(["gemm", "--m", "64", "--k", "64", "--n", "64", "--config", SYSTOLIC, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["compute_cycles"] == 1503 and d["schema"] == "accel-sim/result/3"
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


def test_ert_is_the_table_the_costing_uses(tmp_path, capsys):
    """Every (component, action) energy the result reports is a count times the ert's pJ: doubling
    one energy with --set doubles that action's energy and only that one."""
    config = str(CONFIGS / "neuromorphic_mesh.yaml")
    assert main(["ert", config, "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    rows = {(r["component"], r["action"]): r for r in table["ert"]}
    assert rows[("pe_array", "mac")]["energy_pj"] == 1.5
    assert rows[("sram.shared", "read")]["energy_pj"] == 80.0
    assert all(r["source"] for (c, a), r in rows.items() if a != "gated_read" and a != "gated_write"), rows
    assert [a["target"] for a in table["sparse_actions"]] == ["A", "B", "Z", "compute"]

    header, chunks = rtrl_like_trace(16, 5)
    trace = str(write_trace(tmp_path / "t.rtrace", header, chunks))

    def energies(*overrides):
        sets = [x for o in overrides for x in ("--set", o)]
        assert main(["simulate", trace, "--config", config, "--fidelity", "L0", "--json", *sets]) == 0
        return json.loads(capsys.readouterr().out)["energy_pj"]["by_component"]

    base, doubled = energies(), energies("sram.shared.read_energy_pj=160")
    for component, actions in base.items():
        for action, pj in actions.items():
            factor = 2 if (component, action) in (("sram.shared", "read"), ("sram.shared", "metadata_read")) else 1
            assert doubled[component][action] == pytest.approx(factor * pj), (component, action)
    assert base["sram.shared"]["read"] > 0


def test_ert_text_and_bad_config(tmp_path, capsys):
    assert main(["ert", str(CONFIGS / "sparse_skipping.yaml")]) == 0
    out = capsys.readouterr().out
    assert "sram.influence" in out and "Horowitz" in out and "skipping compute on zeros of A, B" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: accel-sim/hw/1\nname: x\n")
    assert main(["ert", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
