"""Dense GEMM against SCALE-Sim 3.0.0 / ZigZag 3.9.1 (docs/peer_gemm.md).
The closed forms below are written from the reference text, independently of accel_sim.engine."""

from math import ceil

import pytest
from hypothesis import given, settings, strategies as st

from accel_sim import load_config, simulate
from accel_sim.trace.synthetic import gemm_trace
from tests.sim.helpers import CONFIGS

SYSTOLIC = CONFIGS / "systolic_os_16x16.yaml"


def run(m, k, n, **overrides):
    cfg = load_config(SYSTOLIC, {f"pe_array.{k_}": v for k_, v in overrides.items()})
    header, chunks = gemm_trace(m, k, n, word_bytes=1)
    return simulate(header, chunks, cfg, "L1")


def test_64_cube_matches_scalesim_fold_costs():
    r = run(64, 64, 64, fold_overlap=False)
    assert r.compute_cycles == 1503
    t = r.traffic_bytes
    assert (t["sram_read"]["ifmap"], t["sram_read"]["filter"], t["sram_write"]["ofmap"]) == (16384, 16384, 4096)
    assert (t["dram_read"], t["dram_write"]) == (8192, 4096)
    assert r.cycles >= r.compute_cycles


def test_64_cube_matches_zigzag_cycles_and_energy():
    r = run(64, 64, 64, fold_overlap=True)
    assert r.compute_cycles == 1024
    assert r.energy_pj["total"] == pytest.approx(2_210_202, rel=0.01)
    assert r.energy_pj["dram"] == pytest.approx(3 * 4096 / 16 * 2600)


def test_ws_64_cube_matches_scalesim():
    assert run(64, 64, 64, dataflow="ws").compute_cycles == 16 * 110 - 1


def reference(m, k, n, rows, cols, dataflow, overlap):
    """SCALE-Sim / ZigZag closed forms from the reference file."""
    if dataflow == "os":
        folds, t, fill = ceil(m / rows) * ceil(n / cols), k, rows + cols - 2
        reads = (m * k * ceil(n / cols), k * n * ceil(m / rows))
        writes = m * n
    else:  # ws: K x N weight tile stationary, M rows streamed; partial sums out per K-fold
        folds, t, fill = ceil(k / rows) * ceil(n / cols), m, 2 * rows + cols - 2
        reads = (m * k * ceil(n / cols), k * n)
        writes = m * n * ceil(k / rows)
    cycles = folds * t if overlap else folds * (t + fill) - 1
    return cycles, reads, writes


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 70), k=st.integers(1, 70), n=st.integers(1, 70), rows=st.sampled_from([4, 8, 16, 12]),
       cols=st.sampled_from([4, 8, 16, 6]), dataflow=st.sampled_from(["os", "ws"]), overlap=st.booleans())
def test_other_shapes_and_arrays(m, k, n, rows, cols, dataflow, overlap):
    r = run(m, k, n, rows=rows, cols=cols, dataflow=dataflow, fold_overlap=overlap)
    cycles, (a_reads, b_reads), writes = reference(m, k, n, rows, cols, dataflow, overlap)
    assert r.compute_cycles == cycles
    t = r.traffic_bytes
    drained = m * n  # the ofmap is read once more to go to DRAM
    assert t["sram_read"]["ifmap"] == a_reads
    assert t["sram_read"]["filter"] == b_reads
    assert t["sram_write"]["ofmap"] == writes
    assert t["dram_read"] == m * k + k * n and t["dram_write"] == m * n
    assert t["sram_read"]["ofmap"] >= drained
