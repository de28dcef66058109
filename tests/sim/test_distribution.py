"""Work spread over the PEs from the real pattern (mapping.distribution): the busiest PE sets a
skipping matmul's array time; imbalance = busiest / mean, against brute force on the masks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from accel_sim import load_config, simulate
from accel_sim.trace.synthetic import sparse_matmul_trace
from tests.sim.helpers import CONFIGS, brute_pe_loads

PES = 4  # a 2 x 2 array, one MAC per cycle


def _run(a, b, distribution="rows_interleaved"):
    cfg = load_config(CONFIGS / "sparse_skipping.yaml", {
        "pe_array.rows": 2, "pe_array.cols": 2, "index_units.indices_per_cycle": 1e6,
        "mapping.distribution": {"default": distribution}})
    return simulate(*sparse_matmul_trace(a, b, word_bytes=2), cfg, "L0")


def _array_cycles(r) -> float:
    return r.compute_cycles + r.stall_cycles["imbalance"]


def brute_force(a: np.ndarray, b: np.ndarray, distribution: str) -> tuple[float, float]:
    """(busiest PE's MACs, mean) by visiting every effectual pair."""
    loads = brute_pe_loads(a, b, distribution, PES)
    return loads.max(), loads.sum() / PES


@settings(max_examples=15, deadline=None)
@given(per_row=st.integers(1, 6), groups=st.integers(1, 4), k=st.integers(6, 12), n=st.integers(1, 9),
       seed=st.integers(0, 99))
def test_uniform_work_divisible_by_the_pes_takes_the_balanced_time(per_row, groups, k, n, seed):
    assume(per_row < k)  # a fully dense A runs on the systolic closed forms, unspread
    rng = np.random.default_rng(seed)
    m = PES * groups
    a = np.zeros((m, k), bool)
    for i in range(m):
        a[i, rng.choice(k, size=min(per_row, k), replace=False)] = True
    r = _run(a, np.ones((k, n), bool))
    macs = int(a.sum()) * n
    assert _array_cycles(r) == macs / PES
    assert r.workload["pe_imbalance"] == pytest.approx(1.0)
    assert r.stall_cycles["imbalance"] == 0


@settings(max_examples=15, deadline=None)
@given(groups=st.integers(1, 4), k=st.integers(4, 10), c=st.integers(1, 3), seed=st.integers(0, 99))
def test_all_work_on_one_pes_share_multiplies_the_time_by_the_pe_count(groups, k, c, seed):
    """Non-zeros only in the rows of PE 0 (rows 0, 4, 8, ...): PE 0 does all the work, PES x the
    time of an even split (n a multiple of the PEs, so the even split is exact)."""
    m, n = PES * groups, PES * c
    rng = np.random.default_rng(seed)
    on_one = np.zeros((m, k), bool)
    on_one[0::PES] = rng.random((groups, k)) < 0.6
    on_one[0, 0] = True
    balanced = _run(on_one, np.ones((k, n), bool), "balanced")
    skewed = _run(on_one, np.ones((k, n), bool), "rows_interleaved")
    assert _array_cycles(balanced) == on_one.sum() * n / PES
    assert _array_cycles(skewed) == PES * _array_cycles(balanced)
    assert skewed.workload["pe_imbalance"] == pytest.approx(PES)


@settings(max_examples=20, deadline=None)
@given(m=st.integers(1, 11), k=st.integers(1, 9), n=st.integers(1, 11), da=st.floats(0.1, 1), db=st.floats(0.1, 1),
       seed=st.integers(0, 99),
       distribution=st.sampled_from(["rows_interleaved", "rows_blocked", "cols_interleaved", "cols_blocked"]))
def test_imbalance_is_busiest_over_mean_by_brute_force(m, k, n, da, db, seed, distribution):
    rng = np.random.default_rng(seed)
    a, b = rng.random((m, k)) < da, rng.random((k, n)) < db
    a[0, 0] = b[0, 0] = True  # at least one effectual MAC
    assume(int((a.astype(int) @ b.astype(int)).sum()) < m * k * n)  # all-dense work runs systolic, unspread
    busiest, mean = brute_force(a, b, distribution)
    r = _run(a, b, distribution)
    assert r.workload["pe_imbalance"] == pytest.approx(busiest / mean)
    assert _array_cycles(r) == busiest  # one MAC per PE per cycle; the busiest PE sets the time
