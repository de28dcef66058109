"""L0 / L1 / L2 against each other, and L1's event-per-tile simulation against the closed-form schedule."""

import pytest
from hypothesis import given, settings, strategies as st

from accel_sim import load_config, simulate
from accel_sim.engine.l1 import TileEngine
from tests.sim.helpers import CONFIGS, compute_only_trace, rtrl_like_trace, stage_demand

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
    cfg = load_config(CONFIGS / "edge_tiny.yaml", {"engine.l1_tile_cycles": 1.0, "engine.l1_max_tiles_per_op": 10**7,
                                                         "engine.l2_max_units_per_op": 10**7})
    header, chunks = rtrl_like_trace(8, 3, density=0.3)
    r1, r2 = simulate(header, chunks, cfg, "L1"), simulate(header, chunks, cfg, "L2")
    assert r1.cycles == pytest.approx(r2.cycles, abs=1)


def closed_form_step(ops, lat, tiles_of):
    """Length of one step of L1's machine with equal tiles, in O(1) per op (independent of the event
    loop): tile readiness is a max of linear functions of the tile index, so the array's and the
    write channel's finish times are attained at the first or the last tile."""
    dr = ix = dw = arr = 0.0
    for c, f, w, x in ops:
        tiles = tiles_of(c, f, w, x)
        a0, al = (dr + f / tiles + lat, dr + f + lat) if f > 0 else (0.0, 0.0)
        b0, bl = (ix + x / tiles, ix + x) if x > 0 else (0.0, 0.0)
        dr, ix = dr + f, ix + x
        r0, rl = max(a0, b0), max(al, bl)
        if c > 0:
            first, arr = max(arr, r0) + c / tiles, max(arr + c, r0 + c, rl + c / tiles)
        else:
            first, arr = max(arr, r0), max(arr, rl)
        if w > 0:
            dw = max(dw + w, first + w, arr + w / tiles)
    return max(arr, dw)


stage = st.tuples(*[st.one_of(st.just(0.0), st.floats(0.01, 50)) for _ in range(4)])


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.lists(stage, min_size=1, max_size=5), min_size=1, max_size=4),
       lat=st.integers(0, 30), max_tiles=st.integers(1, 40), tile_cycles=st.sampled_from([0.5, 1.0, 7.0]))
def test_l1_events_match_the_closed_form_schedule(ops, lat, max_tiles, tile_cycles):
    """L1's event-per-tile simulation gives every step the length of the closed-form equal-tile schedule."""
    cfg = load_config(CONFIGS / "edge_tiny.yaml", {
        "dram.latency_cycles": lat, "engine.l1_max_tiles_per_op": max_tiles, "engine.l1_tile_cycles": tile_cycles})
    bw = cfg.dram.bandwidth_bytes_per_cycle
    steps = [i for i, step in enumerate(ops) for _ in step]
    rows = [(c, f * bw, w * bw, x) for step in ops for (c, f, w, x) in step]
    engine = TileEngine(cfg)
    engine.run(stage_demand(steps, rows))
    got = engine.finish().steps()
    want = [closed_form_step(step, lat, engine.tile_count) for step in ops]
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert engine.timing.events == engine.timing.tiles + len(ops)  # one event per tile and per step end


def test_adaptive_tiles():
    cfg = load_config(CONFIGS / "edge_tiny.yaml", {"engine.l1_max_tiles_per_op": 16, "engine.l1_tile_cycles": 4.0})
    tiles = TileEngine(cfg).tile_count
    assert tiles(1000.0, 0.0, 0.0, 0.0) == 1  # one resource: nothing to overlap
    assert tiles(0.0, 0.0, 1000.0, 0.0) == 1
    assert tiles(20.0, 3.0, 0.0, 0.0) == 5  # ceil(longest stage / tile cycles)
    assert tiles(2.0, 0.0, 1.0, 0.0) == 1
    assert tiles(1000.0, 1.0, 0.0, 0.0) == 16  # capped


SAMPLES = sorted((CONFIGS.parent / "traces").glob("*.arrows"))


@pytest.mark.parametrize("trace", SAMPLES, ids=[p.stem for p in SAMPLES])
@pytest.mark.parametrize("name", ["sparse_skipping", "edge_tiny"])
def test_sample_traces_l1_within_one_percent_of_l2(trace, name):
    from accel_sim import simulate_file

    cfg = load_config(CONFIGS / f"{name}.yaml")
    r0, r1, r2 = (simulate_file(trace, cfg, f) for f in ("L0", "L1", "L2"))
    assert r1.cycles == pytest.approx(r2.cycles, rel=0.01)
    assert r0.cycles <= min(r1.cycles, r2.cycles)


@pytest.mark.parametrize("fidelity", ["L0", "L1", "L2"])
def test_batch_size_does_not_change_results(fidelity, monkeypatch):
    """The costing streams batches of whole steps; how the trace is cut must not change any number."""
    import accel_sim.engine.run as run

    cfg = load_config(CONFIGS / "edge_tiny.yaml")
    header, chunks = rtrl_like_trace(24, 12, steps_per_chunk=5)
    whole = simulate(header, chunks, cfg, fidelity).to_dict()
    monkeypatch.setattr(run, "BATCH_OPS", 7)  # every step its own batch, ops of a step kept together
    cut = simulate(header, chunks, cfg, fidelity).to_dict()
    for d in (whole, cut):
        d["simulation"].pop("wall_seconds")
    flat_whole, flat_cut = _flatten(whole), _flatten(cut)
    assert flat_cut.keys() == flat_whole.keys()
    for key, value in flat_whole.items():  # integers exactly, floats up to summation order
        if isinstance(value, float):
            assert flat_cut[key] == pytest.approx(value, rel=1e-12, abs=1e-9), key
        else:
            assert flat_cut[key] == value, key


def _flatten(tree, prefix=""):
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _flatten(sub, f"{prefix}{key}.").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in _flatten(sub, f"{prefix}{i}.").items()}
    return {prefix: tree}
