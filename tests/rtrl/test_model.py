"""Model construction, masks and input validation."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rtrl import EGRU, PARAM_NAMES, gradients, make_learner


def small(**kw):
    args = dict(n_in=4, n_hidden=10, n_out=3, weight_density=0.5, threshold_mean=0.3,
                pseudo_derivative=(0.3, 0.5), seed=1, dtype=np.float64)
    args.update(kw)
    return EGRU(**args)


def test_public_api_shapes_and_masks():
    model = small()
    shapes = model.shapes()
    assert set(shapes) == set(PARAM_NAMES)
    for name in ("W_u", "W_r", "W_z"):
        assert shapes[name] == (10, 4)
    for name in ("R_u", "R_r", "R_z"):
        assert shapes[name] == (10, 10)
    assert shapes["W_o"] == (3, 10) and shapes["b_o"] == (3,) and shapes["thr"] == (10,)
    for name, mask in model.masks.items():
        assert mask.dtype == bool and mask.shape == shapes[name]
        assert np.all(model.params[name][~mask] == 0)
    assert np.all((model.params["thr"] >= 0) & (model.params["thr"] <= 1))


@given(density=st.floats(0.05, 1.0), seed=st.integers(0, 1000))
def test_mask_density_follows_weight_density(density, seed):
    model = EGRU(8, 40, 2, weight_density=density, seed=seed)
    kept = sum(model.masks[k].sum() for k in model.masks) / sum(m.size for m in model.masks.values())
    # 3*40*8 + 3*40*40 = 5760 Bernoulli draws: 5 standard deviations
    assert abs(kept - density) <= 5 * np.sqrt(density * (1 - density) / 5760) + 1e-12


@pytest.mark.parametrize("method", ["bptt", "dense_rtrl", "sparse_rtrl"])
def test_gradients_are_zero_at_masked_entries(method):
    model = small(weight_density=0.3)
    rng = np.random.default_rng(0)
    _, grads = gradients(model, rng.normal(size=(6, 4)), np.array([0, 1, -1, 2, 0, 1]), method)
    for name, mask in model.masks.items():
        assert np.all(grads[name][~mask] == 0)
        assert np.any(grads[name][mask] != 0)


def test_set_params_round_trip_and_checks():
    model = small()
    new = {k: v * 0.5 for k, v in model.params.items()}
    model.set_params(new)
    assert all(np.array_equal(model.params[k], new[k]) for k in new)
    bad = dict(new)
    bad["R_u"] = np.ones_like(new["R_u"])
    with pytest.raises(ValueError, match="masked"):
        model.set_params(bad)
    with pytest.raises(ValueError, match="shape"):
        model.set_params({**new, "b_u": np.zeros(3)})
    with pytest.raises(ValueError, match="keys"):
        model.set_params({k: v for k, v in new.items() if k != "thr"})
    with pytest.raises(ValueError, match="NaN"):
        model.set_params({**new, "b_o": np.array([np.nan, 0, 0])})


def test_set_params_takes_effect_in_a_running_learner():
    model = small()
    learner = make_learner(model, "sparse_rtrl")
    x = np.ones(4)
    before = learner.step(x, 0).logits
    learner.reset()
    model.set_params({**model.params, "b_o": model.params["b_o"] + 1.0})
    after = learner.step(x, 0).logits
    assert np.allclose(after - before, 1.0)


@pytest.mark.parametrize(
    "kwargs",
    [dict(weight_density=0.0), dict(weight_density=1.5), dict(weight_density=-0.1),
     dict(input_density=0.0), dict(n_hidden=0), dict(n_in=2.5), dict(threshold_mean=1.5),
     dict(pseudo_derivative=(0.3, 0.0)), dict(dtype=np.int32)],
)
def test_bad_construction_raises_value_error(kwargs):
    with pytest.raises(ValueError):
        small(**kwargs)


@pytest.mark.parametrize("method", ["bptt", "dense_rtrl", "sparse_rtrl"])
def test_bad_sequences_raise_value_error(method):
    model = small()
    xs, targets = np.zeros((5, 4)), np.zeros(5, int)
    for bad_xs, bad_t, match in [
        (np.zeros((5, 3)), targets, "shape"),
        (np.zeros(5), targets, "shape"),
        (xs, np.zeros(4, int), "shape"),
        (np.where(np.eye(5, 4) > 0, np.nan, 0.0), targets, "NaN"),
        (np.full((5, 4), np.inf), targets, "NaN"),
        (xs, np.full(5, 3), "targets"),
        (xs, np.full(5, -2), "targets"),
        (xs, np.full(5, 0.5), "integers"),
    ]:
        with pytest.raises(ValueError, match=match):
            gradients(model, bad_xs, bad_t, method)
    with pytest.raises(ValueError, match="unknown method"):
        gradients(model, xs, targets, "rtrl_magic")
    learner = make_learner(model, method)
    with pytest.raises(ValueError):
        learner.step(np.zeros(3), 0)
    with pytest.raises(ValueError):
        learner.step(np.array([0, 0, np.nan, 0]), 0)
