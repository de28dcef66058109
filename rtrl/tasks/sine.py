"""Classify the frequency of a noisy sine wave: a dense, continuously varying 1-channel input.

Class k has frequency ``freq_min + k * (freq_max - freq_min) / (n_classes - 1)`` cycles per step,
random phase, amplitude 1, plus Gaussian noise of standard deviation ``noise_std``. The label is
at the last of ``n_steps`` steps. Every input is non-zero at every step, so unlike the event
tasks it gives activity sparsity nothing to exploit on the input side.
"""

from __future__ import annotations

import numpy as np

from .dataset import Task, last_step_targets, make_dataset
from .options import check, check_size, resolve

SINE_DEFAULTS = {
    "seed": 0,
    "n_classes": 4,
    "n_steps": 32,
    "freq_min": 0.05,
    "freq_max": 0.2,
    "noise_std": 0.3,
    "n_train": 2000,
    "n_test": 500,
}


def _sequences(n: int, opts: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, opts["n_classes"], size=n)
    freqs = np.linspace(opts["freq_min"], opts["freq_max"], opts["n_classes"])[labels]
    phase = rng.uniform(0.0, 2.0 * np.pi, size=n)
    t = np.arange(opts["n_steps"])
    wave = np.sin(2.0 * np.pi * freqs[:, None] * t[None, :] + phase[:, None])
    wave += rng.normal(0.0, opts["noise_std"], size=wave.shape)
    return wave[:, :, None].astype(np.float32), last_step_targets(labels, opts["n_steps"])


def build_sine(**options) -> Task:
    opts = resolve("sine", SINE_DEFAULTS, options)
    check("sine", opts["n_classes"] >= 2, "n_classes", ">= 2", opts["n_classes"])
    check("sine", opts["n_classes"] <= 1024, "n_classes", "<= 1024", opts["n_classes"])
    check("sine", opts["n_steps"] >= 2, "n_steps", ">= 2", opts["n_steps"])
    check("sine", 0.0 < opts["freq_min"] < opts["freq_max"] <= 0.5, "freq_min/freq_max",
          "0 < freq_min < freq_max <= 0.5 cycles/step", (opts["freq_min"], opts["freq_max"]))
    check("sine", opts["noise_std"] >= 0.0, "noise_std", ">= 0", opts["noise_std"])
    check("sine", opts["n_train"] >= 1, "n_train", ">= 1", opts["n_train"])
    check("sine", opts["n_test"] >= 1, "n_test", ">= 1", opts["n_test"])
    check_size("sine", (opts["n_train"] + opts["n_test"]) * opts["n_steps"], "n_train/n_test/n_steps")
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(opts["seed"]).spawn(2))
    desc = f"noisy sine, {opts['n_classes']} frequencies, {opts['n_steps']} steps, noise std {opts['noise_std']}"
    return Task(
        "sine", 1, opts["n_classes"],
        make_dataset(*_sequences(opts["n_train"], opts, train_rng)),
        make_dataset(*_sequences(opts["n_test"], opts, test_rng)),
        opts, desc,
    )
