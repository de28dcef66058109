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
