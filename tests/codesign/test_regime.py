"""The BPTT-vs-sparse-RTRL model (codesign/regime.py) against direct simulation: costs measured
on 8-step sequences, extended linearly in the window, must predict what the simulator gives for
the same model on 32-step sequences (memory, cycles and energy per step with one update per
window), and the crossovers must be where the two methods' curves meet."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from accel_sim import load_config, simulate_file
from codesign.columns import config_columns
from codesign.pipeline import HardwareResult, trace_counts
from codesign.regime import regime
from codesign.tracing import open_trace_writer
from rtrl import EGRU, make_learner
from rtrl.online import OnlineTrainer, TrainConfig
from rtrl.tasks.dataset import Dataset

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "hw_configs" / "sparse_skipping.yaml"


def _row(tmp_path: Path, model, method: str, steps: int, sequences: int) -> dict:
    """A sweep-style row for ``method`` on ``sequences`` random sequences of ``steps`` steps."""
    rng = np.random.default_rng(7)
    xs = (rng.random((sequences, steps, model.n_in)) < 0.3).astype(np.float32)
    targets = np.full((sequences, steps), -1)
    targets[:, -1] = rng.integers(0, model.n_out, sequences)
    path = tmp_path / f"{method}_{steps}.arrows"
    with open_trace_writer(path, model, method, history_steps=steps) as writer:
        learner = make_learner(model, method)
        config = TrainConfig(epochs=1, lr=1e-3, optimizer="sgd", update_every=0 if method == "bptt" else 1,
                             shuffle=False, seed=0)
        OnlineTrainer(model, learner, config, recorder=writer).fit(Dataset(xs, targets))
    n_steps, input_steps, _ = trace_counts(path)
    cfg = load_config(CONFIG)
    result = simulate_file(str(path), cfg, "L1")
    hw = HardwareResult(result.to_dict(), config_columns(cfg), {}, n_steps, sequences,
                        history_steps=steps if method == "bptt" else 0, input_steps=input_steps)
    row = hw.to_row()
    row.update(config="sparse_skipping", method=method, update_every="sequence" if method == "bptt" else "step",
               trace_steps=n_steps, trace_input_steps=input_steps, trace_samples=sequences)
    return row


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("regime")
    model = EGRU(8, 24, 4, weight_density=0.25, seed=3)
    # the same number of input steps (384) at both lengths, so the activity statistics match
    return {(m, t): _row(tmp, model, m, t, 384 // t) for m, t in (("bptt", 8), ("bptt", 32), ("sparse_rtrl", 8))}


def test_input_steps_exclude_bptts_backward_steps(rows):
    assert rows[("bptt", 8)]["trace_input_steps"] == 384
    assert rows[("bptt", 8)]["trace_steps"] > 384  # the backward pass is recorded as further steps
    assert rows[("sparse_rtrl", 8)]["trace_input_steps"] == rows[("sparse_rtrl", 8)]["trace_steps"] == 384


def test_the_linear_model_predicts_a_4x_longer_sequence(rows):
    g = regime(rows[("bptt", 8)], rows[("sparse_rtrl", 8)])
    assert g is not None and g.trace_window == 8
    long = rows[("bptt", 32)]
    assert g.bptt_memory(32) == pytest.approx(long["learning_state_bytes"], rel=0.02)
    once = long.get("label_energy_pj_writeback_at_end", 0.0) / long["trace_input_steps"]  # one-off, left out
    assert g.bptt_energy_per_step(32, 32) == pytest.approx(long["energy_per_step_pj"] - once, rel=0.05)
    cycles = g.forward.cycles + g.backward.cycles + g.update.cycles / 32
    assert cycles == pytest.approx(long["cycles_per_step"], rel=0.10)
    # and the 8-step row itself is reproduced exactly (the model is built from it)
    short = rows[("bptt", 8)]
    once = short.get("label_energy_pj_writeback_at_end", 0.0) / short["trace_input_steps"]
    assert g.bptt_energy_per_step(8, 8) == pytest.approx(short["energy_per_step_pj"] - once, rel=1e-9)


def test_crossovers_are_where_the_curves_meet(rows):
    g = regime(rows[("bptt", 8)], rows[("sparse_rtrl", 8)])
    for window, bptt, rtrl in ((g.memory_window, g.bptt_memory, g.rtrl_bytes),
                               (g.latency_window, g.bptt_update_cycles, g.rtrl.cycles),
                               (g.energy_window, g.bptt_energy_per_step, g.rtrl.energy_pj)):
        assert 0 < window < math.inf
        assert bptt(window) == pytest.approx(rtrl, rel=1e-9)
        assert bptt(window * 2) > rtrl > bptt(window / 2)  # BPTT's cost grows with the window
    assert g.memory_window == pytest.approx(g.rtrl_bytes / g.history_bytes_per_step)


def test_no_pair_no_regime(rows):
    rtrl = rows[("sparse_rtrl", 8)]
    assert regime({**rows[("bptt", 8)], "update_every": "step"}, rtrl) is None  # truncated every step: no model
    stripped = {k: v for k, v in rows[("bptt", 8)].items() if not k.startswith("label_cycles_")}
    assert regime(stripped, rtrl) is None
