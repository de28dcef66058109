"""One co-design point, the two halves the sweep executor schedules.

* :func:`run_model_point` — train the model online on its task (``rtrl.online``), then record a
  trace of ``trace_sequences`` further online-learning sequences (the same learner and trainer
  keep going, so the trace shows the trained network's activity and its weight updates).
* :func:`run_hardware_point` — validate a hardware config (a dict: the base config with the
  point's overrides) and replay the trace in the simulator; flatten its result into the row
  columns of :mod:`codesign.sweep.metrics`.

Units: seconds, cycles, pJ, bytes; accuracy and activity as fractions.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.sweep.points import HardwarePoint, ModelPoint

#: The op label every method records once per input step (BPTT's backward pass adds steps without it).
INPUT_LABEL = "input_projection"



@dataclass(frozen=True)
class ModelResult:
    """KPIs of one trained model point and the trace it recorded.

    Accuracies/activities are fractions, state sizes bytes, host times wall-clock (they vary from
    run to run, so the sweep keeps them out of result rows)."""

    test_accuracy: float
    train_loss: float
    activity_fired: float
    activity_support: float
    activity_active: float
    learning_state_bytes: int
    bptt_state_bytes: int
    parameter_count: int
    guard_events: int
    rewire_events: int
    trace_steps: int
    trace_input_steps: int
    trace_samples: int
    trace_macs: int
    trained_sequences: int  # sequences seen in training (epochs x training-set size)
    host_step_time_ms: float
    host_seconds: float
    #: RTRL methods: the influence matrix's fill on the traced sequences (rtrl/fill.py), as flat
    #: columns ``influence_fill_mean``, ``influence_fill_end``, ``influence_fill.step_<k>`` (fractions)
    influence_fill: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(out.pop("influence_fill"))
        return out


def fill_columns(model, data) -> dict[str, float]:
    """The influence matrix's fill over ``data`` (a Dataset) as flat row columns (fractions)."""
    from rtrl.fill import checkpoints, influence_fill

    fill = influence_fill(model, data.xs, data.targets)
    cols = {"influence_fill_mean": fill.mean, "influence_fill_end": float(fill.total[-1]),
            "influence_fill_single_column": float(fill.single[-1])}
    cols.update({f"influence_fill.step_{k}": float(fill.total[k - 1]) for k in checkpoints(fill.total.size)})
    return cols


def _subset(data: Any, n: int | None) -> Any:
    if n is None or n >= len(data):
        return data
    return type(data)(data.xs[:n], data.targets[:n])


def trace_counts(trace_path: str | Path) -> tuple[int, int, int]:
    """(steps, input steps, MACs) of a trace: input steps are those with an ``input_projection`` op
    (BPTT's backward pass is recorded as further steps without one)."""
    from accel_sim.trace.io import TraceReader

    reader = TraceReader(str(trace_path))
    forward = [i for i, op in enumerate(reader.header.ops) if op.label == INPUT_LABEL]
    steps = input_steps = macs = 0
    for chunk in reader.chunks():
        macs += int(chunk.ops["macs"].sum())
        steps += chunk.n_steps
        input_steps += int(np.unique(chunk.ops["step"][np.isin(chunk.ops["op"], forward)]).size)
    return steps, input_steps, macs


def run_model_point(point: ModelPoint, trace_path: Path) -> ModelResult:
    """Train ``point`` and write its trace to ``trace_path`` (atomically: complete or absent)."""
    from codesign.tracing import open_trace_writer
    from rtrl import make_learner
    from rtrl.online import OnlineTrainer, RunSettings, TrainConfig, build_task, fit_task

    t0 = time.perf_counter()
    update_every = {"auto": None, "step": 1, "sequence": 0}[point.update_every]
    settings = RunSettings(
        task=point.task, method=point.method, n_hidden=point.n_hidden, weight_density=point.weight_density,
        threshold_mean=point.threshold_mean,
        pseudo_derivative=(point.pseudo_derivative_gamma, point.pseudo_derivative_width), shared_masks=point.shared_masks,
        epochs=point.epochs, lr=point.learning_rate, optimizer=point.optimizer, update_every=update_every,
        seed=point.seed, rewire_every=point.rewire_every, rewire_fraction=point.rewire_fraction,
    )
    task = build_task(settings)
    task = dataclasses.replace(task, train=_subset(task.train, point.train_sequences),
                               test=_subset(task.test, point.test_sequences))
    result = fit_task(settings, prebuilt_task=task)
    model = result.model

    trace_path = Path(trace_path)
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    trace_data = _subset(task.train, point.trace_sequences)
    with open_trace_writer(trace_path, model, point.method, config=point.params(),
                           history_steps=int(trace_data.xs.shape[1])) as writer:
        learner = make_learner(model, point.method)
        config = TrainConfig(epochs=1, lr=settings.lr, optimizer=settings.optimizer,
                             update_every=settings.resolved_update_every(), clip_norm=settings.clip_norm,
                             shuffle=False, seed=settings.seed, rewire_every=settings.rewire_every,
                             rewire_fraction=settings.rewire_fraction)
        OnlineTrainer(model, learner, config, recorder=writer).fit(trace_data)
    steps, input_steps, macs = trace_counts(trace_path)  # also proves the file reads back
    k = result.kpis
    return ModelResult(
        test_accuracy=float(k.test_accuracy), train_loss=float(k.train_loss),
        activity_fired=float(k.activity_fired), activity_support=float(k.activity_support),
        activity_active=float(k.activity_active),
        learning_state_bytes=int(k.learning_state_bytes), bptt_state_bytes=int(k.bptt_state_bytes),
        parameter_count=int(sum(int(m.sum()) for m in model.masks.values())
                            + sum(v.size for n, v in model.params.items() if n not in model.masks)),
        guard_events=int(k.guard_events), rewire_events=int(k.rewire_events), trace_steps=steps, trace_input_steps=input_steps,
        trace_samples=len(trace_data), trace_macs=macs,
        trained_sequences=int(point.epochs * len(task.train)),
        host_step_time_ms=float(k.step_time_ms), host_seconds=time.perf_counter() - t0,
        influence_fill=fill_columns(model, trace_data) if point.method != "bptt" else {},
    )


