"""The benchmarks still run against today's APIs: every ``benchmarks/bench_*.py`` imports, and the
pieces that turn recorded work into the reported ratios run on a tiny model (a renamed or removed
API broke ``make bench`` once without any test noticing). Timings are not asserted."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"_smoke_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", BENCHMARKS, ids=[p.stem for p in BENCHMARKS])
def test_benchmark_imports(path):
    module = _load(path)
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"


def test_bench_rtrl_counts_run_on_a_tiny_model():
    from rtrl import EGRU

    bench = _load(ROOT / "benchmarks" / "bench_rtrl.py")
    model = EGRU(bench.N_IN, 12, bench.N_OUT, weight_density=0.3, seed=0)
    xs = bench.inputs(10)
    dense, sparse = bench.macs_per_step(model, "dense_rtrl", xs), bench.macs_per_step(model, "sparse_rtrl", xs)
    assert dense > sparse > 0
    cost = bench.cost_count(model, bench.sequences(2, 6))
    assert cost.update_macs == pytest.approx(cost.counted)  # the count docs/model.md gives


def test_bench_fill_quick_runs(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_fill.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fill (all of M)" in done.stdout
    fills = [float(line.split("|")[4]) for line in done.stdout.splitlines()
             if line.startswith("| digits, 8 steps") and line.count("|") == 11]  # the fill table's rows
    assert fills and all(0.0 <= f <= 1.0 for f in fills) and np.all(np.diff(fills[:-1]) >= 0)  # fill grows
