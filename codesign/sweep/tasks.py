"""The two kinds of work a sweep hands to workers (plain functions, importable by any worker).

* :func:`model_task` trains one model point and records its trace once, to ``trace_path``.
* :func:`hardware_task` replays that trace on one hardware point and returns the flat result row.

Both dispatch on the spec's evaluator: ``pipeline`` (real training + simulator, see
:mod:`codesign.pipeline`) or ``synthetic`` (closed forms, :mod:`codesign.sweep.synthetic`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codesign.sweep.points import ModelPoint, SweepPoint

# model-result keys kept out of result rows because they vary run to run (host wall-clock time)
HOST_ONLY_KEYS = ("host_step_time_ms", "host_seconds")


def model_task(evaluator: dict[str, Any], point: ModelPoint, trace_path: str) -> dict[str, Any]:
    """Train/record one model point. Returns its KPIs (dict of numbers); writes the trace file."""
    if evaluator["kind"] == "synthetic":
        from codesign.sweep import synthetic

        return synthetic.model_result(point, Path(trace_path))
    from codesign import pipeline

    return pipeline.run_model_point(point, Path(trace_path)).to_dict()


def hardware_task(
    evaluator: dict[str, Any], point: SweepPoint, model_result: dict[str, Any], trace_path: str
) -> dict[str, Any]:
    """Simulate one hardware point on the model's trace; returns the full result row."""
    hw = point.hardware
    if evaluator["kind"] == "synthetic":
        from codesign.sweep import synthetic

        metrics = synthetic.hardware_result(model_result, hw, Path(trace_path), evaluator.get("work_ms", 0.0))
    else:
        from codesign import pipeline

        metrics = pipeline.run_hardware_point(Path(trace_path), hw, model_result).to_row()
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
        "seed": m.seed,
    }
    row.update({f"hw.{k}": v for k, v in hw.overrides})
    row.update({k: v for k, v in model_result.items() if k not in HOST_ONLY_KEYS})
    row.update(metrics)
    return row
