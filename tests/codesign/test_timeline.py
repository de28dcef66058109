"""Perfetto export: cycles map to microseconds exactly, one named track per resource, valid
trace-event JSON; the step window keeps exactly the requested steps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accel_sim.trace.schema import OpRecord, SetLayout, TraceChunk
from accel_sim.trace.synthetic import gemm_trace
from codesign.cli import UsageError
from codesign.cli.timeline import parse_window, window_chunks
from codesign.report.perfetto import PerfettoTimeline


def test_spans_and_counters_become_trace_events(tmp_path):
    tl = PerfettoTimeline(clock_hz=500e6)
    tl.span("pe_group[0]", "gemm influence_sparse_update", 1000, 1500, step=3)
    tl.span("sram.ifmap", "read", 1200, 1300, step=3)
    tl.counter("sram.ifmap occupancy_bytes", 1250, 4096)
    tl.span("pe_group[0]", "elementwise gates", 1500, 1600, step=4)
    doc = json.loads(tl.write(tmp_path / "t.json").read_text())
    events = doc["traceEvents"]
    names = {e["args"]["name"]: e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert set(names) == {"pe_group[0]", "sram.ifmap"}
    spans = [e for e in events if e["ph"] == "X"]
    assert len(spans) == 3
    first = next(e for e in spans if e["args"]["step"] == 3 and e["tid"] == names["pe_group[0]"])
    assert first["ts"] == pytest.approx(1000 / 500e6 * 1e6) and first["dur"] == pytest.approx(1.0)
    counter = next(e for e in events if e["ph"] == "C")
    assert counter["args"]["value"] == 4096.0 and counter["ts"] == pytest.approx(2.5)
    assert [e["ts"] for e in events if e["ph"] != "M"] == sorted(e["ts"] for e in events if e["ph"] != "M")


def test_event_cap_counts_dropped_events():
    tl = PerfettoTimeline(clock_hz=1e9, max_events=5)
    for i in range(8):
        tl.span("pe", "op", i, i + 1, step=0)
    assert len(tl.events) == 5 and tl.dropped == 3


def _chunk(steps):
    layout = SetLayout.of(gemm_trace(2, 2, 2).header)
    records = [OpRecord(step=s, op=0, macs=8) for s in steps for _ in range(2)]
    return TraceChunk.from_records(layout, [(s, {}) for s in steps], records)


def test_window_keeps_exactly_the_requested_steps():
    chunks = [_chunk(range(0, 5)), _chunk(range(5, 10)), _chunk(range(10, 15))]
    got = list(window_chunks(iter(chunks), 3, 11))
    steps = [s.step for c in got for s in c.steps]
    assert steps == list(range(3, 11))
    ops_steps = np.concatenate([c.ops["step"] for c in got])
    assert sorted(set(ops_steps.tolist())) == list(range(3, 11)) and len(ops_steps) == 16
    assert all(len(v) == c.n_ops for c in got for v in c.ops.values())


@pytest.mark.parametrize("text,expected", [("0:16", (0, 16)), ("5:", (5, None)), (":8", (0, 8))])
def test_parse_window(text, expected):
    assert parse_window(text) == expected


@pytest.mark.parametrize("text", ["5", "a:b", "8:3", "-1:4", "4:4"])
def test_bad_window_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_window(text)


def test_timeline_shows_the_per_pe_work_of_the_heaviest_steps(tmp_path, capsys):
    """accel-sim timeline prints and writes the heaviest steps' per-PE loads: those of
    simulate(..., pe_loads=3) on the window, each op's adding up to its MACs."""
    from pathlib import Path

    from accel_sim import load_config, simulate
    from accel_sim.trace.io import TraceReader
    from codesign.cli import main

    root = Path(__file__).resolve().parents[2]
    trace, cfg = root / "traces" / "sparse_rtrl_h16.arrows", root / "hw_configs" / "sparse_skipping.yaml"
    out = tmp_path / "t.perfetto.json"
    assert main(["timeline", str(trace), "--config", str(cfg), "--out", str(out), "--steps", "2:9"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())["otherData"]["heaviest_steps"]
    reader = TraceReader(trace)
    want = simulate(reader.header, window_chunks(reader.chunks(), 2, 9), load_config(cfg), "L1", pe_loads=3)
    assert [s["step"] for s in saved] == [s.step for s in want.heaviest_steps] and len(saved) == 3
    assert all(2 <= s["step"] < 9 for s in saved)
    for s, w in zip(saved, want.heaviest_steps):
        assert s["loads"] == w.loads.tolist() and s["array_cycles"] == w.array_cycles
        assert all(sum(o["loads"]) == o["macs"] and max(o["loads"]) == o["busiest"] for o in s["ops"])
        assert f"step {w.step}: {w.array_cycles:,.0f} array cycles; busiest PE {int(np.argmax(w.loads))} " in printed
