"""The three learners compute the same gradient, and it is the gradient of the model in docs/model.md."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rtrl import EGRU, gradients
from tests.rtrl.reference import finite_difference_grads
from tests.rtrl.reference import loss as reference_loss

METHODS = ("bptt", "dense_rtrl", "sparse_rtrl")


def relative_error(a: dict, b: dict) -> float:
    scale = max(max(np.abs(v).max() for v in b.values()), 1e-300)
    return max(float(np.abs(a[k] - b[k]).max()) for k in b) / scale


def random_case(seed, n_in, n_hidden, n_out, density, thr, gamma, eps, T, input_scale=2.0):
    model = EGRU(n_in, n_hidden, n_out, weight_density=density, threshold_mean=thr,
                 pseudo_derivative=(gamma, eps), seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1000)
    for key in ("b_u", "b_r", "b_z", "b_rz", "b_o"):  # non-zero biases exercise every term
        model.params[key] = rng.normal(0, 0.5, model.params[key].shape)
    xs = rng.normal(0, input_scale, (T, n_in))
    targets = rng.integers(-1, n_out, T)
    targets[-1] = rng.integers(0, n_out)
    return model, xs, targets


@given(
    seed=st.integers(0, 10_000),
    n_in=st.integers(1, 5),
    n_hidden=st.integers(1, 12),
    n_out=st.integers(1, 4),
    density=st.one_of(st.just(1.0), st.floats(0.05, 1.0)),
    thr=st.floats(0.0, 1.0),
    gamma=st.floats(0.0, 2.0),
    eps=st.floats(0.01, 2.0),
    T=st.integers(1, 14),
)
def test_three_methods_agree(seed, n_in, n_hidden, n_out, density, thr, gamma, eps, T):
    model, xs, targets = random_case(seed, n_in, n_hidden, n_out, density, thr, gamma, eps, T)
    results = {m: gradients(model, xs, targets, method=m) for m in METHODS}
    loss_ref, grads_ref = results["bptt"]
    for method in ("dense_rtrl", "sparse_rtrl"):
        loss, grads = results[method]
        assert loss == pytest.approx(loss_ref, rel=1e-12, abs=1e-12)
        assert set(grads) == set(model.params)
        assert relative_error(grads, grads_ref) <= 1e-9, method


@pytest.mark.parametrize("regime", ["no_events", "all_active"])
def test_extreme_activity(regime):
    """No unit ever fires or enters the support; or every unit is active at every step."""
    thr, eps = (1.0, 1e-3) if regime == "no_events" else (0.0, 5.0)
    model, xs, targets = random_case(3, 3, 9, 3, 0.4, thr, 0.5, eps, 10)
    model.params["thr"] = np.full(9, thr)
    from rtrl import make_learner

    learner = make_learner(model, "sparse_rtrl")
    counts = [learner.step(x, t) for x, t in zip(xs, targets)]
    active = [c.n_fired + c.n_support for c in counts[1:]]
    if regime == "no_events":
        assert sum(c.n_fired for c in counts) == 0 and sum(active) == 0
    else:
        assert all(c.n_support == 9 for c in counts)
    ref = gradients(model, xs, targets, "bptt")[1]
    for method in ("dense_rtrl", "sparse_rtrl"):
        assert relative_error(gradients(model, xs, targets, method)[1], ref) <= 1e-9


@pytest.mark.parametrize("seed,density", [(0, 1.0), (1, 0.5), (2, 0.3)])
def test_bptt_matches_independent_finite_differences(seed, density):
    """The shared gradient equals finite differences of an independent forward (tests/rtrl/reference.py)."""
    model, xs, targets = random_case(seed, 3, 5, 3, density, 0.2, 0.4, 0.6, 7, input_scale=1.5)
    loss, grads = gradients(model, xs, targets, "sparse_rtrl")
    ref_loss, _ = reference_loss(model.params, xs, targets, 0.4, 0.6)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    fd = finite_difference_grads(model.params, xs, targets, 0.4, 0.6)
    for name, mask in model.masks.items():
        fd[name] = np.where(mask, fd[name], 0.0)
    assert relative_error(grads, fd) <= 1e-6


def test_reference_detects_a_wrong_gradient():
    """The finite-difference check is sensitive: a perturbed gradient fails it."""
    model, xs, targets = random_case(5, 2, 4, 2, 1.0, 0.2, 0.4, 0.6, 5)
    _, grads = gradients(model, xs, targets, "bptt")
    fd = finite_difference_grads(model.params, xs, targets, 0.4, 0.6)
    assert relative_error(grads, fd) <= 1e-6
    grads["thr"] = grads["thr"] * 1.01
    assert relative_error(grads, fd) > 1e-6


@pytest.mark.parametrize("threshold", [0.0, 2.0])  # always the dense block / always CSR
@pytest.mark.parametrize("density", [0.15, 1.0])
def test_both_influence_update_paths_are_exact(monkeypatch, threshold, density):
    import rtrl.sparse_rtrl

    monkeypatch.setattr(rtrl.sparse_rtrl, "DENSE_BLOCK_MIN_DENSITY", threshold)
    model, xs, targets = random_case(11, 4, 16, 3, density, 0.3, 0.5, 0.3, 12)
    ref = gradients(model, xs, targets, "bptt")[1]
    assert relative_error(gradients(model, xs, targets, "sparse_rtrl")[1], ref) <= 1e-9
