"""The three sparse dot products of Sparseloop's tutorial (docs/peer_sparse.md), rebuilt with
``sparse_matmul_trace`` and configs in this toolkit's vocabulary (tests/sim/sparseloop/): cycles,
energy by tensor and access counts against Sparseloop's reference outputs, which are written here
from the reference, independently of accel_sim."""

from __future__ import annotations

import numpy as np
import pytest

from accel_sim import load_config, simulate
from accel_sim.trace.synthetic import sparse_matmul_trace
from tests.sim.helpers import ROOT

DESIGNS = ROOT / "tests" / "sim" / "sparseloop"

# Sparseloop's reference outputs: cycles, energy (pJ) by MAC / A / B / Z and total, and access
# counts as (actual, gated, skipped); A's metadata reads.
REFERENCE = {
    "dudu": dict(cycles=16, mac=5.04, A=31.33, B=31.33, Z=59.55, total=127.27, a_reads=16, a_meta=0,
                 b_reads=(16, 0, 0), z_reads=(15, 0, 0), z_updates=(16, 0, 0), computes=16),
    "sudu": dict(cycles=16, mac=1.26, A=31.33, B=7.83, Z=13.42, total=53.87, a_reads=16, a_meta=0,
                 b_reads=(4, 12, 0), z_reads=(3, 12, 0), z_updates=(4, 12, 0), computes=4),
    "scdu": dict(cycles=4, mac=1.26, A=3.10, B=2.33, Z=3.79, total=10.49, a_reads=4, a_meta=4,
                 b_reads=(4, 0, 12), z_reads=(3, 0, 12), z_updates=(4, 0, 12), computes=4),
}


def _workload():
    a = np.zeros((1, 16), bool)
    a[0, [1, 6, 9, 14]] = True  # density 0.25, K = 16
    return sparse_matmul_trace(a, np.ones((16, 1), bool), word_bytes=1)


def _states(counts: dict) -> tuple[float, float, float]:
    return counts["actual"], counts["gated"], counts["skipped"]


@pytest.mark.parametrize("design", list(REFERENCE))
@pytest.mark.parametrize("fidelity", ["L0", "L1", "L2"])
def test_sparseloop_dot_products(design, fidelity):
    ref = REFERENCE[design]
    cfg = load_config(DESIGNS / f"{design}.yaml")
    r = simulate(*_workload(), cfg, fidelity)
    assert r.compute_cycles == ref["cycles"]
    if fidelity == "L0":
        assert r.cycles == ref["cycles"]
    else:  # L1 / L2 also pipeline the coordinate decode ahead of the MAC: at most one cycle more
        assert ref["cycles"] <= r.cycles <= ref["cycles"] + 1
    acc = r.accesses
    a, b, z = acc["A"]["buffer"], acc["B"]["buffer"], acc["Z"]["buffer"]
    assert a["read"]["actual"] == pytest.approx(ref["a_reads"], rel=0.01)
    assert a.get("metadata_read", {"actual": 0})["actual"] == pytest.approx(ref["a_meta"], rel=0.01)
    assert _states(b["read"]) == pytest.approx(ref["b_reads"], rel=0.01, abs=0.01)
    assert _states(z["read"]) == pytest.approx(ref["z_reads"], rel=0.01, abs=0.01)
    assert _states(z["write"]) == pytest.approx(ref["z_updates"], rel=0.01, abs=0.01)
    assert r.workload["executed_macs"] - r.workload["gated_macs"] == ref["computes"]

    # energy per tensor: its access counts times the buffer's per-action energies (the design's ERT)
    buf = cfg.sram["buffer"]
    meta_e = buf.metadata_read_energy_pj or 0.0
    energy = {
        "A": a["read"]["actual"] * buf.read_energy_pj + a.get("metadata_read", {"actual": 0})["actual"] * meta_e,
        "B": b["read"]["actual"] * buf.read_energy_pj,
        "Z": z["read"]["actual"] * buf.read_energy_pj + z["write"]["actual"] * buf.write_energy_pj,
    }
    for tensor in "ABZ":
        assert energy[tensor] == pytest.approx(ref[tensor], rel=0.01), tensor
    by = r.energy_pj["by_component"]
    assert by["pe_array"]["mac"] + by["pe_array"]["gated_mac"] == pytest.approx(ref["mac"], rel=0.01)
    buffer_dynamic = sum(v for k, v in by["sram.buffer"].items() if k != "leakage")
    assert buffer_dynamic == pytest.approx(energy["A"] + energy["B"] + energy["Z"], rel=1e-9)
    assert r.energy_pj["total"] == pytest.approx(ref["total"], rel=0.01)
