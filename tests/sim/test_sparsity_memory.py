"""Sparsity handling (gating / skipping / index-bound) and influence-matrix residency."""

import numpy as np
import pytest

from accel_sim import load_config, simulate
from accel_sim.trace.synthetic import spmm_trace
from tests.sim.helpers import CONFIGS, rtrl_like_trace

GATING = CONFIGS / "sparse_gating.yaml"


def _spmm(handling, **extra):
    cfg = load_config(GATING, {"sparsity.actions": [], "sparsity.handling": handling, **extra})
    header, chunks = spmm_trace(64, 96, 48, density=0.1, seed=1, word_bytes=2)
    return simulate(header, chunks, cfg, "L1")


def test_gating_lowers_energy_not_cycles():
    none, gating = _spmm("none"), _spmm("gating")
    assert gating.cycles == none.cycles
    assert gating.energy_pj["mac"] < 0.5 * none.energy_pj["mac"]
    assert gating.energy_pj["total"] < none.energy_pj["total"]


def test_skipping_lowers_cycles_and_energy():
    gating, skipping = _spmm("gating"), _spmm("skipping")
    assert skipping.cycles < gating.cycles
    assert skipping.energy_pj["total"] < gating.energy_pj["total"]
    assert skipping.traffic_bytes["sram_read"]["weights"] < gating.traffic_bytes["sram_read"]["weights"]


def test_slow_index_units_make_skipping_index_bound():
    fast = _spmm("skipping")
    slow = _spmm("skipping", **{"index_units.indices_per_cycle": 0.01, "index_units.count": 1})
    nnz = round(0.1 * 64 * 96)
    cols = load_config(GATING).pe_array.cols
    fetched = nnz * -(-48 // cols)  # the compressed A is streamed once per column fold (OS dataflow)
    assert slow.stall_cycles["index"] > 0.9 * slow.cycles
    assert slow.cycles == pytest.approx(fetched / 0.01, rel=0.02)  # bound by index decode alone
    assert fast.stall_cycles["index"] < 0.1 * fast.cycles


def test_influence_footprint_and_fit_or_spill():
    header, chunks = rtrl_like_trace(32, 6)
    P = header.n_influence_columns
    cfg = load_config(CONFIGS / "sparse_skipping.yaml")  # fp16 words
    fits = simulate(header, chunks, cfg, "L0")
    assert fits.memory_bytes["influence"] == 32 * P * 2
    assert fits.influence_on_chip and fits.traffic_bytes["dram_spill"] == 0
    small = load_config(CONFIGS / "sparse_skipping.yaml", {"sram.influence.size_bytes": 32 * P * 2 - 1})
    spills = simulate(header, chunks, small, "L0")
    assert not spills.influence_on_chip and "influence" in spills.spilled_tensors
    # spill traffic every step: at least the diagonal scale's read + write of all of M
    per_step = spills.traffic_bytes["dram_spill"] / spills.n_steps
    assert per_step >= 2 * 32 * P * 2
    assert spills.traffic_bytes["dram_read"] > fits.traffic_bytes["dram_read"] + 6 * 32 * P * 2


def test_spill_traffic_grows_with_steps():
    cfg = load_config(CONFIGS / "edge_tiny.yaml")
    a = simulate(*rtrl_like_trace(64, 4), cfg, "L0")
    b = simulate(*rtrl_like_trace(64, 8), cfg, "L0")
    assert "influence" in a.spilled_tensors
    assert b.traffic_bytes["dram_spill"] == pytest.approx(2 * a.traffic_bytes["dram_spill"], rel=0.2)


def test_result_json_keys():
    cfg = load_config(CONFIGS / "neuromorphic_mesh.yaml")
    d = simulate(*rtrl_like_trace(16, 3), cfg).to_dict()
    assert d["schema"] == "accel-sim/result/3"
    assert set(d["energy_pj"]) >= {"total", "mac", "sram", "dram", "index", "interconnect", "leakage"}
    parts = sum(v for k, v in d["energy_pj"].items() if not isinstance(v, dict) and k != "total")
    assert d["energy_pj"]["total"] == pytest.approx(parts)
    assert set(d["traffic_bytes"]) >= {"dram_read", "dram_write", "sram_read", "sram_write"}
    assert isinstance(d["cycles"], int) and d["seconds"] == pytest.approx(d["cycles"] / 200e6, abs=1 / 200e6)  # cycles: whole, seconds: exact
    assert "influence_sparse_update" in d["by_label"]
    assert np.isclose(sum(v["energy_pj"] for v in d["by_label"].values()),
                      parts - d["energy_pj"]["leakage"], rtol=1e-9)


@pytest.mark.parametrize("fidelity", ["L0", "L1"])
def test_activity_metrics_match_the_step_records(fidelity):
    """Fired fraction and |fired ∪ support| per step, against numpy's set union over the records."""
    header, chunks = rtrl_like_trace(48, 30, steps_per_chunk=7)
    res = simulate(header, chunks, load_config(CONFIGS / "edge_tiny.yaml"), fidelity)
    steps = [s for c in chunks for s in c.steps]
    n = header.n_hidden * len(steps)
    fired = sum(len(s.fired) for s in steps)
    union = sum(len(np.union1d(s.fired, s.support)) for s in steps)
    assert res.workload["activation_sparsity"] == pytest.approx(1 - fired / n)
    assert res.workload["active_set_fraction"] == pytest.approx(union / n)
