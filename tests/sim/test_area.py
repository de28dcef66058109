"""The area model: positive, linear in PEs and SRAM as its formulas say, ideal scaling with the node,
and one hand computation from the cited tables (Horowitz ISSCC 2014; 45 nm 6T SRAM cell)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from accel_sim import load_config
from accel_sim.hardware.area import area_mm2
from tests.sim.helpers import CONFIGS

SHIPPED = sorted(CONFIGS.glob("*.yaml"))


def test_edge_tiny_by_hand():
    cfg = load_config(CONFIGS / "edge_tiny.yaml")  # 8x8 fp16 PEs, 64 + 32 KiB SRAM, 1 decoder at 2 idx/cycle
    a = area_mm2(cfg)
    fp16_mac_um2 = 1640 + 1360  # Horowitz 2014, 45 nm: fp16 multiply + fp16 add
    sram_um2_per_bit = 0.346 / 0.7  # 45 nm 6T cell over 70 % array efficiency
    assert a["pe_array"] == pytest.approx(64 * fp16_mac_um2 / 1e6)
    assert a["sram.buffer"] == pytest.approx(64 * 1024 * 8 * sram_um2_per_bit / 1e6)
    assert a["sram.act"] == pytest.approx(32 * 1024 * 8 * sram_um2_per_bit / 1e6)
    assert a["index_units"] == pytest.approx(2 * 137 / 1e6)
    assert a["total"] == pytest.approx(sum(v for k, v in a.items() if k != "total"))


@settings(max_examples=20, deadline=None)
@given(config=st.sampled_from([c.stem for c in SHIPPED]), k=st.integers(2, 4), node=st.sampled_from([7, 22, 28, 65]))
def test_area_is_positive_and_scales_as_its_formulas_say(config, k, node):
    path = CONFIGS / f"{config}.yaml"
    base = load_config(path)
    a = area_mm2(base)
    assert all(v > 0 for key, v in a.items() if key != "index_units") and a["index_units"] >= 0
    rows = area_mm2(load_config(path, {"pe_array.rows": base.pe_array.rows * k}))
    assert rows["pe_array"] == pytest.approx(k * a["pe_array"])
    level = next(iter(base.sram))
    bigger = area_mm2(load_config(path, {f"sram.{level}.size_bytes": base.sram[level].size_bytes * k}))
    assert bigger[f"sram.{level}"] == pytest.approx(k * a[f"sram.{level}"])
    scaled = area_mm2(load_config(path, {"technology_nm": node}))
    assert scaled["total"] == pytest.approx(a["total"] * (node / 45) ** 2)


def test_given_areas_override_the_tables():
    cfg = load_config(CONFIGS / "edge_tiny.yaml", {"pe_array.mac_area_um2": 1000.0, "sram.act.area_mm2_per_mib": 2.0})
    a = area_mm2(cfg)
    assert a["pe_array"] == pytest.approx(64 * 1000 / 1e6)
    assert a["sram.act"] == pytest.approx(2.0 * 32 / 1024)


@pytest.mark.parametrize("config", [c.stem for c in SHIPPED])
def test_power_is_energy_over_time_and_static_is_the_configs_leakage(config):
    """average = total pJ / simulated s; static = PE leakage (x PE busy fraction when event-driven)
    + each level's leakage, from the YAML by hand; peak >= average; dynamic = average - static;
    at twice the clock the same work draws the same dynamic energy in half the time."""
    from accel_sim import simulate_file
    from tests.sim.helpers import ROOT

    trace = str(ROOT / "traces" / "sparse_rtrl_h16.arrows")
    cfg = load_config(CONFIGS / f"{config}.yaml")
    r = simulate_file(trace, cfg, "L0")
    p = r.power_mw
    assert p["average"] > 0 and p["peak"] >= p["average"] and p["static"] >= 0
    assert p["average"] == pytest.approx(r.energy_pj["total"] / r.seconds / 1e9)
    busy = r.compute_cycles / r.cycles if cfg.mapping.event_driven else 1.0
    leak = cfg.pe_array.leakage_mw * busy + sum(lv.leakage_mw for lv in cfg.sram.values())
    assert p["static"] == pytest.approx(leak, rel=1e-4)  # compute_cycles is the busy time rounded
    assert p["dynamic"] == pytest.approx(max(p["average"] - p["static"], 0.0))
    fast = simulate_file(trace, load_config(CONFIGS / f"{config}.yaml", {"clock_hz": 2 * cfg.clock_hz}), "L0")
    if fast.cycles == r.cycles:  # DRAM time is in cycles of the same clock: equal cycles, half the seconds
        assert fast.seconds == pytest.approx(r.seconds / 2)
        dyn = r.energy_pj["total"] - r.energy_pj["leakage"]
        assert fast.power_mw["dynamic"] == pytest.approx(2 * dyn / r.seconds / 1e9, rel=1e-6)
