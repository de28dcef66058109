"""The two kinds of work a sweep hands to workers: plain functions of values, importable by any
worker that has the package installed. Nothing here reads or writes a path of the client, so
workers need no shared filesystem, no repository checkout and may run in any working directory.

* :func:`model_task` trains one model point, records its trace into a temporary folder on the
  worker and returns the KPIs with the trace file's bytes (:class:`ModelOutput`).
* :func:`hardware_task` writes the trace bytes to a temporary file, replays them on one hardware
  point (its config a validated dict, from :func:`hardware_config` on the client) and returns the
  flat result row.

Both run under :func:`codesign.sweep.heap.numeric_heap` (large arrays from the heap on Dask
nanny workers, whose malloc thresholds are pinned) and dispatch on the spec's evaluator:
``pipeline`` (real training + simulator, see :mod:`codesign.pipeline`) or ``synthetic`` (closed
forms, :mod:`codesign.sweep.synthetic`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accel_sim.errors import InputError
from codesign.sweep.heap import numeric_heap
from codesign.sweep.points import HardwarePoint, ModelPoint, SweepPoint

# model-result keys kept out of result rows because they vary run to run (host wall-clock time)
HOST_ONLY_KEYS = ("host_step_time_ms", "host_seconds")
TRACE_NAME = "trace.arrows"  # the trace file's name in a task's temporary folder


@dataclass(frozen=True)
class ModelOutput:
    """What a model task sends back: its KPIs (a dict of numbers) and its trace file (bytes, opaque)."""

    result: dict[str, Any]
    trace: bytes


def hardware_config(evaluator: dict[str, Any], path: Path, hw: HardwarePoint) -> dict[str, Any] | None:
    """Client side: the base config at ``path`` with ``hw``'s overrides, validated, as the plain
    dict (``HardwareConfig.model_dump(mode="json")``) a worker validates again; ``None`` for the
    synthetic evaluator, which reads no config. Raises ConfigError / OSError for a bad config."""
    if evaluator["kind"] == "synthetic":
        return None
    from accel_sim import load_config

    return load_config(path, dict(hw.overrides)).model_dump(mode="json", by_alias=True)


@contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder on the worker (the system's temp dir, never the working directory)."""
    with tempfile.TemporaryDirectory(prefix="accel-sim-sweep-") as folder:
        yield Path(folder)


def model_task(evaluator: dict[str, Any], point: ModelPoint) -> ModelOutput:
    """Train/record one model point; returns its KPIs and its trace file's bytes."""
    with _scratch() as folder, numeric_heap():
        trace = folder / TRACE_NAME
        if evaluator["kind"] == "synthetic":
            from codesign.sweep import synthetic

            result = synthetic.model_result(point, trace)
        else:
            from codesign import pipeline

            result = pipeline.run_model_point(point, trace).to_dict()
        return ModelOutput(result, trace.read_bytes())


def hardware_task(evaluator: dict[str, Any], point: SweepPoint, config: dict[str, Any] | None,
                  model_result: dict[str, Any], trace: bytes) -> dict[str, Any]:
    """Simulate one hardware point on the model's trace (bytes); returns the full result row."""
    hw = point.hardware
    with _scratch() as folder, numeric_heap():
        path = folder / TRACE_NAME
        path.write_bytes(trace)
        try:
            if evaluator["kind"] == "synthetic":
                from codesign.sweep import synthetic

                metrics = synthetic.hardware_result(model_result, hw, path, evaluator.get("work_ms", 0.0))
            else:
                from codesign import pipeline

                metrics = pipeline.run_hardware_point(path, hw, model_result, config).to_row()
        except ValueError as exc:  # bad input: say which trace, not the worker's temporary file
            if str(path) not in str(exc):
                raise
            raise InputError(str(exc).replace(str(path), f"trace of model point {point.model.key}")) from None
    return build_row(point, model_result, metrics)


def build_row(point: SweepPoint, model_result: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """Identity columns, model parameters, model KPIs, hardware overrides (``hw.<path>``), metrics."""
    m, hw = point.model, point.hardware
    row: dict[str, Any] = {
        "point_index": point.index,
        "point_key": point.key,
        "model_key": m.key,
        "config": hw.label,
        "base_config": Path(hw.config).stem,
        "fidelity": hw.fidelity,
        "task": m.task,
        "method": m.method,
        "n_hidden": m.n_hidden,
        "weight_density": m.weight_density,
        "threshold_mean": m.threshold_mean,
        "pseudo_derivative_width": m.pseudo_derivative_width,
        "pseudo_derivative_gamma": m.pseudo_derivative_gamma,
        "shared_masks": int(m.shared_masks),
        "seed": m.seed,
        # weight updates: every step or once per sequence ("auto": per step for RTRL, per sequence for BPTT)
        "update_every": m.update_every if m.update_every != "auto" else ("sequence" if m.method == "bptt" else "step"),
        "rewire_every": m.rewire_every,
    }
    row.update({f"hw.{k}": v for k, v in hw.overrides})
    row.update({k: v for k, v in model_result.items() if k not in HOST_ONLY_KEYS})
    # the learner's own copy on the host; the row's learning_state_bytes is the config's (metrics)
    row["host_learning_state_bytes"] = row.pop("learning_state_bytes", None)
    row.update(metrics)
    return row
