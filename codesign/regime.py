"""When does sparse RTRL overtake BPTT? Memory, latency per update and energy per step of both
methods as BPTT's window grows, on one simulated config.

Online learning with dependencies W steps long: sparse RTRL carries its influence matrix forward
and can update the weights after any step, at a fixed cost per step. BPTT must keep the last W
steps' history and, for each update, backpropagate through all of them; updating every k steps
(k <= W, k = 1 is fully online) means W / k backward steps per step on average.

From two simulated rows of the same model size on the same config (a BPTT trace whose updates are
once per sequence, so every step is backpropagated exactly once, and a sparse-RTRL trace), per step:

* BPTT forward ``f`` (cycles, pJ): everything but the ``bptt_backward`` label, per input step;
  backward ``b`` per step of the window: the ``bptt_backward`` label over the input steps (its
  cycles are the label's share of the PE array's busy cycles, applied to the total cycles);
  history ``h`` bytes per step: the learning state over the history tensor's declared rows.
* sparse RTRL: ``r`` cycles and pJ per step (its weight update after every step included), ``m``
  bytes of influence;

and ``u`` the cost of one weight update (the ``weight_update`` label per update); the one-off
``writeback_at_end`` is left out of every per-step cost. Then, for a window of W steps and an
update every k steps:

* memory: BPTT W·h vs RTRL m;
* latency of an updating step: BPTT f + W·b + u vs RTRL r;
* energy per step: BPTT f + (W·b + u) / k vs RTRL r.

Each crossover is where the two are equal (W* = m / h, (r - f - u) / b for latency and energy at k = 1).
The model is linear in W as BPTT's work is; it assumes the history stays at its storage level
(``spill_window``: the W beyond which it would not, and costs rise further), so it understates
BPTT's cost past that point. ``tests/codesign/test_regime.py`` checks it against a direct
simulation of a 4x longer sequence (tolerances 2 % memory, 5 % energy, 10 % cycles; measured on
2026-12-02: 0.0 %, +0.5 %, -2.7 %). Units: bytes, cycles, seconds, pJ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BACKWARD_LABEL = "bptt_backward"
UPDATE_LABEL = "weight_update"
ONCE_LABEL = "writeback_at_end"  # once per trace: left out of every per-step cost


@dataclass(frozen=True)
class PerStep:
    """One method's per-step costs on one config: ``cycles`` and ``energy_pj`` per step."""

    cycles: float
    energy_pj: float


@dataclass(frozen=True)
class Regime:
    """Sparse RTRL vs BPTT on ``config``: BPTT's forward and per-window-step backward costs,
    ``history_bytes_per_step``, RTRL's per-step cost and ``rtrl_bytes``; ``clock_hz``; and the
    BPTT history level's capacity (``history_capacity_bytes``, 0 if unknown); ``trace_window``: the
    traced sequences' length."""

    config: str
    clock_hz: float
    forward: PerStep
    backward: PerStep
    update: PerStep
    history_bytes_per_step: float
    rtrl: PerStep
    rtrl_bytes: int
    history_capacity_bytes: int = 0
    trace_window: int = 0  # the traced sequences' length (BPTT's declared history rows)
    rtrl_model: str = ""  # which sparse-RTRL point: n_hidden, weight density, pseudo-derivative width

    def bptt_memory(self, window: float) -> float:
        return window * self.history_bytes_per_step

    def bptt_update_cycles(self, window: float) -> float:
        return self.forward.cycles + window * self.backward.cycles + self.update.cycles

    def bptt_energy_per_step(self, window: float, every: float = 1.0) -> float:
        return self.forward.energy_pj + (window * self.backward.energy_pj + self.update.energy_pj) / every

    @property
    def memory_window(self) -> float:
        """W above which BPTT's history outgrows RTRL's influence matrix."""
        return self.rtrl_bytes / self.history_bytes_per_step if self.history_bytes_per_step > 0 else math.inf

    @property
    def latency_window(self) -> float:
        """W above which BPTT's updating step takes longer than an RTRL step (<= 0: always)."""
        return _crossing(self.rtrl.cycles - self.forward.cycles - self.update.cycles, self.backward.cycles)

    @property
    def energy_window(self) -> float:
        """W above which BPTT updating every step costs more energy per step than RTRL."""
        return _crossing(self.rtrl.energy_pj - self.forward.energy_pj - self.update.energy_pj, self.backward.energy_pj)

    @property
    def spill_window(self) -> float:
        """W above which BPTT's history no longer fits its storage level (inf if unknown)."""
        if self.history_capacity_bytes <= 0 or self.history_bytes_per_step <= 0:
            return math.inf
        return self.history_capacity_bytes / self.history_bytes_per_step


def _crossing(gap: float, slope: float) -> float:
    if slope <= 0:
        return math.inf if gap > 0 else 0.0
    return max(gap / slope, 0.0)


def _labels(row: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k[len(prefix):]: float(v) for k, v in row.items() if k.startswith(prefix) and isinstance(v, (int, float))}


