"""The active-set count every learner reports, and the shared-gate-mask option: masks, exactness and
the Jacobian's sparsity (docs/model.md §3)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel_sim.trace.schema import ListRecorder
from rtrl import EGRU, gradients, make_learner
from rtrl.kernels import compiled
from rtrl.sparse_rtrl import SparseRTRL
from tests.rtrl.reference import loss as reference_loss
from tests.rtrl.test_exactness import random_case, relative_error

KERNELS = ["generic", "fused"] + (["compiled"] if compiled.AVAILABLE else [])


def learners(model):
    """Every learner and sparse kernel path for ``model``."""
    out = {"bptt": make_learner(model, "bptt"), "dense_rtrl": make_learner(model, "dense_rtrl")}
    out.update({f"sparse_rtrl/{k}": SparseRTRL(model, kernels=k) for k in KERNELS})
    return out


@pytest.mark.parametrize("thr,eps", [(0.3, 0.05), (0.2, 0.3), (0.0, 2.0)])
def test_n_active_is_the_union_of_fired_and_support(thr, eps):
    """n_active = |{v > 0} ∪ {|v| < eps}| for v = s_{t-1} - thr of an independent forward."""
    model, xs, targets = random_case(5, 4, 11, 3, 0.4, thr, 0.5, eps, 12)
    _, vs = reference_loss(model.params, xs, targets, 0.5, eps)
    fired, support = vs[:-1] > 0, np.abs(vs[:-1]) < eps
    for name, learner in learners(model).items():
        outs = [learner.step(x, t) for x, t in zip(xs, targets)]
        assert [o.n_active for o in outs] == list((fired | support).sum(axis=1)), name
        assert [o.n_fired for o in outs] == list(fired.sum(axis=1)), name
        assert [o.n_support for o in outs] == list(support.sum(axis=1)), name


def test_shared_masks_share_one_recurrent_mask_and_keep_the_draws():
    n, n_in = 30, 6
    plain = EGRU(n_in, n, 3, weight_density=0.2, seed=3)
    shared = EGRU(n_in, n, 3, weight_density=0.2, seed=3, shared_masks=True)
    assert np.array_equal(shared.masks["R_u"], plain.masks["R_u"])
    for name in ("R_r", "R_z"):
        assert np.array_equal(shared.masks[name], shared.masks["R_u"])
        # where both models keep a weight, it is the same draw
        both = plain.masks[name] & shared.masks[name]
        assert both.any()
        assert np.array_equal(shared.params[name][both], plain.params[name][both])
        assert not np.any(shared.params[name][~shared.masks[name]])
    for name in ("W_u", "W_r", "W_z", "W_o"):
        assert np.array_equal(shared.params[name], plain.params[name])
    with pytest.raises(ValueError, match="shared_masks"):
        EGRU(n_in, n, 3, shared_masks="yes")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 5000), n_hidden=st.integers(1, 12), density=st.floats(0.05, 1.0),
       thr=st.floats(0.0, 1.0), eps=st.floats(0.01, 1.0), T=st.integers(1, 12))
def test_shared_masks_are_exact(seed, n_hidden, density, thr, eps, T):
    model = EGRU(3, n_hidden, 2, weight_density=density, threshold_mean=thr, pseudo_derivative=(0.5, eps),
                 seed=seed, dtype=np.float64, shared_masks=True)
    rng = np.random.default_rng(seed)
    for key in ("b_u", "b_r", "b_z", "b_rz"):
        model.params[key] = rng.normal(0, 0.5, n_hidden)
    xs = rng.normal(0, 2, (T, 3))
    targets = rng.integers(-1, 2, T)
    targets[-1] = 1
    _, ref = gradients(model, xs, targets, "bptt")
    for name, learner in learners(model).items():
        if name == "bptt":
            continue
        for x, t in zip(xs, targets):
            learner.step(x, int(t))
        assert relative_error(learner.grads(), ref) <= 1e-9, name


def test_shared_masks_give_the_jacobian_one_masks_sparsity():
    """nnz(G[:, A]) recorded per step = the shared mask's non-zeros in the active columns."""
    model = EGRU(4, 40, 3, weight_density=0.1, threshold_mean=0.2, pseudo_derivative=(0.3, 0.2), seed=1,
                 dtype=np.float64, shared_masks=True)
    xs = np.random.default_rng(0).normal(0, 1, (20, 4))
    rec = ListRecorder()
    learner = make_learner(model, "sparse_rtrl", recorder=rec)
    for x in xs:
        learner.step(x, -1)
    from rtrl.trace_decl import OPS

    build = OPS["sparse_rtrl"].index("jacobian_build")
    nnz = {r.step: r.nnz for r in rec.ops if r.op == build}
    for step in rec.steps:
        active = np.union1d(step.fired, step.support)
        assert nnz[step.step] == int(model.masks["R_u"][:, active].sum())
