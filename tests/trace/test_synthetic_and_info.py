"""Synthetic traces match their closed forms; ``trace info`` totals match the records; the
sample traces in traces/ are small, readable and consistent."""

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
from accel_sim.trace.synthetic import gemm_trace, sparse_mask, spmm_trace
from codesign.cli import main

TRACES = Path(__file__).resolve().parents[2] / "traces"
SAMPLES = sorted(TRACES.glob("*.arrows"))
dims = st.integers(1, 40)


@settings(max_examples=25, deadline=None)
@given(m=dims, k=dims, n=dims, word_bytes=st.sampled_from([1, 2, 4]))
def test_gemm_closed_form(m, k, n, word_bytes):
    header, chunks = gemm_trace(m, k, n, word_bytes=word_bytes)
    (op,) = chunks[0].records()
    assert (op.kind, op.m, op.k, op.n, op.macs) == ("gemm", m, k, n, m * k * n)
    assert op.bytes_read == {"weights": m * k * word_bytes, "input": k * n * word_bytes}
    assert op.bytes_written == {"activations": m * n * word_bytes}
    assert header.method == "synthetic" and header.mask_nnz_per_row["A"] == [k] * m


@settings(max_examples=25, deadline=None)
@given(m=dims, k=dims, n=dims, density=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_spmm_closed_form(m, k, n, density, seed):
    header, chunks = spmm_trace(m, k, n, density, seed=seed)
    (op,) = chunks[0].records()
    mask = sparse_mask(m, k, density, seed)
    nnz = int(round(density * m * k))
    assert int(mask.sum()) == nnz == op.nnz == op.index_count
    assert op.macs == nnz * n
    assert op.bytes_read.get("input", 0) == int(mask.any(axis=0).sum()) * n
    assert header.mask_nnz_per_row["A"] == mask.sum(axis=1).tolist()
    assert sum(header.mask_nnz_per_row["A"]) == nnz


def test_synthetic_rejects_bad_dims():
    with pytest.raises(InputError):
        gemm_trace(0, 2, 2)
    with pytest.raises(InputError):
        spmm_trace(2, 2, 2, 1.5)


def test_synthetic_file_round_trip(tmp_path):
    for name, trace in (("g", gemm_trace(8, 4, 2)), ("s", spmm_trace(8, 4, 2, 0.5, seed=3))):
        back = read_trace(write_trace(tmp_path / f"{name}.arrows", *trace))
        assert back.header == trace.header
        assert back.chunks[0].records() == trace.chunks[0].records()


def test_summary_totals_match_records(tmp_path):
    path = TRACES / "sparse_rtrl_h16.arrows"
    summary = summarize(path)
    records = [r for c in read_trace(path).chunks for r in c.records()]
    assert summary.n_ops == len(records)
    assert summary.macs_total == sum(r.macs for r in records)
    for label, totals in summary.by_label.items():
        mine = [r for r in records if r.label == label]
        assert totals.n_ops == len(mine)
        assert totals.macs == sum(r.macs for r in mine)
        assert totals.bytes_read == sum(sum(r.bytes_read.values()) for r in mine)
    assert sum(summary.bytes_written_by_tensor.values()) == sum(sum(r.bytes_written.values()) for r in records)
    steps = [s for c in read_trace(path).chunks for s in c.steps]
    assert summary.active.mean_units == pytest.approx(np.mean([np.union1d(s.fired, s.support).size for s in steps]))


def test_info_json(capsys):
    assert main(["trace", "info", "--json", str(TRACES / "dense_rtrl_h16.arrows")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["info_schema"] == "trace-info/1"
    assert info["header"]["method"] == "dense_rtrl"
    assert info["macs_total"] == sum(v["macs"] for v in info["by_label"].values())


def test_samples_are_small_and_readable():
    names = {p.name for p in SAMPLES}
    assert {"sparse_rtrl_h16.arrows", "dense_rtrl_h16.arrows", "bptt_h16.arrows"} <= names
    assert sum(p.stat().st_size for p in SAMPLES) < 1_000_000
    for path in SAMPLES:
        summary = summarize(path)
        assert summary.n_steps >= 1 and summary.n_ops >= 1


def test_sample_rtrl_traces_scale_with_influence_columns():
    """From the headers alone: per step, the diagonal scale of sparse RTRL costs n·P_sparse and
    dense RTRL's J·M costs n²·P_dense."""
    sparse, dense = summarize(TRACES / "sparse_rtrl_h16.arrows"), summarize(TRACES / "dense_rtrl_h16.arrows")
    n = sparse.header.n_hidden
    assert sparse.by_label["influence_diag_scale"].macs == sparse.n_steps * n * sparse.header.n_influence_columns
    assert dense.by_label["influence_sparse_update"].macs == dense.n_steps * n * n * dense.header.n_influence_columns
    assert sparse.macs_total < dense.macs_total
