"""Properties of the sparse-hardware model: the actions' ordering (skipping <= gating <= none), the
storage formats' metadata against brute-force encodings, and formats on dense data costing exactly
their metadata."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel_sim import load_config, simulate
from accel_sim.hardware.formats import rle_padding, stored
from accel_sim.trace.synthetic import gemm_trace, sparse_matmul_trace
from tests.sim.helpers import CONFIGS

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
FAST_DECODERS = {"index_units.count": 8, "index_units.indices_per_cycle": 64.0}


def _bits(values: int) -> int:
    return math.ceil(math.log2(values)) if values > 1 else 0


def brute_force_bits(fmt: str, mask: np.ndarray, run_bits: int | None = None) -> tuple[int, int]:
    """(stored entries, metadata bits) by encoding ``mask`` explicitly."""
    rows, cols = mask.shape
    coords = [(i, j) for i in range(rows) for j in range(cols) if mask[i, j]]
    nnz = len(coords)
    if fmt == "uncompressed":
        return rows * cols, 0
    if fmt == "bitmap":
        return nnz, len(mask.ravel())
    if fmt == "coo":
        return nnz, sum(_bits(rows) + _bits(cols) for _ in coords)
    if fmt == "csr":
        offsets = [sum(1 for i, _ in coords if i < r) for r in range(rows + 1)]
        return nnz, sum(_bits(cols) for _ in coords) + len(offsets) * _bits(nnz + 1)
    if fmt == "csc":
        offsets = [sum(1 for _, j in coords if j < c) for c in range(cols + 1)]
        return nnz, sum(_bits(rows) for _ in coords) + len(offsets) * _bits(nnz + 1)
    if fmt == "rle":
        entries, run, limit = 0, 0, 2**run_bits - 1
        for value in mask.ravel():
            if value:
                entries, run = entries + 1, 0
            elif run == limit:  # the field is full: store a zero to restart the count
                entries, run = entries + 1, 0
            else:
                run += 1
        return entries, entries * run_bits
    raise AssertionError(fmt)


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 9), density=st.floats(0, 1), seed=st.integers(0, 999),
       fmt=st.sampled_from(["uncompressed", "bitmap", "coo", "csr", "csc", "rle"]), run_bits=st.integers(1, 4))
def test_format_sizes_match_brute_force_encodings(rows, cols, density, seed, fmt, run_bits):
    mask = np.random.default_rng(seed).random((rows, cols)) < density
    flat = np.flatnonzero(mask.ravel())
    padding = rle_padding(flat, run_bits) if fmt == "rle" else 0
    s = stored(fmt, rows, cols, int(mask.sum()), padding, run_bits if fmt == "rle" else None)
    # rle pads only between entries: a trailing run needs no padding entry
    expected = brute_force_bits(fmt, mask[:, :] if fmt != "rle" else _trim_trailing(mask), run_bits)
    assert (s.entries, s.metadata_bits) == expected


def _trim_trailing(mask: np.ndarray) -> np.ndarray:
    flat = mask.ravel()
    last = np.flatnonzero(flat)
    return flat[: last[-1] + 1 if last.size else 0].reshape(1, -1)


def _actions(action: str) -> list[dict]:
    return [{"target": "A", "action": action, "condition_on": ["B"]},
            {"target": "B", "action": action, "condition_on": ["A"]},
            {"target": "Z", "action": action, "condition_on": ["A", "B"]},
            {"target": "compute", "action": action, "condition_on": ["A", "B"]}]


@settings(max_examples=12, deadline=None)
@given(m=st.integers(1, 24), k=st.integers(1, 40), n=st.integers(1, 24), da=st.floats(0.05, 1), db=st.floats(0.05, 1),
       seed=st.integers(0, 99), config=st.sampled_from([c.stem for c in SHIPPED]), compressed=st.booleans())
def test_skipping_never_slower_than_gating_and_gating_never_costlier_than_none(m, k, n, da, db, seed, config,
                                                                              compressed):
    """The same actions gated or skipped, on the same storage formats, with decoders that keep up
    and work split evenly over the PEs (slow decoders can make skipping index-bound:
    test_sparsity_memory; an uneven split can make it slower than the dense array: test_distribution;
    and the ``skipping`` shorthand also compresses, which can cost more than it saves on dense-ish data)."""
    rng = np.random.default_rng(seed)
    trace = sparse_matmul_trace(rng.random((m, k)) < da, rng.random((k, n)) < db, word_bytes=2)
    base = load_config(CONFIGS / f"{config}.yaml")
    overrides = {"sparsity.handling": "none", "sparsity.structured_format": None,
                 "mapping.distribution": {"default": "balanced"}, **FAST_DECODERS}
    if compressed:
        overrides[f"mapping.tensors.weights.formats"] = {base.placement("weights").level: "csr"}

    def run(actions):
        return simulate(*trace, load_config(CONFIGS / f"{config}.yaml", {**overrides, "sparsity.actions": actions}), "L0")

    none, gating, skipping = run([]), run(_actions("gating")), run(_actions("skipping"))
    assert skipping.cycles <= gating.cycles
    assert gating.cycles == none.cycles
    assert gating.energy_pj["total"] <= none.energy_pj["total"] * (1 + 1e-12)
    assert skipping.workload["executed_macs"] == gating.workload["executed_macs"] - gating.workload["gated_macs"]


@pytest.mark.parametrize("fmt", ["bitmap", "coo", "csr", "csc", {"type": "rle", "run_bits": 3}])
def test_formats_on_dense_data_cost_the_dense_traffic_plus_their_metadata(fmt):
    m, k, n = 24, 40, 8
    base = {"sparsity.actions": [], "sparsity.structured_format": None}  # no sparse actions, nothing compressed
    plain = simulate(*gemm_trace(m, k, n, word_bytes=2), load_config(CONFIGS / "sparse_skipping.yaml", base), "L0")
    packed_cfg = load_config(CONFIGS / "sparse_skipping.yaml", {**base, "mapping.tensors.weights.formats": {"weights": fmt}})
    packed = simulate(*gemm_trace(m, k, n, word_bytes=2), packed_cfg, "L0")
    kind = fmt if isinstance(fmt, str) else fmt["type"]
    meta_accesses = packed.accesses["A"]["weights"]["metadata_read"]["actual"]
    width_bits = 8 * packed_cfg.sram["weights"].width_bytes
    bits_per_entry = {"bitmap": None, "coo": _bits(m) + _bits(k), "csr": _bits(k), "csc": _bits(m), "rle": 3}[kind]
    # bitmap: one bit per element; the others one coordinate (or run field) per stored entry,
    # i.e. per element of dense data
    meta_bits = m * k * (1 if kind == "bitmap" else bits_per_entry)
    assert meta_accesses == math.ceil(meta_bits / width_bits)
    assert packed.accesses["A"]["weights"]["read"] == plain.accesses["A"]["weights"]["read"]
    extra = packed.traffic_bytes["sram_read"]["weights"] - plain.traffic_bytes["sram_read"]["weights"]
    assert extra == pytest.approx(meta_bits / 8, abs=1)
    s = stored(kind, m, k, m * k, 0, 3 if kind == "rle" else None)
    assert packed.memory_bytes["footprint"]["A"] == m * k * 2 + math.ceil(s.metadata_bits / 8)
    assert plain.memory_bytes["footprint"]["A"] == m * k * 2
