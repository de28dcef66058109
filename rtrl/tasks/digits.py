"""The scikit-learn handwritten digits (1,797 real 8x8 images, no download) as sequences.

``digits``: fed row by row, 8 steps x 8 features (intensity / 16 in [0, 1]), label at the last step.
With ``steps_per_row`` k > 1, each row is spread over k steps during which every column's
intensity moves linearly from the previous row's value to this row's (T = 8k): the dense,
continuous signal that ``digits-events`` delta-modulates (the same signal in both forms).
``digits-events``: the same images as sparse signed events. Each row is spread over
``steps_per_row`` steps during which every column's intensity moves linearly from the previous
row's value to this row's; a delta modulator per column emits +1 / -1 when the signal has moved
``delta`` above / below its running reconstruction (at most one event per column per step).
The result has 8 channels with values in {-1, 0, +1} and T = 8 * steps_per_row steps.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .dataset import Task, last_step_targets, split
from .options import check, check_size, resolve

DIGITS_DEFAULTS = {"seed": 0, "test_fraction": 0.2, "n_train": 0, "steps_per_row": 1}
EVENTS_DEFAULTS = {**DIGITS_DEFAULTS, "steps_per_row": 4, "delta": 0.25}


@lru_cache(maxsize=1)
def _load_images() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 8, 8) float32 in [0, 1] and (1797,) int64 labels (read-only, cached).
    sklearn is imported here only, so ``rtrl`` itself needs numpy alone."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, labels = (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def _finish(name: str, xs: np.ndarray, labels: np.ndarray, opts: dict, description: str) -> Task:
    check(name, 0.0 < opts["test_fraction"] < 1.0, "test_fraction", "in (0, 1)", opts["test_fraction"])
    check(name, opts["n_train"] >= 0, "n_train", ">= 0 (0 = all)", opts["n_train"])
    n_test = int(round(xs.shape[0] * opts["test_fraction"]))
    check(name, 1 <= n_test < xs.shape[0], "test_fraction", "large enough for 1 test and 1 training image",
          opts["test_fraction"])
    rng = np.random.default_rng(opts["seed"])
    train, test = split(xs, last_step_targets(labels, xs.shape[1]), opts["test_fraction"], rng)
    if opts["n_train"]:
        train = type(train)(train.xs[: opts["n_train"]], train.targets[: opts["n_train"]])
    return Task(name, xs.shape[2], 10, train, test, opts, description)


def build_digits(**options) -> Task:
    opts = resolve("digits", DIGITS_DEFAULTS, options)
    check("digits", opts["steps_per_row"] >= 1, "steps_per_row", ">= 1", opts["steps_per_row"])
    check_size("digits", 1797 * 8 * opts["steps_per_row"] * 8, "steps_per_row")
    images, labels = _load_images()
    k = opts["steps_per_row"]
    if k == 1:
        return _finish("digits", images, labels, opts, "sklearn digits, row by row: 8 steps x 8 features")
    xs = interpolated_rows(images, k)
    return _finish("digits", xs, labels, opts,
                   f"sklearn digits, rows interpolated over {k} steps each: {xs.shape[1]} steps x 8 features")


def interpolated_rows(images: np.ndarray, steps_per_row: int) -> np.ndarray:
    """(N, R, C) intensities -> (N, R * steps_per_row, C) float32: step j of row r holds
    prev + (row - prev) * (j + 1) / steps_per_row (prev: row r - 1, zeros before the first row),
    the signal ``delta_events`` samples."""
    images = images.astype(np.float64)
    prev = np.concatenate([np.zeros_like(images[:, :1]), images[:, :-1]], axis=1)
    frac = (np.arange(steps_per_row) + 1.0) / steps_per_row
    xs = prev[:, :, None, :] + (images - prev)[:, :, None, :] * frac[None, None, :, None]
    return xs.reshape(images.shape[0], -1, images.shape[2]).astype(np.float32)


def delta_events(images: np.ndarray, steps_per_row: int, delta: float) -> np.ndarray:
    """(N, R, C) intensities -> (N, R * steps_per_row, C) float32 events in {-1, 0, +1}."""
    n, rows, cols = images.shape
    events = np.zeros((n, rows * steps_per_row, cols), np.float32)
    recon = np.zeros((n, cols), np.float64)
    prev = np.zeros((n, cols), np.float64)
    t = 0
    for r in range(rows):
        row = images[:, r, :].astype(np.float64)
        for j in range(steps_per_row):
            signal = prev + (row - prev) * (j + 1) / steps_per_row
            diff = signal - recon
            up, down = diff >= delta - 1e-9, diff <= -delta + 1e-9
            events[:, t, :] = up.astype(np.float32) - down.astype(np.float32)
            recon += delta * (up.astype(np.float64) - down.astype(np.float64))
            t += 1
        prev = row
    return events


def build_digits_events(**options) -> Task:
    opts = resolve("digits-events", EVENTS_DEFAULTS, options)
    check("digits-events", opts["steps_per_row"] >= 1, "steps_per_row", ">= 1", opts["steps_per_row"])
    check("digits-events", 0.0 < opts["delta"] <= 1.0, "delta", "in (0, 1]", opts["delta"])
    check_size("digits-events", 1797 * 8 * opts["steps_per_row"] * 8, "steps_per_row")
    images, labels = _load_images()
    xs = delta_events(images, opts["steps_per_row"], opts["delta"])
    return _finish(
        "digits-events",
        xs,
        labels,
        opts,
        f"sklearn digits as +-1 delta events: {xs.shape[1]} steps x 8 channels, delta {opts['delta']}",
    )
