"""L0 / L1 / L2 against each other, and L1's closed-form tiles against a tile-by-tile loop."""

import pytest
from hypothesis import given, settings, strategies as st

from accel_sim import load_config, simulate
from accel_sim.engine.l1 import TileEngine
from tests.sim.helpers import CONFIGS, compute_only_trace, rtrl_like_trace

NAMES = ["dense_baseline", "sparse_gating", "sparse_skipping", "neuromorphic_mesh", "edge_tiny", "systolic_os_16x16"]


@pytest.mark.parametrize("name", NAMES)
def test_l1_within_one_percent_of_l2_and_l0_is_a_lower_bound(name):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    header, chunks = rtrl_like_trace(24, 10)
    r0, r1, r2 = (simulate(header, chunks, cfg, f) for f in ("L0", "L1", "L2"))
    assert r1.cycles == pytest.approx(r2.cycles, rel=0.01)
    assert r0.cycles <= r1.cycles and r0.cycles <= r2.cycles
    assert r0.energy_pj["total"] - r0.energy_pj["leakage"] == pytest.approx(
        r1.energy_pj["total"] - r1.energy_pj["leakage"])
    assert r0.traffic_bytes == r1.traffic_bytes == r2.traffic_bytes


def test_l0_equals_l1_when_nothing_contends():
    cfg = load_config(CONFIGS / "sparse_skipping.yaml")
    header, chunks = compute_only_trace()
    r0, r1, r2 = (simulate(header, chunks, cfg, f) for f in ("L0", "L1", "L2"))
    assert r0.traffic_bytes["dram_read"] == 0
    assert r0.cycles == r1.cycles == r2.cycles


def test_l1_equals_l2_at_the_same_granularity():
    cfg = load_config(CONFIGS / "edge_tiny.yaml", {"engine.l1_tile_cycles": 1.0, "engine.l2_max_units_per_op": 10**7})
    header, chunks = rtrl_like_trace(8, 3, density=0.3)
    r1, r2 = simulate(header, chunks, cfg, "L1"), simulate(header, chunks, cfg, "L2")
    assert r1.cycles == pytest.approx(r2.cycles, abs=1)


durations = st.floats(0, 50, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(c=durations, f=durations, w=durations, x=durations, lat=st.integers(0, 30), tiles=st.integers(1, 40),
       p=st.floats(0, 40), dr=st.floats(0, 40), ix=st.floats(0, 40), dw=st.floats(0, 40))
def test_closed_form_matches_explicit_tiles(c, f, w, x, lat, tiles, p, dr, ix, dw):
    """The closed form inside TileEngine, extracted via a one-op step, equals the explicit loop."""
    arr, _, _, wfree = TileEngine.op_schedule_explicit(0.0, p, dr, ix, dw, c, f, w, x, lat, tiles)
    # closed form (as in TileEngine._steps)
    a0, al = (max(0, dr) + f / tiles + lat, max(0, dr) + f + lat) if f > 0 else (0.0, 0.0)
    b0, bl = (max(0, ix) + x / tiles, max(0, ix) + x) if x > 0 else (0.0, 0.0)
    r0, rl = max(a0, b0), max(al, bl)
    if c > 0:
        first = max(p, r0) + c / tiles
        end = max(p + c, r0 + c, rl + c / tiles)
    else:
        first, end = max(p, r0), max(p, rl)
    assert end == pytest.approx(arr, abs=1e-7)
    if w > 0:
        assert max(max(dw, 0) + w, first + w, end + w / tiles) == pytest.approx(wfree, abs=1e-7)


SAMPLES = sorted((CONFIGS.parent / "traces").glob("*.arrows"))


@pytest.mark.parametrize("trace", SAMPLES, ids=[p.stem for p in SAMPLES])
@pytest.mark.parametrize("name", ["sparse_skipping", "edge_tiny"])
def test_sample_traces_l1_within_one_percent_of_l2(trace, name):
    from accel_sim import simulate_file

    cfg = load_config(CONFIGS / f"{name}.yaml")
    r0, r1, r2 = (simulate_file(trace, cfg, f) for f in ("L0", "L1", "L2"))
    assert r1.cycles == pytest.approx(r2.cycles, rel=0.01)
    assert r0.cycles <= min(r1.cycles, r2.cycles)
