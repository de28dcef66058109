"""The fused sparse-RTRL path on the CPU: each numpy twin of a CUDA kernel against a plain dense
reference, and the fused learner (twins) against the generic learner and BPTT, including empty
and full active sets. The CUDA kernels are held against these twins in tests/gpu."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import rtrl.sparse_rtrl
from accel_sim.trace.schema import ListRecorder
from rtrl import gradients
from rtrl.kernels import ColumnMap, JacobianStructure, TwinKernels
from rtrl.sparse_rtrl import SparseRTRL
from tests.rtrl.test_exactness import random_case, relative_error

TWIN = TwinKernels()


def random_kernel_case(seed, n=13, P=40, density=0.3, active_fraction=0.4):
    """Random G structure, active flags, coefficients and M; ``active_fraction`` 0 or 1 gives the
    empty / full active set."""
    rng = np.random.default_rng(seed)
    union = rng.random((n, n)) < density
    o = (rng.random(n) < active_fraction / 2).astype(float)
    dH = np.where(rng.random(n) < active_fraction / 2, rng.random(n), 0.0)
    if active_fraction >= 1:
        dH = rng.random(n) + 0.1
    R = [np.where(union, rng.normal(size=(n, n)), 0.0) for _ in range(3)]
    return dict(rng=rng, union=union, o=o, dH=dH, R=R, rc=rng.normal(size=(3, n)), dy=rng.normal(size=n),
                dy_thr=rng.normal(size=n), M=rng.normal(size=(n, P)), n=n, P=P)


@pytest.mark.parametrize("active_fraction", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_twins_match_dense_reference(seed, active_fraction):
    c = random_kernel_case(seed, active_fraction=active_fraction)
    n, P, rng = c["n"], c["P"], c["rng"]
    g = JacobianStructure.from_union_mask(c["union"])
    act = TWIN.compact_active(c["o"], c["dH"], g.colcount)
    A = np.flatnonzero((c["o"] != 0) | (c["dH"] != 0))
    assert np.array_equal(act.index, A) and act.n_active == A.size
    assert act.g_nnz == int(c["union"][:, A].sum())
    assert np.array_equal(act.slot[A], np.arange(A.size)) and np.all(np.delete(act.slot, A) == -1)

    rj = TWIN.restrict_jacobian(g, act.slot, c["rc"], *c["R"], c["dy"], c["dy_thr"])
    G = sum(c["rc"][k][:, None] * c["R"][k] for k in range(3))
    assert int(rj.count.sum()) == act.g_nnz

    # M <- diag(a) M + G[:, A] diag(dy_A) M[A] + Mbar, with Mbar one entry per column
    diag = rng.normal(size=n)
    cmap = ColumnMap(rng.integers(0, n, P).astype(np.int32), rng.integers(0, 5, P).astype(np.int32),
                     rng.integers(0, 4, P).astype(np.int32))
    coef_all, src_all = rng.normal(size=5), rng.normal(size=4)
    M0 = c["M"]
    expected = diag[:, None] * M0 + (G[:, A] * c["dy"][A]) @ M0[A]
    expected[cmap.row, np.arange(P)] += coef_all[cmap.coef] * src_all[cmap.src]
    thr0 = P - n
    expected[:, thr0:] += (G * c["dy_thr"])[:, :] * np.isin(np.arange(n), A)[None, :]
    M = M0.copy()
    rows_A = TWIN.gather_rows(M, act.index)
    assert np.array_equal(rows_A, M0[A])
    TWIN.influence_update(M, diag, g, rj, rows_A, cmap, coef_all, src_all)
    TWIN.thr_scatter(M, thr0, g, rj)
    np.testing.assert_allclose(M, expected, rtol=1e-12, atol=1e-12)

    grad, dl_ds = rng.normal(size=P), rng.normal(size=n)
    expected_grad = grad + dl_ds[A] @ M[A]
    TWIN.contract_gradient(grad, M, act.index, dl_ds)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=1e-12)


@pytest.fixture
def always_fused(monkeypatch):
    """Never hand the update to the dense block, so the fused kernels run at every step."""
    monkeypatch.setattr(rtrl.sparse_rtrl, "DENSE_BLOCK_MIN_DENSITY", np.inf)


def fused_gradients(model, xs, targets, recorder=None):
    learner = SparseRTRL(model, recorder=recorder, kernels="fused")
    for x, t in zip(xs, targets):
        learner.step(x, int(t))
    return learner.loss_sum, learner.grads(), learner


@given(seed=st.integers(0, 10_000), n_hidden=st.integers(1, 14), density=st.floats(0.05, 1.0),
       thr=st.floats(0.0, 1.0), eps=st.floats(0.01, 2.0), T=st.integers(1, 12))
def test_fused_learner_is_exact(seed, n_hidden, density, thr, eps, T):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rtrl.sparse_rtrl, "DENSE_BLOCK_MIN_DENSITY", np.inf)
        model, xs, targets = random_case(seed, 3, n_hidden, 3, density, thr, 0.5, eps, T)
        loss, grads, _ = fused_gradients(model, xs, targets)
    ref_loss, ref = gradients(model, xs, targets, "bptt")
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    assert relative_error(grads, ref) <= 1e-9


@pytest.mark.parametrize("regime", ["no_events", "all_active", "mixed"])
def test_fused_influence_matches_generic_step_by_step(always_fused, regime):
    thr, eps = {"no_events": (1.0, 1e-3), "all_active": (0.0, 5.0), "mixed": (0.3, 0.3)}[regime]
    model, xs, targets = random_case(7, 4, 16, 3, 0.2, thr, 0.5, eps, 12)
    model.params["thr"] = np.full(16, thr)
    fused, generic = SparseRTRL(model, kernels="fused"), SparseRTRL(model, kernels="generic")
    for x, t in zip(xs, targets):
        a, b = fused.step(x, int(t)), generic.step(x, int(t))
        assert (a.n_fired, a.n_support) == (b.n_fired, b.n_support)
        np.testing.assert_allclose(fused.M, generic.M, rtol=1e-12, atol=1e-14)
    assert relative_error(fused.grads(), generic.grads()) <= 1e-12


@pytest.mark.parametrize("threshold", [np.inf, 0.5])  # fused every step / dense block when well filled
def test_fused_records_the_same_trace(monkeypatch, threshold):
    monkeypatch.setattr(rtrl.sparse_rtrl, "DENSE_BLOCK_MIN_DENSITY", threshold)
    model, xs, targets = random_case(3, 5, 24, 3, 0.3, 0.4, 0.3, 0.2, 20)
    rec_fused, rec_generic = ListRecorder(), ListRecorder()
    fused_gradients(model, xs, targets, rec_fused)
    gradients(model, xs, targets, "sparse_rtrl", recorder=rec_generic)
    assert rec_fused.ops == rec_generic.ops
    assert len(rec_fused.steps) == len(rec_generic.steps)
    for a, b in zip(rec_fused.steps, rec_generic.steps):
        assert np.array_equal(a.fired, b.fired) and np.array_equal(a.support, b.support)


def test_fused_state_snapshot_resumes(always_fused):
    model, xs, targets = random_case(5, 3, 10, 2, 0.4, 0.3, 0.5, 0.4, 10)
    a = SparseRTRL(model, kernels="fused")
    for t in range(5):
        a.step(xs[t], targets[t])
    b = SparseRTRL(model, kernels="fused")
    b.set_state(a.get_state())
    for t in range(5, 10):
        assert a.step(xs[t], targets[t]).loss == b.step(xs[t], targets[t]).loss
    assert all(np.array_equal(v, b.grads()[k]) for k, v in a.grads().items())


def test_unknown_kernels_option_is_rejected():
    model, _, _ = random_case(0, 2, 4, 2, 1.0, 0.3, 0.5, 0.4, 2)
    with pytest.raises(ValueError, match="kernels"):
        SparseRTRL(model, kernels="magic")
