"""Synthetic traces match their closed forms; ``trace info`` totals match the records and the work
derivation; the sample traces in traces/ are small, readable and consistent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel_sim.errors import InputError
from accel_sim.trace.io import read_trace, write_trace
from accel_sim.trace.stats import summarize
from accel_sim.trace.synthetic import gemm_trace, random_matmul_trace, sparse_mask, sparse_matmul_trace, spmm_trace
from accel_sim.trace.work import WorkModel
from codesign.cli import main

TRACES = Path(__file__).resolve().parents[2] / "traces"
SAMPLES = sorted(TRACES.glob("*.arrows"))
dims = st.integers(1, 40)


def work_of(trace):
    chunk = trace.chunks[0]
    return WorkModel(trace.header).batch(chunk.step_ids, chunk.set_bits, chunk.ops)


@settings(max_examples=25, deadline=None)
@given(m=dims, k=dims, n=dims, word_bytes=st.sampled_from([1, 2, 4]))
def test_gemm_closed_form(m, k, n, word_bytes):
    trace = gemm_trace(m, k, n, word_bytes=word_bytes)
    (op,) = trace.chunks[0].records()
    w = work_of(trace)
    assert (int(w.m[0]), int(w.k[0]), int(w.n[0])) == (m, k, n)
    assert op.macs == int(w.dense[0]) == int(w.effectual[0]) == m * k * n
    assert [t.name for t in trace.header.tensors] == ["A", "B", "Z"]
    assert [t.shape for t in trace.header.tensors] == [(m, k), (k, n), (m, n)]
    assert trace.header.method == "synthetic" and trace.header.dtype == f"int{8 * word_bytes}"
    assert [int(p.dense[0]) for p in w.parts] == [m * k, k * n, m * n]


masks = st.integers(1, 12).flatmap(lambda m: st.integers(1, 12).flatmap(lambda k: st.integers(1, 12).flatmap(
    lambda n: st.tuples(st.lists(st.booleans(), min_size=m * k, max_size=m * k).map(lambda v: np.reshape(v, (m, k))),
                        st.lists(st.booleans(), min_size=k * n, max_size=k * n).map(lambda v: np.reshape(v, (k, n)))))))


@settings(max_examples=50, deadline=None)
@given(masks)
def test_sparse_matmul_counts_only_effectual_pairs(ab):
    """Brute force: the pairs (i, k, j) with A[i, k] and B[k, j] both non-zero."""
    a, b = (np.asarray(x, bool) for x in ab)
    trace = sparse_matmul_trace(a, b)
    w = work_of(trace)
    brute = int(sum(a[i, kk] and b[kk, j] for i in range(a.shape[0]) for kk in range(a.shape[1])
                    for j in range(b.shape[1])))
    assert int(w.effectual[0]) == brute == trace.chunks[0].records()[0].macs
    assert int(w.dense[0]) == a.shape[0] * a.shape[1] * b.shape[1]
    assert [int(p.nonzero[0]) for p in w.parts][:2] == [int(a.sum()), int(b.sum())]


@settings(max_examples=25, deadline=None)
@given(m=dims, k=dims, n=dims, density=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_spmm_closed_form(m, k, n, density, seed):
    trace = spmm_trace(m, k, n, density, seed=seed)
    mask = sparse_mask(m, k, density, seed)
    nnz = int(round(density * m * k))
    assert int(mask.sum()) == nnz
    assert int(work_of(trace).effectual[0]) == nnz * n
    if 0 < nnz < m * k:
        np.testing.assert_array_equal(trace.header.patterns["A"].to_mask(), mask)
    assert "B" not in trace.header.patterns  # a dense operand declares no pattern


def test_random_matmul_trace_densities():
    trace = random_matmul_trace(20, 30, 10, a_density=0.2, b_density=0.5, seed=4)
    assert trace.header.patterns["A"].nnz == 120 and trace.header.patterns["B"].nnz == 150


def test_synthetic_rejects_bad_input():
    with pytest.raises(InputError):
        gemm_trace(0, 2, 2)
    with pytest.raises(InputError):
        spmm_trace(2, 2, 2, 1.5)
    with pytest.raises(InputError, match="inner dimensions"):
        sparse_matmul_trace(np.ones((2, 3), bool), np.ones((2, 3), bool))
    with pytest.raises(InputError, match="boolean"):
        sparse_matmul_trace(np.ones((2, 3)), np.ones((3, 3)))


def test_synthetic_file_round_trip(tmp_path):
    for name, trace in (("g", gemm_trace(8, 4, 2)), ("s", spmm_trace(8, 4, 2, 0.5, seed=3))):
        back = read_trace(write_trace(tmp_path / f"{name}.arrows", *trace))
        assert back.header == trace.header
        assert back.chunks[0].records() == trace.chunks[0].records()


def test_summary_totals_match_records_and_derivation():
    path = TRACES / "sparse_rtrl_h16.arrows"
    summary = summarize(path)
    trace = read_trace(path)
    records = [r for c in trace.chunks for r in c.records()]
    names = [op.name for op in trace.header.ops]
    assert summary.n_ops == len(records)
    assert summary.learner_macs == sum(r.macs for r in records)
    for name, totals in summary.by_op.items():
        mine = [r for r in records if names[r.op] == name]
        assert totals.n_ops == len(mine)
        assert totals.learner_macs == sum(r.macs for r in mine)
    effectual = sum(int(WorkModel(trace.header).batch(c.step_ids, c.set_bits, c.ops).effectual.sum())
                    for c in trace.chunks)
    assert summary.effectual_ops == effectual == sum(t.effectual_ops for t in summary.by_label.values())
    steps = [s for c in trace.chunks for s in c.steps]
    assert summary.active.mean == pytest.approx(np.mean([np.union1d(s.fired, s.support).size for s in steps]))
    assert summary.index_sets["fired"].mean == pytest.approx(np.mean([s.fired.size for s in steps]))


def test_info_json(capsys):
    assert main(["trace", "info", "--json", str(TRACES / "dense_rtrl_h16.arrows")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["info_schema"] == "trace-info/2"
    assert info["method"] == "dense_rtrl"
    assert info["learner_macs"] == sum(v["learner_macs"] for v in info["by_label"].values())
    assert info["effectual_ops"] < info["dense_ops"]  # dense RTRL multiplies declared zeros


def test_samples_are_small_and_readable():
    names = {p.name for p in SAMPLES}
    assert {"sparse_rtrl_h16.arrows", "dense_rtrl_h16.arrows", "bptt_h16.arrows"} <= names
    assert sum(p.stat().st_size for p in SAMPLES) < 1_000_000
    for path in SAMPLES:
        summary = summarize(path)
        assert summary.n_steps >= 1 and summary.n_ops >= 1


def test_sample_rtrl_traces_scale_with_influence_columns():
    """From the headers alone: dense RTRL's J·M costs n²·P_dense per step, sparse RTRL's diagonal
    scale alone n·P_sparse."""
    sparse, dense = summarize(TRACES / "sparse_rtrl_h16.arrows"), summarize(TRACES / "dense_rtrl_h16.arrows")
    n = sparse.model["n_hidden"]
    update = sparse.by_label["influence_sparse_update"]
    assert update.effectual_ops >= sparse.n_steps * n * sparse.model["n_influence_columns"]
    assert dense.by_label["influence_sparse_update"].learner_macs == (
        dense.n_steps * n * n * dense.model["n_influence_columns"])
    assert sparse.learner_macs < dense.learner_macs
