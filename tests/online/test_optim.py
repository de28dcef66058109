"""Optimisers and clipping against closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rtrl.online.optim import SGD, Adam, clip_by_global_norm, global_norm, make_optimizer


def _params(rng):
    return {"a": rng.normal(size=(3, 4)).astype(np.float32), "b": rng.normal(size=5).astype(np.float32)}


def test_sgd_is_p_minus_lr_g_and_does_not_mutate():
    rng = np.random.default_rng(0)
    p, g = _params(rng), _params(rng)
    before = {k: v.copy() for k, v in p.items()}
    new = SGD().step(p, g, 0.1)
    for k in p:
        np.testing.assert_allclose(new[k], before[k] - 0.1 * g[k], rtol=1e-6)
        np.testing.assert_array_equal(p[k], before[k])


def test_sgd_momentum_two_steps():
    p, g = {"a": np.array([1.0])}, {"a": np.array([2.0])}
    opt = SGD(momentum=0.5)
    p1 = opt.step(p, g, 0.1)
    p2 = opt.step(p1, g, 0.1)
    np.testing.assert_allclose(p2["a"], [1.0 - 0.1 * 2.0 - 0.1 * (0.5 * 2.0 + 2.0)])


@settings(max_examples=25, deadline=None)
@given(g=st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3), lr=st.floats(1e-4, 1e-1))
def test_adam_first_step_moves_by_lr_times_sign(g, lr):
    new = Adam().step({"a": np.array([0.0])}, {"a": np.array([g])}, lr)
    np.testing.assert_allclose(new["a"], [-lr * np.sign(g)], rtol=1e-4)


def test_adam_matches_reference_over_steps_and_state_round_trip():
    rng = np.random.default_rng(1)
    p = {"a": rng.normal(size=4)}
    grads = [{"a": rng.normal(size=4)} for _ in range(5)]
    opt = Adam(beta1=0.8, beta2=0.9, eps=1e-6)
    m = v = np.zeros(4)
    ref = p["a"].copy()
    cur = p
    for t, g in enumerate(grads, start=1):
        m = 0.8 * m + 0.2 * g["a"]
        v = 0.9 * v + 0.1 * g["a"] ** 2
        ref = ref - 0.01 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.9**t)) + 1e-6)
        cur = opt.step(cur, g, 0.01)
        if t == 2:  # a restored copy must continue identically
            clone = Adam(beta1=0.8, beta2=0.9, eps=1e-6)
            clone.set_state(opt.get_state())
            clone_cur = {k: v_.copy() for k, v_ in cur.items()}
    np.testing.assert_allclose(cur["a"], ref, rtol=1e-12)
    for g in grads[2:]:
        clone_cur = clone.step(clone_cur, g, 0.01)
    np.testing.assert_array_equal(clone_cur["a"], cur["a"])


def test_adam_leaves_entries_with_zero_gradient_alone():
    p = {"a": np.array([1.0, 2.0], np.float32)}
    opt = Adam()
    for _ in range(3):
        p = opt.step(p, {"a": np.array([0.5, 0.0], np.float32)}, 0.1)
    assert p["a"][1] == 2.0


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(1e-3, 1e3), max_norm=st.floats(0.1, 10.0))
def test_clip_by_global_norm(scale, max_norm):
    rng = np.random.default_rng(2)
    g = {k: v * scale for k, v in _params(rng).items()}
    norm = np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in g.values()))
    clipped, reported = clip_by_global_norm(g, max_norm)
    assert reported == pytest.approx(norm, rel=1e-6)
    assert global_norm(clipped) == pytest.approx(min(norm, max_norm), rel=1e-5)
    ratio = clipped["a"].astype(np.float64) / g["a"]
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)  # direction kept


def test_clip_zero_disables():
    g = {"a": np.array([3.0, 4.0])}
    assert clip_by_global_norm(g, 0.0)[0]["a"] is g["a"]


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop")