def per_step_costs(row: dict[str, Any], input_steps: float | None = None, updates: float | None = None
                   ) -> tuple[PerStep, PerStep, PerStep] | None:
    """(forward per step, backward per window step, weight update per update) of a row, without
    the one-off ``writeback_at_end``. Cycles of a label are its share of the PE array's busy
    cycles applied to the total. ``updates``: weight updates in the trace (default: one per
    sequence). None without per-label columns."""
    steps = float(input_steps or row.get("trace_input_steps") or row.get("trace_steps") or 0)
    updates = float(updates or row.get("trace_samples") or 0)
    energy, busy = _labels(row, "label_energy_pj_"), _labels(row, "label_cycles_")
    if steps <= 0 or updates <= 0 or not energy or sum(busy.values()) <= 0:
        return None
    cycles = float(row["cycles"])

    def part(label: str) -> PerStep:
        return PerStep(cycles * busy.get(label, 0.0) / sum(busy.values()), energy.get(label, 0.0))

    back, upd, once = part(BACKWARD_LABEL), part(UPDATE_LABEL), part(ONCE_LABEL)
    fwd = PerStep(cycles - back.cycles - upd.cycles - once.cycles,
                  float(row["energy_pj"]) - back.energy_pj - upd.energy_pj - once.energy_pj)
    return (PerStep(fwd.cycles / steps, fwd.energy_pj / steps), PerStep(back.cycles / steps, back.energy_pj / steps),
            PerStep(upd.cycles / updates, upd.energy_pj / updates))


def bptt_per_step(row: dict[str, Any], input_steps: float | None = None) -> tuple[PerStep, PerStep] | None:
    """(forward incl. its share of the updates, backward per window step) of a BPTT row whose
    updates are once per sequence; None without the backward label's columns."""
    if f"label_energy_pj_{BACKWARD_LABEL}" not in row:
        return None
    costs = per_step_costs(row, input_steps)
    if costs is None:
        return None
    fwd, back, upd = costs
    steps = float(input_steps or row.get("trace_input_steps") or row.get("trace_steps"))
    share = float(row.get("trace_samples") or 0) / steps
    return PerStep(fwd.cycles + share * upd.cycles, fwd.energy_pj + share * upd.energy_pj), back


def regime(bptt: dict[str, Any], rtrl: dict[str, Any]) -> Regime | None:
    """The comparison from a BPTT row (updates once per sequence) and a sparse-RTRL row (updates
    every step) on the same config; None when the rows lack what it needs (older stores)."""
    window_rows = float(bptt.get("history_steps") or 0)
    b = per_step_costs(bptt) if f"label_energy_pj_{BACKWARD_LABEL}" in bptt else None
    steps_r = float(rtrl.get("trace_input_steps") or rtrl.get("trace_steps") or 0)
    r = per_step_costs(rtrl, steps_r, steps_r)  # sparse RTRL updates after every step
    if b is None or r is None or window_rows <= 0 or bptt.get("update_every", "sequence") != "sequence":
        return None
    forward, back, update = b
    rf, _, ru = r
    levels = str(bptt.get("learning_state_levels") or "").split(" > ")
    capacity = bptt.get(f"sram.{levels[0].strip()}.capacity_bytes") if levels[0].strip() else None
    return Regime(
        config=str(bptt["config"]), clock_hz=float(bptt["cycles"]) / float(bptt["seconds"]) if bptt.get("seconds") else 1.0,
        forward=forward, backward=back, update=update,
        history_bytes_per_step=float(bptt["learning_state_bytes"]) / window_rows,
        rtrl=PerStep(rf.cycles + ru.cycles, rf.energy_pj + ru.energy_pj),
        rtrl_bytes=int(rtrl["learning_state_bytes"]), history_capacity_bytes=int(capacity or 0),
        trace_window=int(window_rows),
        rtrl_model=f"n={rtrl.get('n_hidden')} ρ={float(rtrl.get('weight_density', 0)):g} "
                   f"eps={float(rtrl.get('pseudo_derivative_width', 0)):g}",
    )


def pairs(rows: list[dict[str, Any]], config: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (BPTT, sparse RTRL) rows on ``config`` with the same task, n_hidden and weight density,
    both on their usual schedules (BPTT per sequence, RTRL per step); the most-trained of each,
    the most accurate sparse RTRL among those. None if there is no such pair."""
    mine = [r for r in rows if r["config"] == config]
    best = None
    for b in (r for r in mine if r["method"] == "bptt" and r.get("update_every", "sequence") == "sequence"):
        same = [r for r in mine if r["method"] == "sparse_rtrl" and r.get("update_every", "step") == "step"
                and r["task"] == b["task"] and r["n_hidden"] == b["n_hidden"]
                and float(r["weight_density"]) == float(b["weight_density"])]
        if not same:
            continue
        s = max(same, key=lambda r: (r.get("trained_sequences", 0), r.get("test_accuracy", 0)))
        key = (b.get("trained_sequences", 0), s.get("trained_sequences", 0))
        if best is None or key > best[0]:
            best = (key, (b, s))
    return None if best is None else best[1]
