"""L1's timeline: one track per resource, SRAM levels included, with occupancy counters."""

from pathlib import Path

import pytest

from accel_sim import load_config, simulate_file

ROOT = Path(__file__).resolve().parents[2]


class Collector:
    def __init__(self):
        self.spans, self.counters = [], []

    def span(self, track, name, start, end, step):
        self.spans.append((track, name, start, end, step))

    def counter(self, track, cycle, value):
        self.counters.append((track, cycle, value))


def test_sram_levels_get_spans_inside_the_compute_stage_and_utilization_counters():
    cfg = load_config(ROOT / "hw_configs" / "sparse_skipping.yaml")
    tl = Collector()
    result = simulate_file(ROOT / "traces" / "sparse_rtrl_h16.arrows", cfg, "L1", timeline=tl)
    tracks = {s[0] for s in tl.spans}
    read = result.to_dict()["traffic_bytes"]["sram_read"]
    busy_levels = {lv for lv, b in read.items() if b > 0}
    assert {"pe_array", "dram_read"} <= tracks
    assert {f"sram:{lv}" for lv in busy_levels} <= tracks
    compute = {(s[1], s[4], s[2]): s[3] for s in tl.spans if s[0] == "pe_array"}
    for track, name, start, end, step in tl.spans:
        if track.startswith("sram:"):
            assert (name, step, start) in compute  # starts with its op's compute stage
            assert start <= end <= compute[(name, step, start)]  # and ends inside it
    names = {c[0] for c in tl.counters}
    assert {f"sram:{lv}_port_utilization" for lv in cfg.sram} <= names
    assert all(0.0 <= v <= 1.0 + 1e-9 for track, _, v in tl.counters if track.endswith("utilization"))
    occupancy = {t: v for t, _, v in tl.counters if t.endswith("_occupancy_bytes")}
    assert set(occupancy) == {f"sram:{lv}_occupancy_bytes" for lv in cfg.sram}
    resident = result.to_dict()["memory_bytes"]["peak_resident"]
    assert occupancy == {f"sram:{lv}_occupancy_bytes": b for lv, b in resident.items()}
    assert resident[cfg.placement("influence").level] >= result.to_dict()["memory_bytes"]["influence"]


def _by_track(counters, track):
    return [v for t, _, v in counters if t == track]


def test_imbalance_counters_add_up_to_the_result_and_vanish_when_balanced():
    trace = ROOT / "traces" / "sparse_rtrl_h16.arrows"
    for overrides in ({}, {"pe_array.operand_queue_bytes": 4096}):
        cfg = load_config(ROOT / "hw_configs" / "sparse_skipping.yaml", overrides)
        tl = Collector()
        result = simulate_file(trace, cfg, "L1", timeline=tl)
        w = result.to_dict()["workload"]
        lost = _by_track(tl.counters, "pe_imbalance_cycles")
        ratio = _by_track(tl.counters, "pe_imbalance")
        assert len(lost) == len(ratio) == result.n_steps  # one per step (every step has ops)
        assert sum(lost) == pytest.approx(w["imbalance_cycles"])
        assert all(1.0 - 1e-9 <= r <= w["pe_imbalance_worst_op"] + 1e-9 for r in ratio)
        assert w["imbalance_cycles"] == 0 or max(ratio) > 1.0
        if not overrides:
            util = _by_track(tl.counters, "pe_array_utilization")
            work = _by_track(tl.counters, "pe_work_utilization")
            assert all(0.0 <= u <= a + 1e-9 for u, a in zip(work, util))
    cfg = load_config(ROOT / "hw_configs" / "sparse_skipping.yaml", {"mapping.distribution": {"default": "balanced"}})
    tl = Collector()
    simulate_file(trace, cfg, "L1", timeline=tl)
    assert set(_by_track(tl.counters, "pe_imbalance")) == {1.0}
    assert set(_by_track(tl.counters, "pe_imbalance_cycles")) == {0.0}
