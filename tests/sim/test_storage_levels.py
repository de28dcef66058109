"""A tensor through several storage levels (DRAM -> global buffer -> PE-local buffer): fills, passes
and bypasses follow the chain; a level it does not fit at stages every access to the next level out."""

from __future__ import annotations

import numpy as np
import yaml

from accel_sim import load_config, simulate
from accel_sim.engine.dataflow import gemm_cost
from accel_sim.trace.synthetic import gemm_trace

M, K, N = 32, 48, 16
WB = 2


def _config(tmp_path, weights: dict, pe_bytes: int = 4096):
    cfg = {
        "schema": "accel-sim/hw/1", "name": "two_levels", "clock_hz": "1 GHz",
        "pe_array": {"rows": 4, "cols": 4, "macs_per_cycle": 1, "datatype": "fp16", "dataflow": "os",
                     "fold_overlap": True, "mac_energy_pj": 1.0},
        "sram": {"gb": {"size_bytes": 65536, "banks": 1, "width_bytes": 16, "ports": 2,
                        "read_energy_pj": 10.0, "write_energy_pj": 11.0},
                 "pe": {"size_bytes": pe_bytes // 16, "banks": 1, "width_bytes": 4, "ports": 2,
                        "read_energy_pj": 1.0, "write_energy_pj": 1.5, "scope": "pe_local"}},
        "dram": {"bandwidth_bytes_per_cycle": 16.0, "energy_pj_per_bit": 10.0},
        "index_units": {"count": 1, "indices_per_cycle": 4.0, "energy_pj_per_index": 0.1},
        "interconnect": {"bytes_per_cycle": 64.0, "energy_pj_per_byte": 0.5},
        "mapping": {"tensors": {"weights": weights, "input": {"level": "gb"}, "activations": {"level": "gb"}}},
    }
    path = tmp_path / "two_levels.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path)


def _a_reads() -> int:
    gc = gemm_cost(np.array([M]), np.array([K]), np.array([N]), 4, 4, "os", True)
    return int(gc.a_read_words[0])


def test_weights_pass_from_dram_through_the_global_buffer_to_the_pes(tmp_path):
    cfg = _config(tmp_path, {"via": ["gb"], "level": "pe", "from_dram": True})
    r = simulate(*gemm_trace(M, K, N, word_bytes=WB), cfg, "L1")
    size = M * K * WB
    assert r.accesses["A"]["pe"]["read"]["actual"] == _a_reads()
    assert r.memory_bytes["footprint_by_level"]["A"] == {"gb": size, "pe": size}
    assert r.traffic_bytes["dram_read"] == size  # loaded once
    t = r.traffic_bytes
    # gb: written by the fill from DRAM, read once to fill the PEs; B and Z are accessed there too
    b_and_z_reads = r.accesses["B"]["gb"]["read"]["actual"] * WB
    assert t["sram_write"]["pe"] == size
    assert t["sram_read"]["pe"] == _a_reads() * WB
    assert t["sram_read"]["gb"] == size + b_and_z_reads
    assert t["sram_write"]["gb"] == size + M * N * WB  # the fill, and Z's outputs


def test_a_level_not_listed_is_bypassed(tmp_path):
    r = simulate(*gemm_trace(M, K, N, word_bytes=WB), _config(tmp_path, {"level": "pe", "from_dram": True}), "L1")
    size = M * K * WB
    assert "gb" not in r.memory_bytes["footprint_by_level"]["A"]
    assert r.traffic_bytes["sram_write"]["pe"] == size  # DRAM fills the PE buffers directly
    assert r.traffic_bytes["sram_write"]["gb"] == M * N * WB


def test_a_level_too_small_stages_every_access_from_the_next_level_out(tmp_path):
    cfg = _config(tmp_path, {"via": ["gb"], "level": "pe", "from_dram": True}, pe_bytes=512)
    r = simulate(*gemm_trace(M, K, N, word_bytes=WB), cfg, "L1")
    reads = _a_reads() * WB
    assert r.traffic_bytes["dram_read"] == M * K * WB  # still resident in gb: loaded once
    assert r.traffic_bytes["sram_write"]["pe"] == reads  # every read arrives from gb
    assert r.traffic_bytes["sram_read"]["gb"] >= reads
    assert "A" not in r.spilled_tensors
