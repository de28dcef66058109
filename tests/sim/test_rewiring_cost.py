"""The simulator costs a rewiring (accel_sim/engine/rewiring.py): the changed values and, for a
compressed format, the rebuilt index, at the weights' level (DRAM if they spilled), and the grown
weights' zeroed columns of the influence matrix and gradient, under its own label. The records are moved past the last step here (so no op sees the changed masks, which
tests/sim/test_mask_changes.py covers): the trace then differs from the one without records by
exactly the rewirings' cost."""

from __future__ import annotations

import dataclasses

import pytest

from accel_sim import load_config, simulate
from accel_sim.hardware.formats import stored
from accel_sim.trace.io import TraceReader
from codesign.cli import main
from tests.sim.helpers import CONFIGS


@pytest.fixture(scope="module")
def rewired_trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("rw") / "run.arrows"
    args = ["train", "--task", "copy", "--task-option", "n_train=8", "--task-option", "n_test=3",
            "--task-option", "pattern_length=2", "--hidden", "7", "--weight-density", "0.4", "--epochs", "2",
            "--rewire-every", "9", "--rewire-fraction", "0.3", "--trace", str(path), "--quiet"]
    assert main(args) == 0
    reader = TraceReader(str(path))
    return reader.header, list(reader.chunks())


@pytest.mark.parametrize("config,overrides", [
    ("sparse_skipping", {}),  # weights compressed (csr) on chip
    ("dense_baseline", {}),  # uncompressed: values only
    ("sparse_skipping", {"sram.weights.size_bytes": 64}),  # the weights spill: DRAM traffic
    ("sparse_skipping", {"sram.influence.size_bytes": 64}),  # the influence matrix spills: its zeroed columns
])
@pytest.mark.parametrize("fidelity", ["L0", "L1", "L2"])
def test_rewiring_costs_its_values_and_index(rewired_trace, config, overrides, fidelity):
    header, chunks = rewired_trace
    cfg = load_config(CONFIGS / f"{config}.yaml", overrides)
    changes = [mc for c in chunks for mc in c.mask_changes]
    assert changes
    bare = [dataclasses.replace(c, mask_changes=()) for c in chunks]
    last = int(chunks[-1].step_ids[-1])
    rank = {s: i for i, s in enumerate(sorted({mc.step for mc in changes}))}  # distinct steps stay distinct
    late = tuple(dataclasses.replace(mc, step=last + 1 + rank[mc.step]) for mc in changes)
    chunks = bare[:-1] + [dataclasses.replace(bare[-1], mask_changes=late)]
    with_rw, without = simulate(header, chunks, cfg, fidelity), simulate(header, bare, cfg, fidelity)
    label = with_rw.by_label["rewiring"]
    assert label["events"] == len({mc.step for mc in changes}) and label["ops"] == len(changes)
    assert "rewiring" not in without.by_label
    # by hand: every record rewrites its changed values and, if compressed, its whole index, and
    # zeroes the influence matrix's and gradient's columns of the grown weights (n and 1 rows)
    word = cfg.pe_array.word_bytes
    spilled = set(with_rw.spilled_tensors)
    n = header.n_hidden
    moved = 0
    nnz = {name: p.nnz for name, p in header.patterns.items()}
    for mc in sorted(changes, key=lambda c: c.step):
        nnz[mc.pattern] += mc.added.size - mc.removed.size
        # weights of the pattern: values + index; compact per-step tensors of it (G): index only
        users = [t for t in header.tensors if t.pattern == mc.pattern and (t.kind == "weights" or t.compact)]
        assert users
        for t in users:
            fmt = cfg.sparsity.structured(cfg.index_units.format)
            meta = 0 if fmt == "uncompressed" else -(-stored(fmt, *t.shape, nnz[mc.pattern]).metadata_bits // 8)
            values = (mc.removed.size + mc.added.size) * word if t.kind == "weights" else 0
            moved += (values + 2 * meta) * (t.name in spilled)
        if any(t.kind == "weights" for t in users):  # grown parameters' zero columns
            moved += mc.added.size * word * (n * ("influence" in spilled) + 1 * ("grad" in spilled))
    dram = with_rw.traffic_bytes["dram_read"] + with_rw.traffic_bytes["dram_write"] - (
        without.traffic_bytes["dram_read"] + without.traffic_bytes["dram_write"])
    assert (moved > 0) == bool(spilled & {"W_in", "R", "influence", "grad"})
    for key, name in (("sram.weights.size_bytes", "R"), ("sram.influence.size_bytes", "influence")):
        assert (name in spilled) == (key in overrides)  # each small level does spill its tensor
    assert dram == pytest.approx(moved)
    assert label["dram_bytes"] == moved
    extra_energy = with_rw.energy_pj["total"] - without.energy_pj["total"]
    leak = with_rw.energy_pj["leakage"] - without.energy_pj["leakage"]
    assert extra_energy - leak == pytest.approx(label["energy_pj"], rel=1e-9)
    assert label["energy_pj"] > 0
    assert with_rw.cycles > without.cycles and with_rw.stall_cycles["rewiring"] > 0
    assert with_rw.stall_cycles["rewiring"] == pytest.approx(with_rw.cycles - without.cycles, abs=1.0)
