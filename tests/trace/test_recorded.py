"""Traces recorded from the real learners: their counts agree with DESIGN §4 evaluated
independently on the recorded active sets and the model's masks, and dense vs sparse RTRL traces
of the same run differ by exactly the expected factor."""

from __future__ import annotations

import numpy as np
import pytest

from accel_sim.trace.io import read_trace
from codesign.tracing import record_sequence, trace_header
from rtrl import EGRU, make_learner

MODEL = dict(n_in=5, n_hidden=24, n_out=3, weight_density=0.2, threshold_mean=0.5,
             pseudo_derivative=(0.3, 0.2), seed=4, dtype=np.float64)
T = 30


def sequence():
    rng = np.random.default_rng(11)
    xs = (rng.random((T, MODEL["n_in"])) < 0.4).astype(np.float64) * rng.uniform(0.5, 1.5, (T, MODEL["n_in"]))
    targets = np.where(rng.random(T) < 0.6, rng.integers(0, MODEL["n_out"], T), -1)
    return xs, targets


def update_records(trace):
    """{step: the influence_sparse_update record}: an SPMM over nnz(G[:, A]) entries, or (when the
    learner takes its dense-block path for a well-filled G[:, A]) a GEMM over the n x |A| block."""
    out = {}
    for chunk in trace.chunks:
        for r in chunk.records():
            if r.label == "influence_sparse_update":
                assert r.step not in out
                out[r.step] = r
    return out


def jm_update_macs(record, n, n_active, P):
    """DESIGN §4: the off-diagonal part of J·M costs nnz(G[:, A])·P as a sparse product, or
    n·|A|·P when done as a dense n x |A| block (record.nnz holds nnz(G[:, A]) in both cases)."""
    assert record.kind in ("spmm", "gemm")
    return record.nnz * P if record.kind == "spmm" else n * n_active * P


def per_step(trace, label):
    """{step: total MACs of ops with ``label``} and {step: (fired, support)}."""
    macs: dict[int, int] = {}
    sets = {}
    for chunk in trace.chunks:
        for s in chunk.steps:
            sets[s.step] = (s.fired, s.support)
        for r in chunk.records():
            if r.label == label:
                macs[r.step] = macs.get(r.step, 0) + r.macs
    return macs, sets


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    out = tmp_path_factory.mktemp("recorded")
    xs, targets = sequence()
    paths = {}
    for method in ("sparse_rtrl", "dense_rtrl", "bptt"):
        paths[method] = record_sequence(out / f"{method}.arrows", EGRU(**MODEL), method, xs, targets,
                                        steps_per_chunk=7).path
    return {m: read_trace(p) for m, p in paths.items()}


def masks():
    return EGRU(**MODEL).masks


def test_header_describes_the_model(traces):
    model = EGRU(**MODEL)
    for method, trace in traces.items():
        h = trace.header
        assert (h.method, h.n_in, h.n_hidden, h.n_out, h.dtype, h.seed) == (method, 5, 24, 3, "float64", 4)
        for name, mask in model.masks.items():
            assert h.mask_nnz_per_row[name] == mask.sum(axis=1).tolist()
    assert traces["sparse_rtrl"].header.n_influence_columns == make_learner(model, "sparse_rtrl").layout.n_columns
    assert traces["dense_rtrl"].header.n_influence_columns == make_learner(model, "dense_rtrl").layout.n_columns
    assert trace_header(model, "bptt").n_influence_columns == 0


def test_active_sets_are_those_of_the_run(traces):
    xs, targets = sequence()
    model = EGRU(**MODEL)
    learner = make_learner(model, "sparse_rtrl")
    _, sets = per_step(traces["sparse_rtrl"], "influence_diag_scale")
    gamma, eps = MODEL["pseudo_derivative"]
    for t, (x, target) in enumerate(zip(xs, targets)):
        v = learner.s - model.params["thr"]
        np.testing.assert_array_equal(sets[t][0], np.flatnonzero(v > 0))
        np.testing.assert_array_equal(sets[t][1], np.flatnonzero(np.abs(v) < eps))
        learner.step(x, int(target))
    sizes = [np.union1d(*sets[t]).size for t in range(1, T)]
    assert 0 < np.mean(sizes) < MODEL["n_hidden"]  # the test exercises a partial active set


