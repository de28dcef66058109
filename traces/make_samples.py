"""Regenerate the sample traces in this folder: ``.venv/bin/python traces/make_samples.py``.

* ``{sparse_rtrl,dense_rtrl,bptt}_h16.arrows``: the same EGRU (n_in 3, n_hidden 16, n_out 2,
  weight density 0.25, seed 0, float32) learning the same input: three copy-task episodes (pattern
  of 5 bits, delay 2, recall 5 -> 36 steps), recorded with 8 steps per chunk, then one ``grads()``
  call (BPTT records its backward pass as steps 36-71, one per stored step).
* ``gemm_16x16x16.arrows`` and ``spmm_64x64x16_d0.1.arrows``: synthetic one-op traces.

Outputs are deterministic except for the provenance fields ``created_utc`` and ``package``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from accel_sim.trace.io import write_trace
from accel_sim.trace.synthetic import gemm_trace, spmm_trace
from codesign.tracing import record_sequence
from rtrl import EGRU

HERE = Path(__file__).resolve().parent
MODEL = {"n_in": 3, "n_hidden": 16, "n_out": 2, "weight_density": 0.25, "seed": 0}
EPISODE = {"episodes": 3, "pattern_length": 5, "delay": 2, "input_seed": 1}
STEPS_PER_CHUNK = 8


def copy_sequence(episodes: int, pattern_length: int, delay: int, input_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Copy-task input: channels [bit 0, bit 1, recall cue]; xs (T, 3) float32, targets (T,) int
    (-1 = no target), T = episodes * (2 * pattern_length + delay)."""
    rng = np.random.default_rng(input_seed)
    xs, targets = [], []
    for _ in range(episodes):
        bits = rng.integers(0, 2, pattern_length)
        t_len = 2 * pattern_length + delay
        x = np.zeros((t_len, 3), np.float32)
        x[np.arange(pattern_length), bits] = 1.0
        x[pattern_length + delay :, 2] = 1.0
        y = np.full(t_len, -1, np.int64)
        y[pattern_length + delay :] = bits
        xs.append(x)
        targets.append(y)
    return np.concatenate(xs), np.concatenate(targets)


def main(out_dir: Path = HERE) -> list[Path]:
    xs, targets = copy_sequence(**EPISODE)
    written = []
    for method in ("sparse_rtrl", "dense_rtrl", "bptt"):
        model = EGRU(**MODEL)
        run = record_sequence(out_dir / f"{method}_h16.arrows", model, method, xs, targets,
                              config={"model": MODEL, "input": {"task": "copy", **EPISODE}},
                              steps_per_chunk=STEPS_PER_CHUNK)
        written.append(run.path)
    written.append(write_trace(out_dir / "gemm_16x16x16.arrows", *gemm_trace(16, 16, 16)))
    written.append(write_trace(out_dir / "spmm_64x64x16_d0.1.arrows", *spmm_trace(64, 64, 16, 0.1, seed=0)))
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"{path} ({path.stat().st_size} bytes)")
