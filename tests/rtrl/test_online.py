"""The online interface: step-by-step use, partial gradients, state snapshots, float32."""

import numpy as np
import pytest

from rtrl import EGRU, gradients, make_learner


def case(dtype=np.float64, T=10):
    model = EGRU(3, 8, 2, weight_density=0.5, threshold_mean=0.2, pseudo_derivative=(0.5, 0.4),
                 seed=7, dtype=dtype)
    rng = np.random.default_rng(7)
    return model, rng.normal(0, 2, (T, 3)), rng.integers(-1, 2, T)


@pytest.mark.parametrize("method", ["dense_rtrl", "sparse_rtrl"])
def test_gradient_at_any_step_equals_bptt_of_the_prefix(method):
    model, xs, targets = case()
    learner = make_learner(model, method)
    for t in range(len(xs)):
        learner.step(xs[t], targets[t])
        online = learner.grads()
        _, prefix = gradients(model, xs[: t + 1], targets[: t + 1], "bptt")
        for k in prefix:
            assert np.allclose(online[k], prefix[k], rtol=1e-9, atol=1e-12), (t, k)


def test_zero_grad_keeps_state_and_influence():
    """After zero_grad the gradient covers only later losses, through the whole history."""
    model, xs, targets = case()
    targets[:5] = -1  # no loss before the split, so nothing is lost by zeroing
    learner = make_learner(model, "sparse_rtrl")
    for t in range(5):
        learner.step(xs[t], targets[t])
    learner.zero_grad()
    for t in range(5, len(xs)):
        learner.step(xs[t], targets[t])
    full = gradients(model, xs, targets, "bptt")[1]
    for k, v in learner.grads().items():
        assert np.allclose(v, full[k], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["dense_rtrl", "sparse_rtrl"])
def test_state_snapshot_resumes_bit_exactly(method):
    model, xs, targets = case(np.float32)
    a = make_learner(model, method)
    for t in range(4):
        a.step(xs[t], targets[t])
    snap = a.get_state()
    b = make_learner(model, method)
    b.set_state(snap)
    for t in range(4, len(xs)):
        out_a, out_b = a.step(xs[t], targets[t]), b.step(xs[t], targets[t])
        assert out_a.loss == out_b.loss
    for k, v in a.grads().items():
        assert np.array_equal(v, b.grads()[k])


def test_float32_default_is_close_to_float64():
    model32, xs, targets = case(np.float32)
    model64 = EGRU(3, 8, 2, weight_density=0.5, threshold_mean=0.2, pseudo_derivative=(0.5, 0.4),
                   seed=7, dtype=np.float64)
    model64.set_params({k: v.astype(np.float64) for k, v in model32.params.items()})
    _, g32 = gradients(model32, xs, targets, "sparse_rtrl")
    _, g64 = gradients(model64, xs, targets, "sparse_rtrl")
    assert all(g32[k].dtype == np.float32 for k in g32)
    scale = max(np.abs(v).max() for v in g64.values())
    assert max(np.abs(g32[k] - g64[k]).max() for k in g64) / scale < 1e-4


def test_state_bytes_sparse_is_smaller_than_dense():
    model = EGRU(4, 20, 2, weight_density=0.1, seed=0)
    sparse, dense = make_learner(model, "sparse_rtrl"), make_learner(model, "dense_rtrl")
    itemsize = 4
    assert sparse.state_bytes() == 20 * model.n_recurrent_params(masked_only=True) * itemsize
    assert dense.state_bytes() == 20 * model.n_recurrent_params(masked_only=False) * itemsize
    assert sparse.state_bytes() < 0.3 * dense.state_bytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_subnormals_zeroes_only_subnormals(dtype):
    from rtrl.sparse_rtrl import flush_subnormals

    tiny = np.finfo(dtype).tiny
    values = np.array([tiny / 4, -tiny / 2, tiny, -tiny, 1.0, 0.0, -3.5, tiny * 2], dtype)
    M = values.reshape(2, 4).copy()
    flush_subnormals(M)
    expected = np.where(np.abs(values) < tiny, 0, values).reshape(2, 4)
    assert np.array_equal(M, expected)
    assert np.count_nonzero(M) == 5  # the two subnormals and the zero


def test_set_state_refuses_wrong_shapes_missing_keys_and_nan():
    model, xs, targets = case()
    learner = make_learner(model, "sparse_rtrl")
    learner.step(xs[0], targets[0])
    good = learner.get_state()
    for key, bad, match in [
        ("influence", good["influence"][:, :-1], "shape"),
        ("s", np.full_like(good["s"], np.nan), "NaN"),
        ("dW_o", good["dW_o"].T, "shape"),
    ]:
        with pytest.raises(ValueError, match=match):
            make_learner(model, "sparse_rtrl").set_state({**good, key: bad})
    with pytest.raises(ValueError, match="missing"):
        make_learner(model, "sparse_rtrl").set_state({k: v for k, v in good.items() if k != "grad"})
    restored = make_learner(model, "sparse_rtrl")
    restored.set_state(good)
    assert np.array_equal(restored.M, learner.M)
