"""Tasks: shapes, determinism by seed, label placement, encodings checked against their definitions."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rtrl.tasks import TASK_NAMES, get_task
from rtrl.tasks.digits import delta_events

SMALL = {"copy": {"n_train": 30, "n_test": 10}, "sine": {"n_train": 30, "n_test": 10},
         "digits": {}, "digits-events": {}}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_shapes_dtypes_and_labels(name):
    task = get_task(name, **SMALL[name])
    for data in (task.train, task.test):
        assert data.xs.dtype == np.float32 and data.targets.dtype == np.int64
        assert data.xs.shape == (len(data), task.n_steps, task.n_in)
        assert data.targets.shape == (len(data), task.n_steps)
        assert set(np.unique(data.targets)) <= set(range(-1, task.n_out))
        assert data.n_labelled_steps > 0
        seq = data[0]
        assert seq.xs.shape == (task.n_steps, task.n_in) and seq.targets.shape == (task.n_steps,)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_deterministic_by_seed(name):
    a, b = get_task(name, seed=3, **SMALL[name]), get_task(name, seed=3, **SMALL[name])
    c = get_task(name, seed=4, **SMALL[name])
    for x, y in ((a.train, b.train), (a.test, b.test)):
        np.testing.assert_array_equal(x.xs, y.xs)
        np.testing.assert_array_equal(x.targets, y.targets)
    assert not np.array_equal(a.train.xs, c.train.xs)


def test_digits_is_the_sklearn_images_row_by_row():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    task = get_task("digits", seed=0)
    assert len(task.train) + len(task.test) == 1797
    assert task.n_steps == 8 and task.n_in == 8 and task.n_out == 10
    # every train sequence is one of the images / 16 with its label at the last step only
    lookup = {bunch.images[i].astype(np.float32).tobytes(): bunch.target[i] for i in range(1797)}
    for i in range(0, len(task.train), 97):
        seq = task.train[i]
        assert lookup[(seq.xs * 16).round().astype(np.float32).tobytes()] == seq.targets[-1]
        assert np.all(seq.targets[:-1] == -1)


def test_train_and_test_are_disjoint_and_cover_digits():
    task = get_task("digits", seed=1, test_fraction=0.25)
    train = {row.tobytes() for row in task.train.xs.reshape(len(task.train), -1)}
    test = [row.tobytes() for row in task.test.xs.reshape(len(task.test), -1)]
    assert len(task.test) == round(1797 * 0.25)
    assert sum(t in train for t in test) <= 5  # load_digits has a few duplicate images


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 8), delay=st.integers(0, 5), seed=st.integers(0, 10_000))
def test_copy_targets_replay_the_shown_bits(length, delay, seed):
    task = get_task("copy", pattern_length=length, delay=delay, seed=seed, n_train=8, n_test=2)
    assert task.n_steps == 2 * length + delay
    for seq in task.train:
        shown = np.argmax(seq.xs[:length, :2], axis=1)
        assert np.all(seq.xs[:length, :2].sum(axis=1) == 1)
        np.testing.assert_array_equal(seq.targets[length + delay:], shown)
        assert np.all(seq.targets[: length + delay] == -1)
        assert np.all(seq.xs[length + delay:, 2] == 1) and np.all(seq.xs[: length + delay, 2] == 0)
        assert np.all(seq.xs[length:, :2] == 0)


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(1, 6), delta=st.sampled_from([0.1, 0.25, 0.5]), seed=st.integers(0, 1000))
def test_delta_events_track_the_signal_within_delta(steps, delta, seed):
    rng = np.random.default_rng(seed)
    images = rng.random((3, 4, 5)).astype(np.float32)
    events = delta_events(images, steps, delta)
    assert events.shape == (3, 4 * steps, 5) and set(np.unique(events)) <= {-1.0, 0.0, 1.0}
    recon = np.cumsum(events, axis=1) * delta  # the receiver's reconstruction
    # at the end of each row the reconstruction is within delta of the row value, plus whatever
    # backlog one event per step could not emit yet
    for r in range(4):
        lag = np.abs(recon[:, (r + 1) * steps - 1, :] - images[:, r, :])
        assert np.all(lag <= delta + 1e-6 + _carry(images, r, steps, delta))


def _carry(images, r, steps, delta):
    """Backlog from earlier rows that one event per step could not yet emit (upper bound)."""
    total = np.zeros(images[:, 0, :].shape)
    prev = np.zeros_like(total)
    for i in range(r + 1):
        total = np.maximum(0.0, total + np.abs(images[:, i, :] - prev) - steps * delta)
        prev = images[:, i, :]
    return total


def test_digits_events_are_sparse_and_signed():
    task = get_task("digits-events", steps_per_row=4, delta=0.25)
    assert task.n_steps == 32
    nonzero = np.mean(task.train.xs != 0)
    assert 0.0 < nonzero < 0.3
    assert np.any(task.train.xs == -1) and np.any(task.train.xs == 1)


def test_dense_digits_over_several_steps_per_row_are_the_signal_the_events_encode():
    """digits with steps_per_row k: step k*r + k - 1 is row r exactly, steps in between lie on the line
    from the previous row; the delta events of digits-events, integrated, track this same signal."""
    plain = get_task("digits")
    dense = get_task("digits", steps_per_row=4)
    events = get_task("digits-events", steps_per_row=4, delta=0.25)
    assert dense.n_steps == 32 and dense.n_in == plain.n_in
    x, rows = dense.train.xs.astype(np.float64), plain.train.xs.astype(np.float64)  # same split (same seed)
    assert np.allclose(x[:, 3::4], rows, atol=1e-6)
    before = np.concatenate([np.zeros_like(rows[:, :1]), rows[:, :-1]], axis=1)
    assert np.allclose(x[:, 1::4], before + 0.5 * (rows - before), atol=1e-6)
    assert np.mean(x != 0) > 3 * np.mean(events.train.xs != 0)  # the dense form has far more non-zeros
    recon = 0.25 * np.cumsum(events.train.xs.astype(np.float64), axis=1)
    err = np.abs(recon - x)
    assert np.mean(err < 0.25 + 1e-6) > 0.9  # within one delta most of the time (lag only on steep edges)
    assert np.array_equal(plain.train.targets, get_task("digits", steps_per_row=1).train.targets)


def test_sine_without_noise_is_a_pure_sine_of_the_class_frequency():
    task = get_task("sine", noise_std=0.0, n_classes=3, n_steps=64, freq_min=0.05, freq_max=0.25,
                    n_train=12, n_test=3)
    freqs = np.linspace(0.05, 0.25, 3)
    t = np.arange(64)
    for seq in task.train:
        f = freqs[seq.targets[-1]]
        x = seq.xs[:, 0].astype(np.float64)
        # fit a*sin + b*cos at the class frequency: residual ~ 0 (round-off of float32)
        basis = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)], axis=1)
        coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
        assert np.max(np.abs(basis @ coef - x)) < 1e-5
        assert abs(np.hypot(*coef) - 1.0) < 1e-5


@pytest.mark.parametrize(
    "name,options,needle",
    [
        ("nope", {}, "unknown task 'nope'"),
        ("copy", {"bogus": 1}, "unknown option 'bogus'"),
        ("copy", {"delay": -1}, "'delay' must be >= 0"),
        ("copy", {"pattern_length": "x"}, "'pattern_length' must be int"),
        ("copy", {"pattern_length": 2.5}, "'pattern_length' must be int"),
        ("digits", {"test_fraction": 1.5}, "'test_fraction' must be in (0, 1)"),
        ("digits-events", {"delta": 0}, "'delta' must be in (0, 1]"),
        ("sine", {"freq_max": 0.9}, "freq_min/freq_max"),
        ("sine", {"n_classes": 1}, "'n_classes' must be >= 2"),
    ],
)
def test_bad_names_and_options_raise_value_error(name, options, needle):
    with pytest.raises(ValueError) as info:
        get_task(name, **options)
    assert needle in str(info.value)


def test_string_options_from_the_command_line_are_converted():
    task = get_task("copy", pattern_length="3", delay="1", n_train="4", n_test="2")
    assert task.n_steps == 7 and len(task.train) == 4 and task.options["pattern_length"] == 3


def test_rtrl_tasks_and_online_import_without_sklearn_or_simulator():
    import subprocess
    import sys

    code = ("import sys, rtrl.tasks, rtrl.online; "
            "bad = [m for m in ('sklearn', 'simpy', 'matplotlib', 'pyarrow') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
