"""The copy task: remember a random bit pattern and replay it after a delay.

Inputs have 3 channels: ``[bit is 0, bit is 1, recall cue]``. A sequence is ``pattern_length``
steps showing the bits (one-hot), ``delay`` blank steps, then ``pattern_length`` recall steps with
the cue on and no bit shown; the target at recall step i is bit i (2 classes), -1 elsewhere.
T = 2 * pattern_length + delay steps. Accuracy over labelled steps is the bit accuracy.
"""

from __future__ import annotations

import numpy as np

from .dataset import NO_TARGET, Task, make_dataset
from .options import check, check_size, resolve

COPY_DEFAULTS = {"seed": 0, "pattern_length": 5, "delay": 0, "n_train": 2000, "n_test": 500}


def _sequences(n: int, length: int, delay: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_steps = 2 * length + delay
    bits = rng.integers(0, 2, size=(n, length))
    xs = np.zeros((n, n_steps, 3), np.float32)
    rows = np.arange(n)[:, None]
    xs[rows, np.arange(length)[None, :], bits] = 1.0
    recall = np.arange(length + delay, n_steps)
    xs[:, recall, 2] = 1.0
    targets = np.full((n, n_steps), NO_TARGET, np.int64)
    targets[:, recall] = bits
    return xs, targets


def build_copy(**options) -> Task:
    opts = resolve("copy", COPY_DEFAULTS, options)
    check("copy", opts["pattern_length"] >= 1, "pattern_length", ">= 1", opts["pattern_length"])
    check("copy", opts["delay"] >= 0, "delay", ">= 0", opts["delay"])
    check("copy", opts["n_train"] >= 1, "n_train", ">= 1", opts["n_train"])
    check("copy", opts["n_test"] >= 1, "n_test", ">= 1", opts["n_test"])
    check_size("copy", (opts["n_train"] + opts["n_test"]) * (2 * opts["pattern_length"] + opts["delay"]) * 3,
               "n_train/n_test/pattern_length/delay")
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(opts["seed"]).spawn(2))
    train = make_dataset(*_sequences(opts["n_train"], opts["pattern_length"], opts["delay"], train_rng))
    test = make_dataset(*_sequences(opts["n_test"], opts["pattern_length"], opts["delay"], test_rng))
    desc = f"copy {opts['pattern_length']} bits after a {opts['delay']}-step delay"
    return Task("copy", 3, 2, train, test, opts, desc)
