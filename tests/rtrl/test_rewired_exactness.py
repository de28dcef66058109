"""Rewiring inside a sequence (``Learner.rewired``): sparse RTRL on every CPU kernel path, dense
RTRL and BPTT run with the same mask schedule compute the same gradient to <= 1e-9 in float64,
the gradient of BPTT through the switched graph (a grown weight exists from its rewiring on);
the remap keeps surviving columns, zeroes grown ones and re-derives the reached columns; the
counterfactual where grown weights had always existed at value zero differs (so the check can
fail); inconsistent edits are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rtrl.bptt import BPTT
from rtrl.dense_rtrl import DenseRTRL
from rtrl.kernels import compiled
from rtrl.model import MASKED
from rtrl.rewire import MaskEdit, column_sources, rewire
from rtrl.sparse_rtrl import SparseRTRL
from tests.rtrl.test_exactness import random_case, relative_error

KERNELS = ["generic", "fused"] + (["compiled"] if compiled.AVAILABLE else [])


def learners(model) -> dict:
    out = {"bptt": BPTT(model), "dense_rtrl": DenseRTRL(model)}
    for k in KERNELS:
        out[f"sparse/{k}"] = SparseRTRL(model, kernels=k)
    out["sparse/generic/no-skip"] = SparseRTRL(model, kernels="generic", skip_unreached=False)
    return out


def nudge(model, rng) -> None:
    """An update at the rewiring: every kept weight (the grown ones too, now non-zero) moves a little."""
    new = {k: np.array(v, copy=True) for k, v in model.params.items()}
    for name in MASKED:
        new[name] = np.where(model.masks[name], new[name] + rng.normal(0, 0.3, new[name].shape), 0.0)
    model.set_params(new)


def run(model, xs, targets, schedule, fraction, seed, move=True, check_counts=True):
    """Step every learner in lockstep, rewiring (and, with ``move``, nudging the weights) after
    each step in ``schedule``; returns the learners and the edits of each rewiring."""
    ls, rng, all_edits = learners(model), np.random.default_rng(seed), []
    for t, (x, y) in enumerate(zip(xs, targets)):
        for learner in ls.values():
            learner.step(x, int(y))
        if t + 1 in schedule:
            counts = {k: int(m.sum()) for k, m in model.masks.items()}
            edits = rewire(model, fraction, rng)
            if check_counts:
                assert {k: int(m.sum()) for k, m in model.masks.items()} == counts  # density kept
            all_edits.append(edits)
            if move:
                nudge(model, rng)
            ls = {k: learner.rewired(edits) for k, learner in ls.items()}
    return ls, all_edits


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 5), n_hidden=st.integers(2, 10),
       density=st.floats(0.1, 0.9), fraction=st.floats(0.05, 0.9), T=st.integers(2, 12),
       data=st.data())
def test_every_learner_agrees_with_bptt_through_the_switched_graph(seed, n_in, n_hidden, density, fraction, T, data):
    schedule = set(data.draw(st.lists(st.integers(1, T - 1), min_size=1, max_size=3), label="rewire after steps"))
    model, xs, targets = random_case(seed, n_in, n_hidden, 3, density, 0.3, 0.8, 0.5, T)
    ls, _ = run(model, xs, targets, schedule, fraction, seed)
    ref, ref_dense = ls["bptt"].grads(), ls["bptt"].grads(masked=False)
    for name, learner in ls.items():
        assert learner.loss_sum == pytest.approx(ls["bptt"].loss_sum, rel=1e-12, abs=1e-12), name
        assert relative_error(learner.grads(), ref) <= 1e-9, name
    assert relative_error(ls["dense_rtrl"].grads(masked=False), ref_dense) <= 1e-9


def test_the_counterfactual_differs_so_the_check_can_fail():
    """Dense RTRL that keeps the grown weights' columns (as if they had existed at value zero from
    the start) is off BPTT through the switched graph on exactly those weights."""
    model, xs, targets = random_case(7, 4, 9, 3, 0.4, 0.3, 0.8, 0.5, 12)
    ls, rng = {"bptt": BPTT(model), "exact": DenseRTRL(model)}, np.random.default_rng(1)
    cf = DenseRTRL(model)
    for t, (x, y) in enumerate(zip(xs, targets)):
        for learner in (*ls.values(), cf):
            learner.step(x, int(y))
        if t == 5:
            edits = rewire(model, 0.5, rng)
            ls = {k: v.rewired(edits) for k, v in ls.items()}
            state, cf = cf.get_state(), cf.rebuilt()
            cf.set_state(state)  # no zeroing: the columns of grown weights keep their history
    ref, exact, off = ls["bptt"].grads(), ls["exact"].grads(), cf.grads()
    assert relative_error(exact, ref) <= 1e-9
    grown = {e.name: e.added for e in edits}
    gap = max(float(np.abs(off[k].ravel()[a] - ref[k].ravel()[a]).max()) for k, a in grown.items() if a.size)
    assert gap > 1e-6
    for k in MASKED:  # elsewhere the counterfactual agrees
        rest = np.setdiff1d(np.arange(ref[k].size), grown[k])
        np.testing.assert_allclose(off[k].ravel()[rest], ref[k].ravel()[rest], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kernels", KERNELS)
def test_the_remap_keeps_surviving_columns_and_zeroes_grown_ones(kernels):
    model, xs, targets = random_case(3, 4, 10, 3, 0.5, 0.3, 0.8, 0.5, 6)
    old = SparseRTRL(model, kernels=kernels)
    for x, y in zip(xs, targets):
        old.step(x, int(y))
    before = {k: m.copy() for k, m in model.masks.items()}
    edits = rewire(model, 0.4, np.random.default_rng(0))
    new = old.rewired(edits)
    lo, ln = old.layout, new.layout
    assert ln.n_columns == lo.n_columns and new.t == old.t
    for e in edits:
        fan_in = before[e.name].shape[1]
        key_old = dict(zip((lo.rows[e.name] * fan_in + lo.srcs[e.name]).tolist(), range(lo.columns(e.name).start, lo.columns(e.name).stop)))
        for col, key in zip(range(ln.columns(e.name).start, ln.columns(e.name).stop),
                            (ln.rows[e.name] * fan_in + ln.srcs[e.name]).tolist()):
            if key in set(e.added.tolist()):
                assert not new.M[:, col].any() and new._grad[col] == 0
            else:
                assert np.array_equal(new.M[:, col], old.M[:, key_old[key]]) and new._grad[col] == old._grad[key_old[key]]
    for name in ("b_u", "b_r", "b_z", "b_rz", "thr"):
        assert np.array_equal(new.M[:, ln.columns(name)], old.M[:, lo.columns(name)])
    assert np.array_equal(new.s, old.s) and new.loss_sum == old.loss_sum
    assert new.reach.mask()[np.flatnonzero((new.M != 0).any(axis=0))].all()  # every non-zero column is swept


def test_inconsistent_edits_are_refused():
    model = random_case(2, 3, 8, 3, 0.5, 0.3, 0.8, 0.5, 2)[0]
    old = SparseRTRL(model, kernels="generic")
    edits = rewire(model, 0.3, np.random.default_rng(0))
    new = SparseRTRL(model, kernels="generic")
    none = [MaskEdit(e.name, e.removed[:0], e.added[:0]) for e in edits]
    with pytest.raises(ValueError, match="neither in the old layout nor added"):
        column_sources(old.layout, new.layout, none)
    with pytest.raises(ValueError, match="unknown matrices"):
        column_sources(old.layout, new.layout, [*edits, MaskEdit("W_o", edits[0].removed, edits[0].added)])
    with pytest.raises(ValueError, match="no column for"):
        column_sources(old.layout, new.layout, [MaskEdit(e.name, e.removed, e.removed) for e in edits])
