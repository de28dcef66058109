"""Run-length coding with a fixed number of bits per run forces padding entries when a zero run is
longer than the field holds; the costing fetches and multiplies them like data (issue 14): with a
dense B, every padding entry of A costs one more fetched A entry and n more MACs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel_sim import load_config, simulate
from accel_sim.hardware.formats import rle_padding
from accel_sim.trace.synthetic import sparse_matmul_trace
from tests.sim.helpers import CONFIGS

CONFIG = CONFIGS / "sparse_skipping.yaml"


def _run(a, n, run_bits):
    cfg = load_config(CONFIG, {"mapping.tensors.weights.formats": {"weights": {"type": "rle", "run_bits": run_bits}},
                               "mapping.distribution": {"default": "balanced"}})
    return simulate(*sparse_matmul_trace(a, np.ones((a.shape[1], n), bool), word_bytes=2), cfg, "L0")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 12), k=st.integers(8, 80), n=st.integers(1, 6),
       density=st.floats(0.02, 0.5), run_bits=st.integers(1, 4))
def test_padding_entries_are_fetched_and_multiplied(seed, m, k, n, density, run_bits):
    a = np.random.default_rng(seed).random((m, k)) < density
    if not a.any():
        a[0, 0] = True
    padding = rle_padding(np.flatnonzero(a), run_bits)
    short, wide = _run(a, n, run_bits), _run(a, n, 16)  # 16 bits: no run is too long, no padding
    assert rle_padding(np.flatnonzero(a), 16) == 0
    extra_macs = short.workload["executed_macs"] - wide.workload["executed_macs"]
    assert extra_macs == pytest.approx(padding * n, abs=1e-6)
    reads = [r.accesses["A"]["weights"]["read"]["actual"] for r in (short, wide)]
    assert reads[0] - reads[1] == pytest.approx(padding * reads[1] / a.sum(), rel=1e-9, abs=1e-6)
    # (cycles and energy also carry the run fields' metadata, which differs between the two widths)


def test_a_long_zero_run_needs_its_padding():
    a = np.zeros((1, 64), bool)
    a[0, [0, 40, 63]] = True  # gaps 39 and 22: with 3-bit runs (at most 7 zeros) 4 + 2 padding entries
    assert rle_padding(np.flatnonzero(a), 3) == 39 // 8 + 22 // 8
    r, base = _run(a, 5, 3), _run(a, 5, 16)
    assert r.workload["executed_macs"] - base.workload["executed_macs"] == pytest.approx(6 * 5)
    assert base.workload["executed_macs"] == pytest.approx(3 * 5)  # the three non-zeros times B's 5 columns
