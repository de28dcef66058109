"""Fill-in skipping (rtrl.reach): the columns sparse RTRL leaves out of its update are exactly zero,
every kernel path reaches the same columns and agrees with BPTT, and the spans cover exactly the
reached segments."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel_sim.trace.schema import ListRecorder
from rtrl import EGRU, gradients
from rtrl.kernels import native
from rtrl.reach import FULL_SWEEP, SEGMENT, Reach, spans
from rtrl.sparse_rtrl import SparseRTRL
from tests.rtrl.test_exactness import relative_error

PATHS = ("c", "numba", "generic", "fused")


def learner(model, path: str, recorder=None) -> SparseRTRL:
    if path == "numba":
        with native.disabled():
            return SparseRTRL(model, recorder=recorder, kernels="compiled")
    return SparseRTRL(model, recorder=recorder, kernels="compiled" if path == "c" else path)


def sparse_inputs(rng, T: int, n_in: int, p_zero: float) -> np.ndarray:
    """Inputs with whole channels silent for a while (their weights' columns stay unreached)."""
    x = rng.normal(0, 2, (T, n_in))
    silent_until = rng.integers(0, T + 1, n_in) * (rng.random(n_in) < p_zero)
    return x * (np.arange(T)[:, None] >= silent_until[None, :])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 40), n=st.integers(2, 40), density=st.floats(0.05, 1.0),
       thr=st.floats(0.0, 1.0), eps=st.floats(0.01, 1.0), T=st.integers(1, 12), p_zero=st.floats(0.0, 1.0))
def test_unreached_columns_are_zero_and_every_path_agrees(seed, n_in, n, density, thr, eps, T, p_zero):
    model = EGRU(n_in, n, 3, weight_density=density, threshold_mean=thr, pseudo_derivative=(0.5, eps), seed=seed,
                 dtype=np.float64)
    rng = np.random.default_rng(seed)
    xs, targets = sparse_inputs(rng, T, n_in, p_zero), rng.integers(-1, 3, T)
    targets[-1] = 0
    learners = {path: learner(model, path, ListRecorder()) for path in PATHS}
    for x, target in zip(xs, targets):
        for a in learners.values():
            a.step(x, int(target))
        ref = learners["generic"]
        for path, a in learners.items():
            assert np.array_equal(a.reach.flags, ref.reach.flags), path
            assert not np.any(a.M[:, ~a.reach.mask()]), path  # what is skipped is zero
            np.testing.assert_allclose(a.M, ref.M, rtol=1e-12, atol=1e-12 * max(np.abs(ref.M).max(), 1))
    grads_ref = gradients(model, xs, targets, method="bptt")[1]
    for path, a in learners.items():
        assert relative_error(a.grads(), grads_ref) <= 1e-9, path
        assert a.recorder.ops == learners["generic"].recorder.ops, path
        assert all(np.array_equal(s.sets["reached"], r.sets["reached"])
                   for s, r in zip(a.recorder.steps, learners["generic"].recorder.steps)), path


def test_reach_starts_over_at_reset_and_follows_a_restored_state():
    model = EGRU(6, 30, 3, weight_density=0.2, seed=1, dtype=np.float64)
    rng = np.random.default_rng(0)
    a = SparseRTRL(model)
    assert a.reach.n_reached == 0
    for x in rng.normal(0, 1, (5, 6)):
        a.step(x)
    assert a.reach.n_reached > 0
    state = a.get_state()
    a.reset()
    assert a.reach.n_reached == 0 and not a.M.any()
    b = SparseRTRL(model)
    b.set_state(state)
    nonzero = (state["influence"] != 0).any(axis=0)
    assert np.all(b.reach.mask()[nonzero])  # every non-zero column is reached
    segments = np.add.reduceat(nonzero, np.arange(0, nonzero.size, SEGMENT)) > 0
    expected = np.repeat(segments, SEGMENT)[:nonzero.size].sum()
    assert b.reach.n_reached == (nonzero.size if expected >= FULL_SWEEP * nonzero.size else expected)


@given(flags=st.lists(st.booleans(), min_size=1, max_size=60), tail=st.integers(1, SEGMENT),
       block_segments=st.integers(1, 9))
def test_spans_cover_exactly_the_reached_segments(flags, tail, block_segments):
    n_columns, block = (len(flags) - 1) * SEGMENT + tail, block_segments * SEGMENT
    start, width = (np.zeros(len(flags) + n_columns // block + 1, np.int64) for _ in range(2))
    k, n_reached = spans(np.array(flags, np.uint8), n_columns, block, start, width)
    covered = np.zeros(n_columns, int)
    for s, w in zip(start[:k], width[:k]):
        assert 0 < w <= block
        covered[s:s + w] += 1
    expected = np.repeat(np.array(flags, bool), SEGMENT)[:n_columns]
    assert np.array_equal(covered, expected.astype(int)) and n_reached == expected.sum()
    assert np.all(np.diff(start[:k]) > 0)


def test_reach_refuses_a_block_that_is_not_whole_segments():
    with pytest.raises(ValueError, match="multiple"):
        Reach(100, block=SEGMENT + 1)


def test_nearly_everything_reached_counts_as_everything():
    reach = Reach(10 * SEGMENT)
    reach.mark(np.arange(8 * SEGMENT))
    assert reach.n_reached == 8 * SEGMENT and reach.n_spans == -(-8 * SEGMENT // reach.block)
    reach.mark(np.array([9 * SEGMENT]))  # 9 of 10 segments >= FULL_SWEEP: all of them
    assert FULL_SWEEP <= 0.9 and reach.everything() and reach.mask().all()
