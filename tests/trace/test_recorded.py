"""Traces recorded from the real learners: their declared structure and index sets are those of
the run, and the work the simulator derives from them (``accel_sim.trace.work``) equals the counts
of docs/model.md §3 evaluated independently on the model's masks and the recorded active sets; where the
learner skips zeros itself, its own MAC counts agree."""

from __future__ import annotations

import numpy as np
import pytest

from accel_sim.trace.io import read_trace
from accel_sim.trace.work import WorkModel
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


def per_op(trace):
    """{op name: {step: (learner macs, learner nnz, derived effectual, derived dense)}} and
    {step: StepRecord}."""
    work = WorkModel(trace.header)
    names = [op.name for op in trace.header.ops]
    out: dict[str, dict[int, tuple[int, int, int, int]]] = {}
    steps = {}
    for chunk in trace.chunks:
        for s in chunk.steps:
            steps[s.step] = s
        w = work.batch(chunk.step_ids, chunk.set_bits, chunk.ops)
        for i in range(chunk.n_ops):
            entry = out.setdefault(names[int(chunk.ops["op"][i])], {})
            step = int(chunk.ops["step"][i])
            assert step not in entry
            entry[step] = (int(chunk.ops["macs"][i]), int(chunk.ops["nnz"][i]), int(w.effectual[i]), int(w.dense[i]))
    return out, steps


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


def test_header_declares_the_model_and_its_masks(traces):
    model = EGRU(**MODEL)
    mk = model.masks
    for method, trace in traces.items():
        h = trace.header
        assert (h.method, h.n_in, h.n_hidden, h.n_out, h.dtype, h.seed) == (method, 5, 24, 3, "float64", 4)
        np.testing.assert_array_equal(h.patterns["R"].to_mask(), np.vstack([mk["R_u"], mk["R_r"], mk["R_z"]]))
        np.testing.assert_array_equal(h.patterns["W_in"].to_mask(), np.vstack([mk["W_u"], mk["W_r"], mk["W_z"]]))
        np.testing.assert_array_equal(h.patterns["G"].to_mask(), mk["R_u"] | mk["R_r"] | mk["R_z"])
    for method in ("sparse_rtrl", "dense_rtrl"):
        P = make_learner(model, method).layout.n_columns
        assert traces[method].header.n_influence_columns == P
        assert traces[method].header.tensor("influence").shape == (24, P)
    assert trace_header(model, "bptt", history_steps=T).n_influence_columns == 0
    assert traces["bptt"].header.tensor("history").shape[0] == T


def test_index_sets_are_those_of_the_run(traces):
    xs, targets = sequence()
    model = EGRU(**MODEL)
    learner = make_learner(model, "sparse_rtrl")
    _, steps = per_op(traces["sparse_rtrl"])
    eps = MODEL["pseudo_derivative"][1]
    for t, (x, target) in enumerate(zip(xs, targets)):
        v = learner.s - model.params["thr"]
        np.testing.assert_array_equal(steps[t].fired, np.flatnonzero(v > 0))
        np.testing.assert_array_equal(steps[t].support, np.flatnonzero(np.abs(v) < eps))
        np.testing.assert_array_equal(steps[t].sets["input_nz"], np.flatnonzero(x))
        learner.step(x, int(target))
        if t + 1 < T:  # the new state's sets are the next step's previous-state sets (no reset here)
            np.testing.assert_array_equal(steps[t].sets["fired_out"], steps[t + 1].fired)
            np.testing.assert_array_equal(steps[t].sets["support_out"], steps[t + 1].support)
    sizes = [np.union1d(steps[t].fired, steps[t].support).size for t in range(1, T)]
    assert 0 < np.mean(sizes) < MODEL["n_hidden"]  # the test exercises a partial active set


def design_counts(t, steps, xs):
    """The per-step counts of docs/model.md §3 from the masks and the recorded sets (independent of the code)."""
    mk = masks()
    n = MODEL["n_hidden"]
    union = mk["R_u"] | mk["R_r"] | mk["R_z"]
    s = steps[t]
    active = np.union1d(s.fired, s.support)
    now = np.union1d(s.sets["fired_out"], s.sets["support_out"])
    live_in = sum(int(mk[w][:, xs[t] != 0].sum()) for w in ("W_u", "W_r", "W_z"))
    live_rec = sum(int(mk[r][:, s.fired].sum()) for r in ("R_u", "R_r", "R_z"))
    g_nnz = int(union[:, active].sum())
    j_nnz = g_nnz + int(np.sum(~(union[np.arange(n), np.arange(n)] & np.isin(np.arange(n), active))))  # + diagonal
    return dict(active=active.size, now=now.size, live_in=live_in, live_rec=live_rec, g_nnz=g_nnz, j_nnz=j_nnz,
                fired_out=s.sets["fired_out"].size)