@dataclass(frozen=True)
class HardwareResult:
    """The simulator's result for one hardware point (``raw``: its ``to_dict()``), the config's
    hardware summary (``config``: :func:`codesign.columns.config_columns`), the trace's tensor
    kinds ({name: kind}) and the model's trace size for per-step/per-sample values."""

    raw: dict[str, Any]
    config: dict[str, Any]
    kinds: dict[str, str]
    trace_steps: int
    trace_samples: int
    history_steps: int = 0  # rows of BPTT's declared history tensor (its longest window), 0 for RTRL
    input_steps: int = 0  # trace steps that consumed an input (0: all of them)

    def to_row(self) -> dict[str, Any]:
        from codesign.columns import memory_columns, rate_columns, result_columns

        from codesign.regime import bptt_per_step

        r = self.raw
        # per step = per input step: BPTT's backward pass is recorded as extra trace steps
        steps, samples = max(self.input_steps or self.trace_steps, 1), max(self.trace_samples, 1)
        energy = r.get("energy_pj", {})
        total = float(energy.get("total", 0.0))
        traffic = r.get("traffic_bytes", {})
        stalls = r.get("stall_cycles", {})
        util = r.get("utilization", {})
        dram = int(traffic.get("dram_read", 0)) + int(traffic.get("dram_write", 0))
        row: dict[str, Any] = dict(self.config)
        row.update({
            "cycles": int(r["cycles"]),
            "seconds": float(r["seconds"]),
            "cycles_per_step": int(r["cycles"]) / steps,
            "latency_per_step_s": float(r["seconds"]) / steps,
            "energy_pj": total,
            "energy_per_step_pj": total / steps,
            "energy_per_sample_pj": total / samples,
            "dram_bytes": dram,
            "dram_bytes_per_step": dram / steps,
            "pe_utilization": float(util.get("pe", util.get("pes", float("nan")))),
            "stall_cycles": int(sum(v for v in stalls.values() if isinstance(v, (int, float)))),
            "history_steps": int(self.history_steps),
        })
        row.update(memory_columns(r, self.kinds))  # learning state, its verdict, sram.<level>.*
        row.update(result_columns(r, steps))  # area, power, stalls and utilisation by cause, real-time rates
        for comp, value in energy.items():
            if comp != "total" and isinstance(value, (int, float)):
                row[f"energy_pj_{comp}"] = float(value)
        for label, entry in (r.get("by_label") or {}).items():
            value = entry.get("energy_pj") if isinstance(entry, dict) else entry
            if isinstance(value, dict):
                value = value.get("total")
            if isinstance(value, (int, float)):
                row[f"label_energy_pj_{label}"] = float(value)
            if isinstance(entry, dict) and isinstance(entry.get("compute_cycles"), (int, float)):
                row[f"label_cycles_{label}"] = float(entry["compute_cycles"])
        for key, value in r.get("memory_bytes", {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[f"memory_bytes_{key}"] = value
        costs = bptt_per_step(row, steps) if self.history_steps else None
        if costs is not None:  # BPTT's updating step backpropagates through its whole window
            forward, backward = costs
            worst = (forward.cycles + self.history_steps * backward.cycles) * float(r["seconds"]) / max(int(r["cycles"]), 1)
            row.update(rate_columns(float(r["seconds"]) / steps, worst))
        return row


def run_hardware_point(trace_path: Path, hw: HardwarePoint, model: dict[str, Any],
                       config_data: dict[str, Any]) -> HardwareResult:
    """Simulate the trace at ``trace_path`` on ``hw`` at its fidelity. ``config_data``: ``hw``'s
    config (base config with its overrides) as a dict, validated again here (no file is read)."""
    from accel_sim import simulate_file, validate_config
    from accel_sim.trace.io import TraceReader
    from codesign.columns import config_columns

    config = validate_config(config_data, source=hw.label)
    result = simulate_file(str(trace_path), config, fidelity=hw.fidelity)
    tensors = TraceReader(str(trace_path)).header.tensors
    history = [t.shape[0] for t in tensors if t.kind == "history" and t.shape]
    return HardwareResult(
        raw=result.to_dict(), config=config_columns(config), kinds={t.name: t.kind for t in tensors},
        trace_steps=int(model["trace_steps"]), trace_samples=int(model["trace_samples"]),
        history_steps=int(max(history, default=0)), input_steps=int(model.get("trace_input_steps") or 0),
    )
