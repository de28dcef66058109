"""SRAM bank conflicts (against brute force on the access pattern) and the operand queue (L1 against
L2, L0 as a lower bound, the queue's effect on overlapping port-bound and array-bound ops)."""

import math

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from accel_sim import load_config, simulate
from accel_sim.engine.banks import Geometry, conflict_factor
from accel_sim.engine.demand import Demand
from accel_sim.engine.l0 import AnalyticEngine
from accel_sim.engine.l1 import TileEngine
from accel_sim.engine.l2 import FineEngine
from tests.sim.helpers import CONFIGS, rtrl_like_trace

NAMES = ["dense_baseline", "sparse_gating", "sparse_skipping", "neuromorphic_mesh", "edge_tiny", "systolic_os_16x16"]


def brute_factor(rows, cols, shape, word_bytes, width, banks):
    """Busiest bank / mean bank over the distinct access words the selected elements touch."""
    pitch = math.ceil(shape[1] * word_bytes / width)
    words = {i * pitch + int(j * word_bytes // width) for i in np.flatnonzero(rows) for j in np.flatnonzero(cols)}
    if not words:
        return 1.0
    load = np.bincount([w % banks for w in words], minlength=banks)
    return banks * load.max() / load.sum()


@settings(max_examples=80, deadline=None)
@given(data=st.data(), m=st.integers(1, 12), n=st.integers(1, 40), banks=st.sampled_from([1, 2, 3, 4, 8, 16]),
       word_bytes=st.sampled_from([0.5, 1, 2, 4]), width=st.sampled_from([1, 4, 8, 16]))
def test_conflict_factor_is_busiest_over_mean_bank_by_brute_force(data, m, n, banks, word_bytes, width):
    if word_bytes > width:
        width = int(word_bytes)
    rows = np.array(data.draw(st.lists(st.booleans(), min_size=m, max_size=m)))
    cols = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    got = conflict_factor(rows[None], cols[None], (m, n), word_bytes, width, banks)
    assert got[0] == pytest.approx(brute_factor(rows, cols, (m, n), word_bytes, width, banks))
    assert 1.0 <= got[0] <= banks + 1e-12


@settings(max_examples=60, deadline=None)
@given(data=st.data(), r=st.integers(1, 4), n=st.integers(1, 70), word_bytes=st.sampled_from([0.5, 1, 2, 4]),
       width=st.sampled_from([1, 2, 4, 8, 16, 32]))
def test_touched_words_from_packed_bits_equal_those_from_the_mask(data, r, n, word_bytes, width):
    """The batch path counts the access words a column set touches per bank straight from its packed bits."""
    if word_bytes > width:
        width = int(word_bytes)
    geo = Geometry((3, n), word_bytes, width, 4)
    cols = np.array(data.draw(st.lists(st.booleans(), min_size=r * n, max_size=r * n))).reshape(r, n)
    fast = geo.packed_histogram(np.packbits(cols, axis=1, bitorder="little"))
    per = width / word_bytes
    assert (fast is None) == (per % 8 != 0 and 8 % per != 0)
    if fast is not None:
        np.testing.assert_array_equal(fast, geo.word_histogram(geo.words_of(cols)))


def test_conflict_factor_extremes():
    # a whole row-major tensor whose rows fill whole bank rounds: every bank equally loaded
    assert conflict_factor(None, None, (8, 64), 1, 16, 4)[0] == pytest.approx(1.0)
    # one column of a tensor whose row pitch is a multiple of the banks: every access on one bank
    col = np.zeros((1, 64), bool)
    col[0, 5] = True
    assert conflict_factor(None, col, (32, 64), 1, 16, 4)[0] == pytest.approx(4.0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("queue", [64, 4096, 10**6])
def test_queued_l1_within_one_percent_of_l2_and_l0_lower_bound(name, queue):
    cfg = load_config(CONFIGS / f"{name}.yaml", {"pe_array.operand_queue_bytes": queue})
    header, chunks = rtrl_like_trace(24, 10)
    r0, r1, r2 = (simulate(header, chunks, cfg, f) for f in ("L0", "L1", "L2"))
    assert r1.cycles == pytest.approx(r2.cycles, rel=0.01)
    assert r0.cycles <= min(r1.cycles, r2.cycles)
    for r in (r1, r2):
        assert 0 <= r.workload["operand_queue_peak_bytes"] <= queue
        busy = r.cycles - sum(r.stall_cycles.values())  # the array's busy cycles close the account
        assert busy == pytest.approx(r.compute_cycles, abs=1.0)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), n_hidden=st.integers(6, 20), density=st.floats(0.05, 0.6),
       queue=st.sampled_from([0, 1024, 65536]), name=st.sampled_from(NAMES))
def test_random_small_traces_l1_within_one_percent_of_l2(seed, n_hidden, density, queue, name):
    cfg = load_config(CONFIGS / f"{name}.yaml", {"pe_array.operand_queue_bytes": queue})
    header, chunks = rtrl_like_trace(n_hidden, 6, density=density, seed=seed)
    r0, r1, r2 = (simulate(header, chunks, cfg, f) for f in ("L0", "L1", "L2"))
    assert r1.cycles == pytest.approx(r2.cycles, rel=0.01)
    assert r0.cycles <= min(r1.cycles, r2.cycles) * (1 + 1e-12)
    assert r0.workload["bank_conflict_cycles"] == r1.workload["bank_conflict_cycles"] >= 0


def _ports_demand(rows, levels=("buffer", "act")):
    """Ops of one step with (array cycles, port cycles per level..., port bytes) only."""
    s = np.asarray(rows, np.float64)
    n = s.shape[0]
    z, iz = np.zeros(n), np.zeros(n, np.int64)
    port = {lv: s[:, 1 + i] for i, lv in enumerate(levels)}
    comp = np.max(s[:, :1 + len(levels)], axis=1)
    return Demand(step=iz, label=iz, label_names=("synthetic",), array_cycles=s[:, 0], compute_cycles=comp,
                  sram_port_cycles=np.max(np.stack(list(port.values())), axis=0), level_port_cycles=port,
                  interconnect_cycles=z, index_cycles=z, dram_read_bytes=z, dram_write_bytes=z, dram_spill_bytes=iz,
                  index_count=iz, interconnect_bytes=iz, macs_effective=iz, macs_executed=iz, sram_read={},
                  sram_write={}, energy={}, sram_energy={}, port_bytes=s[:, -1])


def _run(engine_cls, cfg, d):
    e = engine_cls(cfg)
    e.run(d)
    return e.finish()


@pytest.mark.parametrize("queue", [0, 100, 10**6])
def test_a_queue_overlaps_a_port_bound_op_with_an_array_bound_one(queue):
    """Op 1 keeps the array busy, op 2 waits on the act level's port: without a queue they serialise
    (the sum of max(array, port)); a queue lets that port deliver op 2 while the array still works
    on op 1, down to the per-resource bound; L1 and L2 agree on every size."""
    cfg = load_config(CONFIGS / "edge_tiny.yaml", {"pe_array.operand_queue_bytes": queue})
    d = _ports_demand([(100.0, 10.0, 0.0, 800.0), (10.0, 0.0, 100.0, 800.0)])
    t1, t2, t0 = _run(TileEngine, cfg, d), _run(FineEngine, cfg, d), _run(AnalyticEngine, cfg, d)
    assert t1.cycles == pytest.approx(t2.cycles, rel=0.01)
    assert t0.cycles <= t1.cycles
    serial = 100.0 + 100.0
    if queue == 0:
        assert t1.cycles == pytest.approx(serial)
        assert t1.stall["sram_port"] == pytest.approx(0.0 + 90.0)
    else:
        assert t1.cycles < serial
        assert t1.queue_peak_bytes <= queue
    if queue >= 1600:  # room for all the operands: op 2 is delivered while op 1 computes
        assert t1.cycles == pytest.approx(110.0, rel=0.02)


def test_queue_size_is_validated(tmp_path, capsys):
    from codesign.cli import main

    data = yaml.safe_load((CONFIGS / "edge_tiny.yaml").read_text())
    for value, field in ((-4, "pe_array.operand_queue_bytes"), ("lots", "pe_array.operand_queue_bytes")):
        data["pe_array"]["operand_queue_bytes"] = value
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(data))
        assert main(["validate-config", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{path}: {field}" in err, err
    del data["pe_array"]["operand_queue_bytes"]
    data["pe_array"]["operand_queue_bytez"] = 64  # a typo is an unknown key
    path.write_text(yaml.safe_dump(data))
    assert main(["validate-config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pe_array.operand_queue_bytez" in err and str(path) in err, err
    data["pe_array"]["operand_queue_bytes"] = "4 KiB"
    del data["pe_array"]["operand_queue_bytez"]
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).pe_array.operand_queue_bytes == 4096
