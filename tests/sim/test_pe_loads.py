"""Per-PE work of the heaviest steps (accel_sim/engine/pe_loads.py, simulate(..., pe_loads=k)): each
spread op's loads against brute force over the masks' effectual pairs, summing to its effectual
MACs, with the busiest PE the one its array time follows; the steps kept are the heaviest."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import accel_sim.engine.run as run
from accel_sim import load_config, simulate
from accel_sim.engine.demand import Costing
from accel_sim.engine.placement import Placement
from accel_sim.engine.timing import step_groups
from accel_sim.trace.synthetic import sparse_matmul_trace
from accel_sim.trace.work import WorkModel
from tests.sim.helpers import CONFIGS, brute_pe_loads, rtrl_like_trace

PES = 4  # a 2 x 2 array


def _config(distribution: str):
    return load_config(CONFIGS / "sparse_skipping.yaml", {
        "pe_array.rows": 2, "pe_array.cols": 2, "index_units.indices_per_cycle": 1e6,
        "mapping.distribution": {"default": distribution}})


def brute_loads(a: np.ndarray, b: np.ndarray, distribution: str) -> np.ndarray:
    """(PES,) MACs per PE by visiting every effectual pair."""
    return brute_pe_loads(a, b, distribution, PES)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 11), k=st.integers(1, 9), n=st.integers(1, 11), da=st.floats(0.05, 0.9),
       db=st.floats(0.05, 1.0), seed=st.integers(0, 999),
       distribution=st.sampled_from(["rows_interleaved", "rows_blocked", "cols_interleaved", "cols_blocked"]))
def test_per_pe_loads_match_brute_force(m, k, n, da, db, seed, distribution):
    rng = np.random.default_rng(seed)
    a, b = rng.random((m, k)) < da, rng.random((k, n)) < db
    r = simulate(*sparse_matmul_trace(a, b, word_bytes=2), _config(distribution), "L0", pe_loads=2)
    want = brute_loads(a, b, distribution)
    if not r.heaviest_steps:  # nothing spread: no effectual pair, or a dense product on the systolic array
        assert want.sum() == 0 or (a.all() and b.all())
        return
    (step,) = r.heaviest_steps
    (op,) = step.ops
    np.testing.assert_array_equal(op.loads, want)
    assert op.macs == want.sum() == r.workload["effective_macs"]
    assert op.busiest == want.max()
    # the busiest PE is the one the run reports: imbalance = busiest / mean PE
    assert r.workload["pe_imbalance"] == pytest.approx(op.busiest / (op.macs / PES))
    np.testing.assert_array_equal(step.loads, want)
    assert step.imbalance == pytest.approx(r.workload["pe_imbalance"])


@pytest.fixture(scope="module")
def trace():
    return rtrl_like_trace(n_hidden=24, n_steps=40, density=0.25, seed=5)


def _step_array_cycles(header, chunks, cfg) -> dict[int, float]:
    """Every step's PE-array cycles (all its ops), from the costing of the whole trace at once."""
    ids = np.concatenate([c.step_ids for c in chunks])
    bits = np.concatenate([c.set_bits for c in chunks])
    ops = {k: np.concatenate([c.ops[k] for c in chunks]) for k in chunks[0].ops}
    d = Costing(cfg, header).demand(ids, bits, ops, Placement(cfg, header))
    g, n = step_groups(d.step)
    first = np.searchsorted(g, np.arange(n))
    return dict(zip(d.step[first].tolist(), np.bincount(g, d.array_cycles, n).tolist()))


@pytest.mark.parametrize("config", ["sparse_skipping", "neuromorphic_mesh"])
def test_heaviest_steps_of_an_rtrl_trace(trace, config, monkeypatch):
    header, chunks = trace
    cfg = load_config(CONFIGS / f"{config}.yaml")
    k = 3
    one = simulate(header, chunks, cfg, "L0", pe_loads=k)
    monkeypatch.setattr(run, "BATCH_OPS", 40)  # many batches: the best of each batch compete
    many = simulate(header, chunks, cfg, "L1", pe_loads=k)
    assert [s.step for s in one.heaviest_steps] == [s.step for s in many.heaviest_steps]
    assert len(one.heaviest_steps) == k
    cycles = _step_array_cycles(header, chunks, cfg)
    kept = [s.array_cycles for s in one.heaviest_steps]
    assert kept == sorted(kept, reverse=True)
    assert all(s.array_cycles == pytest.approx(cycles[s.step]) for s in one.heaviest_steps)
    assert min(kept) >= max(c for st_, c in cycles.items() if st_ not in {s.step for s in one.heaviest_steps})
    # each op's loads sum to its effectual MACs (both operands' zeros are skipped here)
    work = WorkModel(header)
    for s in one.heaviest_steps:
        chunk = next(c for c in chunks if s.step in c.step_ids)
        sel = chunk.ops["step"] == s.step
        w = work.batch(chunk.step_ids, chunk.set_bits, {c: v[sel] for c, v in chunk.ops.items()})
        effectual = {header.ops[o].name: e - sc for o, e, sc in zip(w.op.tolist(), w.effectual.tolist(),
                                                                     w.scale_effectual.tolist())}
        assert s.ops
        for op in s.ops:
            assert op.loads.shape == (cfg.pe_array.n_pes,)
            assert op.macs == effectual[op.op] and op.busiest == op.loads.max()


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 300), r=st.integers(1, 6), density=st.floats(0.0, 1.0),
       seed=st.integers(0, 999))
def test_pattern_rows_counted_by_bits_equal_the_product(m, k, r, density, seed):
    """The bit-count path of a spread's line work (pattern rows AND a member mask) against the matrix
    product, beyond 255 columns too (where per-word counts no longer fit a byte)."""
    from accel_sim.trace.header import Part, Pattern, Tensor
    from accel_sim.trace.spread import _masked_row_counts
    from accel_sim.trace.work import _Frame, _csr

    rng = np.random.default_rng(seed)
    mask = rng.random((m, k)) < density
    member = rng.random((r, k)) < 0.5
    frame = _Frame(Tensor("A", "weights", (m, k), pattern="p"), Part("A"), {"p": _csr(Pattern.from_mask(mask))}, {})
    got = _masked_row_counts(frame.words(), member)
    np.testing.assert_array_equal(np.asarray(got, np.int64), member.astype(np.int64) @ mask.T.astype(np.int64))


@settings(max_examples=40, deadline=None)
@given(width=st.integers(2, 40), units=st.integers(1, 20), r=st.integers(1, 5), big=st.booleans(),
       seed=st.integers(0, 999), interleaved=st.booleans())
def test_busiest_is_the_max_of_the_group_loads(width, units, r, big, seed, interleaved):
    """busiest (with its shortcut for lines dealt at most twice round) = the max of group_loads,
    for byte-sized line work whose pair sums overflow a byte."""
    from accel_sim.trace.spread import busiest, group_loads

    rng = np.random.default_rng(seed)
    work = rng.integers(0, 256 if big else 9, (r, width)).astype(np.uint8)
    lines = rng.integers(0, width + 1, r)
    want = np.asarray(group_loads(work.astype(np.int64), lines, units, interleaved), np.float64).max(axis=1)
    np.testing.assert_array_equal(busiest(work, lines, units, interleaved), want)