def test_sparse_rtrl_work_equals_design_formula(traces):
    """Per step, A = fired ∪ support of s_{t-1}, U = R_u|R_r|R_z, P_r the reached columns of M:
    J·M costs (n + nnz(U[:, A]))·P_r (diagonal scale on the accumulate pass + sparse update); building G[:, A] 4·nnz; the forward
    products touch the kept weights whose source is non-zero; the immediate scatter one value per
    live weight, bias (4n) and threshold entry (nnz + |A|); the contraction |A_t|·P_r. The derived
    effectual work equals these, and so do the learner's own counts where it skips zeros."""
    xs, targets = sequence()
    work, steps = per_op(traces["sparse_rtrl"])
    mk = masks()
    n = MODEL["n_hidden"]
    P = sum(int(m.sum()) for m in mk.values()) + 5 * n
    for t in range(T):
        c = design_counts(t, steps, xs)
        update = work["influence_update"].get(t) or work["influence_update_dense"][t]
        expected = {
            "input_projection": c["live_in"], "recurrent_product": c["live_rec"], "jacobian_build": 4 * c["g_nnz"],
            "immediate_scatter": c["live_in"] + c["live_rec"] + 4 * n + c["g_nnz"] + c["active"],
        }
        for name, value in expected.items():
            learner_macs, _, effectual, _ = work[name][t]
            assert effectual == learner_macs == value, (name, t)
        P_r = steps[t].sets["reached"].size  # columns of M reached since the start (tests/rtrl/test_counts.py)
        assert 0 < P_r <= P
        assert update[2] == (n + c["g_nnz"]) * P_r and update[1] == c["g_nnz"]
        assert update[3] == (n + n * c["active"]) * P_r  # dense extent: diagonal + the n x |A| block
        assert update[0] == (update[2] if t in work["influence_update"] else update[3])
        if targets[t] >= 0:
            assert work["contraction"][t][:3] == (c["now"] * P_r, c["now"], c["now"] * P_r)
            assert work["readout_grad"][t][2] == MODEL["n_out"] * c["fired_out"]
        else:
            assert t not in work["contraction"] and t not in work["readout_grad"]


def test_dense_rtrl_declares_the_zeros_it_multiplies(traces):
    """Same run: identical sets. Dense RTRL multiplies all n² x P_all, but the effectual work the
    simulator derives from its declared structure is nnz(J) x P_kept, with J = U[:, A] ∪ diagonal,
    and its contraction is |A_t| x P_kept: the zeros a skipping accelerator can drop."""
    xs, _ = sequence()
    sparse_work, s_steps = per_op(traces["sparse_rtrl"])
    dense_work, d_steps = per_op(traces["dense_rtrl"])
    mk = masks()
    n, n_in = MODEL["n_hidden"], MODEL["n_in"]
    p_dense = 3 * n * (n + n_in) + 5 * n
    p_kept = sum(int(m.sum()) for m in mk.values()) + 5 * n
    for t in range(T):
        for name in ("fired", "support", "input_nz", "fired_out", "support_out"):
            np.testing.assert_array_equal(d_steps[t].sets[name], s_steps[t].sets[name])
        c = design_counts(t, d_steps, xs)
        learner_macs, _, effectual, dense = dense_work["influence_update"][t]
        assert learner_macs == dense == n * n * p_dense
        assert effectual == c["j_nnz"] * p_kept
        assert dense_work["input_projection"][t][2:] == (c["live_in"], 3 * n * n_in)
        scattered = 3 * n * n_in + 3 * n * n + 4 * n + n * n + n
        assert dense_work["immediate_scatter"][t][3] == scattered == dense_work["immediate_scatter"][t][0]
        assert dense_work["immediate_scatter"][t][2] == sparse_work["immediate_scatter"][t][2]
        if t in dense_work["contraction"]:
            assert dense_work["contraction"][t][2:] == (c["now"] * p_kept, n * p_dense)
    total_dense = sum(v[0] for v in dense_work["influence_update"].values())
    total_sparse = sum((sparse_work["influence_update"].get(t) or sparse_work["influence_update_dense"][t])[0]
                       for t in range(T))
    assert total_dense / total_sparse > 5  # masks shrink P ~4x and the active set shrinks G


def test_bptt_records_its_backward_pass_step_by_step(traces):
    """T forward steps, then one backward step per stored step in reverse, each with the sets of
    the step it reverses and its history row; the history is written once per forward step."""
    xs, _ = sequence()
    work, steps = per_op(traces["bptt"])
    assert sorted(steps) == list(range(2 * T))
    for k in range(T):
        back, forward = steps[T + k], steps[T - 1 - k]
        np.testing.assert_array_equal(back.sets["history_row"], [T - 1 - k])
        np.testing.assert_array_equal(forward.sets["history_row"], [T - 1 - k])
        for name in ("fired", "support", "input_nz"):
            np.testing.assert_array_equal(back.sets[name], forward.sets[name])
    assert sorted(work["history_write"]) == list(range(T))
    assert sorted(work["backward_recurrent"]) == list(range(T, 2 * T))
    mk = masks()
    r_nnz = sum(int(mk[r].sum()) for r in ("R_u", "R_r", "R_z"))
    for t in range(T, 2 * T):
        c = design_counts(t, steps, np.concatenate([xs, xs[::-1]]))
        assert work["backward_recurrent"][t][2] == r_nnz
        assert work["backward_grad_input"][t][2] == c["live_in"]
        assert work["backward_grad_recurrent"][t][2] == c["live_rec"]
    assert not any(name.startswith("influence") for name in work)


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