def test_sparse_rtrl_macs_equal_design_formula(traces):
    """Per step, with A = fired ∪ support of s_{t-1} (as recorded), G's structure U = R_u|R_r|R_z:
    J·M costs (n + nnz(U[:, A])) · P MACs (diag scale n·P + sparse update nnz·P); building
    G[:, A] costs 4·nnz; the forward products touch the kept weights whose source is non-zero;
    the immediate scatter adds one value per live weight, bias (4n), threshold (nnz + |A|);
    the gradient contraction reads |A_t| rows of M."""
    xs, targets = sequence()
    trace = traces["sparse_rtrl"]
    mk = masks()
    n = MODEL["n_hidden"]
    P = sum(int(m.sum()) for m in mk.values()) + 5 * n
    assert trace.header.n_influence_columns == P
    union = mk["R_u"] | mk["R_r"] | mk["R_z"]
    got = {lbl: per_step(trace, lbl)[0] for lbl in (
        "influence_diag_scale", "influence_sparse_update", "jacobian_build", "input_projection",
        "recurrent_product", "immediate_scatter", "gradient_contraction")}
    _, sets = per_step(trace, "readout")
    updates = update_records(trace)
    for t in range(T):
        fired, support = sets[t]
        active = np.union1d(fired, support)
        g_nnz = int(union[:, active].sum())
        live_in = sum(int(mk[w][:, xs[t] != 0].sum()) for w in ("W_u", "W_r", "W_z"))
        live_rec = sum(int(mk[r][:, fired].sum()) for r in ("R_u", "R_r", "R_z"))
        assert got["influence_diag_scale"][t] == n * P
        update = updates[t]
        assert update.nnz == g_nnz and update.k == active.size and update.n == P
        assert got["influence_sparse_update"][t] == jm_update_macs(update, n, active.size, P)
        assert got["jacobian_build"][t] == 4 * g_nnz
        assert got["input_projection"][t] == live_in
        assert got["recurrent_product"][t] == live_rec
        assert got["immediate_scatter"][t] == live_in + live_rec + 4 * n + g_nnz + active.size
        if targets[t] >= 0 and t + 1 < T:
            next_active = np.union1d(*sets[t + 1])
            assert got["gradient_contraction"][t] == next_active.size * P
        elif targets[t] < 0:
            assert t not in got["gradient_contraction"]


def test_dense_versus_sparse_ratio(traces):
    """Same run: identical active sets; dense J·M costs n²·P_dense, sparse (n + nnz(U[:, A]))·P_sparse
    (or (n + n·|A|)·P_sparse on the dense-block path), so their per-step ratio is exactly
    n²·P_dense / ((n + off-diagonal)·P_sparse)."""
    sparse, dense = traces["sparse_rtrl"], traces["dense_rtrl"]
    n, n_in = MODEL["n_hidden"], MODEL["n_in"]
    mk = masks()
    union = mk["R_u"] | mk["R_r"] | mk["R_z"]
    p_dense = 3 * n * (n + n_in) + 5 * n
    p_sparse = sum(int(m.sum()) for m in mk.values()) + 5 * n
    assert dense.header.n_influence_columns == p_dense
    d_upd, d_sets = per_step(dense, "influence_sparse_update")
    s_upd, s_sets = per_step(sparse, "influence_sparse_update")
    s_records = update_records(sparse)
    s_diag, _ = per_step(sparse, "influence_diag_scale")
    total_dense = total_sparse = 0
    for t in range(T):
        for a, b in zip(d_sets[t], s_sets[t]):
            np.testing.assert_array_equal(a, b)
        active = np.union1d(*s_sets[t])
        assert s_records[t].nnz == int(union[:, active].sum())
        off_diagonal = jm_update_macs(s_records[t], n, active.size, p_sparse) // p_sparse
        assert d_upd[t] == n * n * p_dense
        expected_ratio = (n * n * p_dense) / ((n + off_diagonal) * p_sparse)
        assert d_upd[t] / (s_upd[t] + s_diag[t]) == pytest.approx(expected_ratio, rel=1e-12)
        total_dense += d_upd[t]
        total_sparse += s_upd[t] + s_diag[t]
    # With this model the saving is large: masks shrink P ~4x and the active set shrinks G.
    assert total_dense / total_sparse > 5


def test_bptt_trace_has_forward_steps_then_one_backward_step(traces):
    trace = traces["bptt"]
    steps = [s.step for c in trace.chunks for s in c.steps]
    assert steps == list(range(T + 1))
    records = [r for c in trace.chunks for r in c.records()]
    backward = [r for r in records if r.label == "bptt_backward" and r.macs > 0]
    assert [r.step for r in backward] == [T]
    assert not any(r.label.startswith("influence") for r in records)
    history_written = sum(r.bytes_written.get("history", 0) for r in records)
    assert history_written == sum(r.bytes_read.get("history", 0) for r in backward) > 0


def test_recording_does_not_change_the_learning(tmp_path):
    from accel_sim.trace.io import TraceWriter

    xs, targets = sequence()
    results = []
    for use_writer in (False, True):
        model = EGRU(**MODEL)
        if use_writer:
            with TraceWriter(tmp_path / "w.arrows", trace_header(model, "sparse_rtrl"), steps_per_chunk=4) as w:
                learner = make_learner(model, "sparse_rtrl", recorder=w)
                losses = [learner.step(x, int(t)).loss for x, t in zip(xs, targets)]
        else:
            learner = make_learner(model, "sparse_rtrl")
            losses = [learner.step(x, int(t)).loss for x, t in zip(xs, targets)]
        results.append((losses, learner.grads()))
    assert results[0][0] == results[1][0]
    for name, grad in results[0][1].items():
        np.testing.assert_array_equal(grad, results[1][1][name], err_msg=name)
