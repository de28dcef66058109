"""The influence matrix's fill (rtrl/fill.py) against an independent learner: dense RTRL stores
every entry's column, and its kept columns must show the same non-zero pattern after every step."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from rtrl import EGRU, make_learner
from rtrl.fill import checkpoints, influence_fill
from rtrl.model import MASKED


def _dense_fill(model, xs, targets) -> np.ndarray:
    learner = make_learner(model, "dense_rtrl")
    lay = learner.layout
    kept = []
    for name in MASKED:
        fan_in = model.params[name].shape[1]
        r, j = np.nonzero(model.masks[name])
        kept.append(lay.start[name] + r * fan_in + j)
    kept.append(np.arange(lay.start["b_u"], lay.n_columns))  # biases and thresholds: one column per unit
    kept = np.concatenate(kept)
    out = np.zeros(xs.shape[1])
    for seq_x, seq_t in zip(xs, targets):
        learner.reset()
        for t, (x, target) in enumerate(zip(seq_x, seq_t)):
            learner.step(x, int(target))
            out[t] += (np.asarray(learner.M)[:, kept] != 0).mean()
    return out / xs.shape[0]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(2, 10), density=st.floats(0.1, 1.0), eps=st.floats(0.05, 1.0))
def test_fill_equals_dense_rtrls_pattern_on_the_kept_columns(seed, n, density, eps):
    model = EGRU(3, n, 2, weight_density=density, pseudo_derivative=(0.4, eps), seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    xs = (rng.random((3, 7, 3)) < 0.5) * rng.normal(0, 1, (3, 7, 3))
    targets = np.full((3, 7), -1)
    targets[:, -1] = 1
    fill = influence_fill(model, xs, targets)
    np.testing.assert_allclose(fill.total, _dense_fill(model, xs, targets), rtol=0, atol=1e-12)
    assert np.all((0 <= fill.single) & (fill.single <= 1)) and 0 <= fill.active <= 1
    # the groups partition the columns: their column-weighted mean is the total
    sizes = {"W": sum(int(model.masks[k].sum()) for k in MASKED[:3]),
             "R": sum(int(model.masks[k].sum()) for k in MASKED[3:]), "biases": 4 * n, "thresholds": n}
    weighted = sum(fill.groups[g] * sizes[g] for g in sizes) / sum(sizes.values())
    np.testing.assert_allclose(weighted, fill.total, atol=1e-12)


def test_checkpoints():
    assert checkpoints(8) == [1, 2, 4, 8] and checkpoints(200)[-2:] == [128, 200] and checkpoints(1) == [1]
