"""The simulator uses what trace v2 declares: footprints are the declared sizes, operand roles come
from the op, and zeros a learner declares (dense RTRL's masked and inactive entries) are visible to
hardware that skips them."""

from __future__ import annotations

import numpy as np
import pytest

from accel_sim import load_config, simulate, simulate_file
from accel_sim.engine.dataflow import gemm_cost
from accel_sim.hardware.actions import storage_format
from accel_sim.hardware.formats import stored
from accel_sim.trace.io import read_trace
from accel_sim.trace.synthetic import gemm_trace
from codesign.columns import config_columns, trace_kinds
from codesign.pipeline import HardwareResult
from tests.sim.helpers import CONFIGS, ROOT

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
SAMPLES = {m: ROOT / "traces" / f"{m}_h16.arrows" for m in ("sparse_rtrl", "dense_rtrl", "bptt")}


@pytest.fixture(scope="module")
def results():
    return {(cfg.stem, method): simulate_file(path, load_config(cfg), "L0")
            for cfg in SHIPPED for method, path in SAMPLES.items()}


@pytest.mark.parametrize("config", [c.stem for c in SHIPPED])
def test_footprints_are_the_declared_sizes(results, config):
    cfg = load_config(CONFIGS / f"{config}.yaml")
    wb = cfg.pe_array.word_bytes
    for method in ("sparse_rtrl", "dense_rtrl"):
        h = read_trace(SAMPLES[method]).header
        r = results[(config, method)]
        t = h.tensor("influence")
        fmt = storage_format(cfg, h, h.tensors.index(t), cfg.placement("influence").level).type
        if fmt == "uncompressed":
            expected = h.n_hidden * h.n_influence_columns * wb
        else:  # stored compressed: only the columns the trace declares can hold non-zeros, plus metadata
            kept = h.n_influence_columns if t.cols is None else next(
                s.members.size for s in h.index_sets if s.name == t.cols)
            s = stored(fmt, h.n_hidden, h.n_influence_columns, h.n_hidden * kept)
            expected = s.entries * wb + -(-s.metadata_bits // 8)
            assert s.entries == h.n_hidden * kept
        assert r.memory_bytes["influence"] == expected
        assert r.memory_bytes["footprint"]["influence"] == expected
    h = read_trace(SAMPLES["bptt"]).header
    n, n_in, n_out = h.n_hidden, h.n_in, h.n_out
    parameters = 3 * n * n_in + 3 * n * n + 5 * n + n_out * n + n_out
    weights = sum(v for k, v in results[(config, "bptt")].memory_bytes["footprint"].items()
                  if h.tensor(k).kind == "weights")
    assert weights <= parameters * wb
    history = h.tensor("history")
    assert results[(config, "bptt")].memory_bytes["history"] == history.elements * wb


@pytest.mark.parametrize("config", [c.stem for c in SHIPPED])
def test_the_sweep_row_verdict_is_the_simulators(results, config):
    cfg = load_config(CONFIGS / f"{config}.yaml")
    for method in SAMPLES:
        r = results[(config, method)]
        row = HardwareResult(r.to_dict(), config_columns(cfg), trace_kinds(str(SAMPLES[method])), 1, 1).to_row()
        state = "influence" if method != "bptt" else "history"
        fits = state not in r.spilled_tensors
        assert bool(row["learning_state_fits_on_chip"]) == fits == r.memory_bytes["learning_state_fits_on_chip"]
        assert row["influence_fits_on_chip"] == row["learning_state_fits_on_chip"]
        # the row's learning state is the simulator's, at the levels the config maps it to
        assert row["learning_state_bytes"] == r.memory_bytes["learning_state"]
        levels = row["learning_state_levels"].split(" > ")
        assert set(levels) <= set(cfg.sram), (levels, list(cfg.sram))


def test_dense_rtrl_zeros_are_visible_to_skipping_hardware():
    """On every shipped config with index units (without them, skipping is index-bound on one PE),
    given decoders that keep up (one slow decoder can make skipping slower: test_sparsity_memory)."""
    with_index_units = [c.stem for c in SHIPPED if load_config(c).index_units.count > 0]
    assert len(with_index_units) >= 3
    fast = {"index_units.count": 16, "index_units.indices_per_cycle": 64.0, "sparsity.actions": [],
            "sparsity.structured_format": None}
    for config in with_index_units:
        skip = simulate_file(SAMPLES["dense_rtrl"], load_config(CONFIGS / f"{config}.yaml",
                                                                {**fast, "sparsity.handling": "skipping"}), "L1")
        none = simulate_file(SAMPLES["dense_rtrl"], load_config(CONFIGS / f"{config}.yaml",
                                                                {**fast, "sparsity.handling": "none"}), "L1")
        assert skip.cycles < none.cycles, config
        assert skip.compute_cycles < none.compute_cycles, config
        assert skip.workload["executed_macs"] == skip.workload["effective_macs"] < none.workload["executed_macs"]


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_gemm_operand_traffic_goes_to_each_operands_own_level(dataflow):
    """Without gemm_roles, A (weights), B (input) and Z (activations) are read / written at the
    levels their kinds map to, in the dataflow's word counts: the roles come from the op."""
    m, k, n = 40, 24, 56
    cfg = load_config(CONFIGS / "systolic_os_16x16.yaml", {"pe_array.dataflow": dataflow})
    cfg = cfg.model_copy(update={"mapping": cfg.mapping.model_copy(update={"gemm_roles": None})})
    r = simulate(*gemm_trace(m, k, n), cfg, "L0")
    gc = gemm_cost(np.array([m]), np.array([k]), np.array([n]), 16, 16, dataflow, cfg.pe_array.fold_overlap)
    place = cfg.mapping.tensors
    reads, writes = r.traffic_bytes["sram_read"], r.traffic_bytes["sram_write"]
    expected_reads = {lv: 0 for lv in cfg.sram}
    expected_reads[place["weights"].level] += int(gc.a_read_words[0])
    expected_reads[place["input"].level] += int(gc.b_read_words[0])
    expected_reads[place["activations"].level] += int(gc.c_read_words[0])
    drained = r.by_label.get("writeback_at_end", {}).get("dram_bytes", 0)
    assert reads[place["weights"].level] == expected_reads[place["weights"].level]
    assert reads[place["input"].level] == expected_reads[place["input"].level]
    assert reads[place["activations"].level] == expected_reads[place["activations"].level] + drained
    assert writes[place["activations"].level] == int(gc.c_write_words[0])
