"""benchmarks/gpu_check.py on a machine without a GPU: bad arguments and a missing GPU each exit 2
with one line on stderr and write nothing; the report states issue 21's targets from the rows it
is given (met / not met / not measured)."""

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gpu import GPU_OK
from rtrl.model import DEFAULT_PSEUDO_DERIVATIVE

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    name = "_gpu_check_under_test"
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def test_without_a_gpu_it_exits_2_in_one_line(gpu_check, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(gpu_check, "gpu_available", lambda: (False, "no CUDA device (simulated)"))
    out = tmp_path / "RESULTS_GPU.md"
    assert gpu_check.main(["--out", str(out), "--sizes", "256"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no usable GPU" in err and "simulated" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(GPU_OK, reason="this machine has a GPU: the script would measure")
def test_the_script_itself_without_a_gpu(tmp_path):
    out = tmp_path / "RESULTS_GPU.md"
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("gpu_check: no usable GPU")
    assert not out.exists()


@pytest.mark.parametrize("argv,names", [
    (["--sizes", "4"], "sizes"), (["--sizes", "256,x"], "sizes"), (["--densities", "0"], "densities"),
    (["--densities", "0.05,1.5"], "densities"), (["--steps", "0"], "steps"), (["--agree-steps", "1"], "agree-steps"),
    (["--warmup", "-1"], "warmup"), (["--out", "no/such/dir/R.md"], "--out"), (["--bogus"], "--bogus"),
])
def test_bad_arguments_exit_2_in_one_line(gpu_check, monkeypatch, argv, names, capsys):
    monkeypatch.setattr(gpu_check, "gpu_available", lambda: pytest.fail("checked the GPU before the arguments"))
    with pytest.raises(SystemExit) as info:
        gpu_check.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and names in err, err


def test_targets_from_rows(gpu_check, tmp_path):
    T = gpu_check.Timing
    fast = T(1024, 0.05, 0.3, 800.0, 0.4, 0.7, 0.5, 5.0, 300.0)
    slow = T(1024, 0.05, 0.3, 800.0, 0.4, 1.2, 1.0, 5.0, 300.0)
    dense_ok = T(512, 0.05, 0.3, 100.0, 0.05, 0.2, 0.1, 2.0, 10.0)
    dense_low = T(512, 0.1, 0.3, 200.0, 0.1, 0.8, 0.5, 3.0, 10.0)
    assert [t.count("**met**") for t in gpu_check.targets([fast, dense_ok])] == [2, 1]
    slow_lines = gpu_check.targets([slow, dense_ok, dense_low])
    assert slow_lines[0].count("**not met**") == 2  # 1.2 ms > 1 ms and 3.0x > 2x the floor
    assert "**not met**" in slow_lines[1] and "12.5x" in slow_lines[1]  # the lower speed-up decides
    assert all("not measured" in t for t in gpu_check.targets([T(256, 0.1, 0.3, 1.0, 0.01, 0.1, 0.1, 0.2, math.nan)]))

    args = gpu_check.parse_args(["--out", str(tmp_path / "R.md")])
    checks = [gpu_check.Check("a", 2e-6, 1e-5), gpu_check.Check("b", 3e-10, 1e-10)]
    gpu_check.report(args.out, "a device", checks, 4.3e12, [fast, dense_ok], 12.0, args)
    text = args.out.read_text()
    assert "1 of 2 checks pass" in text and "| b | 3.00e-10 | 1e-10 | NO |" in text
    assert "| 1024 | 0.05 | 0.300 | 800 | 0.400 | 0.700 | 0.500 | 5.000 | 300.000 | 1.75 | 428.6x | 7.1x |" in text
    assert "copy bandwidth 4300 GB/s" in text and f"pseudo-derivative (gamma, eps) = {DEFAULT_PSEUDO_DERIVATIVE}" in text
    assert [p.name for p in tmp_path.iterdir()] == ["R.md"]


def test_the_report_is_rewritten_as_the_run_goes_and_kept_when_it_stops(gpu_check, monkeypatch, tmp_path):
    """main's order with the measurements replaced: a run stopped at n_hidden 1024 leaves the
    rows before it and says where it stopped; a full run says nothing is pending, and exits 1
    when an agreement check fails."""
    T, C = gpu_check.Timing, gpu_check.Check
    stop_at = {1024}
    agree_error = {"value": 1e-7}

    def timings(sizes, densities, *rest):
        if sizes[0] in stop_at:
            raise RuntimeError("out of time")
        return [T(sizes[0], d, 0.3, 1.0, 0.1, 0.2, 0.1, 1.0, 5.0) for d in densities]

    def agree(sizes, densities, steps):
        return [C(f"agree n={sizes[0]}", agree_error["value"], 1e-5)]

    for name, fake in dict(gpu_available=lambda: (True, ""), versions=lambda: "a fake device",
                           small_cases=lambda: [C("small", 0.0, 1e-5)], copy_bandwidth=lambda: 4e12, timings=timings,
                           timed_sizes_agree=agree).items():
        monkeypatch.setattr(gpu_check, name, fake)
    out = tmp_path / "R.md"
    with pytest.raises(RuntimeError, match="out of time"):
        gpu_check.main(["--out", str(out)])
    text = out.read_text()
    assert "**Partial" in text and "stopped by RuntimeError: out of time" in text
    assert "| 256 | 0.05 |" in text and "| 512 | 0.1 |" in text and "| 1024 |" not in text

    stop_at.clear()
    assert gpu_check.main(["--out", str(out)]) == 0
    text = out.read_text()
    assert "Partial" not in text and "| 1024 | 0.1 |" in text and "4 of 4 checks pass" in text
    agree_error["value"] = 1e-3
    assert gpu_check.main(["--out", str(out), "--sizes", "256"]) == 1
    assert "1 of 2 checks pass" in out.read_text()
