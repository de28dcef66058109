"""Learners of one model share its mask-derived structure (rtrl/static.py), and never a stale one."""

import numpy as np

from rtrl import EGRU, gradients, make_learner
from rtrl.static import mask_digest
from tests.rtrl.test_exactness import relative_error


def test_learners_of_one_model_share_static_structure_and_stay_independent():
    model = EGRU(4, 20, 3, weight_density=0.3, threshold_mean=0.2, pseudo_derivative=(0.5, 0.3), seed=2,
                 dtype=np.float64)
    a, b = make_learner(model, "sparse_rtrl"), make_learner(model, "sparse_rtrl")
    assert a.layout is b.layout  # built once
    assert a.M is not b.M and a._grad is not b._grad  # the learning state is each learner's own
    xs = np.random.default_rng(0).normal(0, 2, (9, 4))
    targets = np.array([-1, 1, -1, 2, -1, -1, 0, -1, 1])
    for x, t in zip(xs, targets):
        a.step(x, t)
    _, ref = gradients(model, xs, targets, "bptt")
    for x, t in zip(xs, targets):  # b runs after a: a's run left nothing in what they share
        b.step(x, t)
    assert relative_error(a.grads(), ref) <= 1e-9 and relative_error(b.grads(), ref) <= 1e-9


def test_changed_masks_get_fresh_structure():
    """A model whose masks are replaced (here: with another model's) is differentiated with the new ones."""
    model = EGRU(3, 12, 2, weight_density=0.4, threshold_mean=0.2, pseudo_derivative=(0.5, 0.4), seed=1,
                 dtype=np.float64)
    other = EGRU(3, 12, 2, weight_density=0.4, threshold_mean=0.2, pseudo_derivative=(0.5, 0.4), seed=7,
                 dtype=np.float64)
    xs = np.random.default_rng(1).normal(0, 2, (8, 3))
    targets = np.array([-1, 0, -1, 1, -1, 1, -1, 0])
    before = make_learner(model, "sparse_rtrl").layout
    digest = mask_digest(model)
    model.masks, model.device_masks = other.masks, other.device_masks
    model.set_params(other.params)
    assert mask_digest(model) != digest
    learner = make_learner(model, "sparse_rtrl")
    assert learner.layout is not before
    assert learner.layout.n_columns == other.n_recurrent_params()
    _, ref = gradients(other, xs, targets, "bptt")
    assert relative_error(gradients(model, xs, targets, "sparse_rtrl")[1], ref) <= 1e-9
