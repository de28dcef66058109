"""Record learner runs as trace files: the glue that knows both ``rtrl`` and ``accel_sim.trace``.

    header = trace_header(model, "sparse_rtrl", config={"task": "copy"})
    with TraceWriter(path, header) as writer:          # a Recorder
        learner = make_learner(model, "sparse_rtrl", recorder=writer)
        ...

or, for one sequence, :func:`record_sequence`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from accel_sim.trace.io import DEFAULT_STEPS_PER_CHUNK, TraceWriter
from accel_sim.trace.schema import TraceHeader
from rtrl import EGRU, METHODS, make_learner
from rtrl.trace_decl import declarations

PACKAGE = "sparse-rtrl-accel"


def _package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def influence_columns(model: EGRU, method: str) -> int:
    """Columns P of the influence matrix as the method stores it: unmasked recurrent-path
    parameters for sparse RTRL, all of them for dense RTRL, 0 for BPTT (no influence matrix)."""
    if method == "sparse_rtrl":
        return model.n_recurrent_params(masked_only=True)
    if method == "dense_rtrl":
        return model.n_recurrent_params(masked_only=False)
    return 0


def trace_header(model: EGRU, method: str, *, seed: int | None = None,
                 config: dict[str, Any] | None = None, history_steps: int | None = None) -> TraceHeader:
    """The static header of a trace of ``model`` learning with ``method``: the learner's tensors,
    weight-mask patterns, index sets and ops (``rtrl.trace_decl``) and provenance.

    ``seed`` defaults to the model's seed; ``config`` (any JSON-able dict, e.g. the run's options)
    is stored as JSON text in ``provenance["config"]``. BPTT traces need ``history_steps``: the most
    steps BPTT stores before a backward pass (the sequence length or update window).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "bptt" and history_steps is None:
        raise ValueError("a BPTT trace needs history_steps (the steps stored before a backward pass)")
    decl = declarations(model, method, history_steps or 0)
    gamma, eps = model.pseudo_derivative
    provenance = {
        "package": f"{PACKAGE} {_package_version()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "threshold_mean": repr(model.threshold_mean),
        "pseudo_derivative": json.dumps([gamma, eps]),
        "input_density": repr(model.input_density),
        "config": json.dumps(config or {}, sort_keys=True, default=str),
    }
    return TraceHeader(
        method=method, dtype=model.dtype.name, seed=int(model.seed if seed is None else seed),
        tensors=decl.tensors, ops=decl.ops, patterns=decl.patterns, index_sets=decl.index_sets,
        n_in=model.n_in, n_hidden=model.n_hidden, n_out=model.n_out, weight_density=float(model.weight_density),
        n_influence_columns=influence_columns(model, method), provenance=provenance,
    )


def open_trace_writer(path: str | os.PathLike, model: EGRU, method: str, *, seed: int | None = None,
                      config: dict[str, Any] | None = None, history_steps: int | None = None,
                      steps_per_chunk: int = DEFAULT_STEPS_PER_CHUNK) -> TraceWriter:
    """A :class:`TraceWriter` (use it as a context manager) with the header of this run."""
    header = trace_header(model, method, seed=seed, config=config, history_steps=history_steps)
    return TraceWriter(path, header, steps_per_chunk=steps_per_chunk)


@dataclass(frozen=True)
class RecordedRun:
    """What :func:`record_sequence` did: the file, steps and ops written, and the summed loss (nats)."""

    path: Path
    n_steps: int
    n_ops: int
    loss_sum: float


def record_sequence(path: str | os.PathLike, model: EGRU, method: str, xs: np.ndarray, targets: np.ndarray, *,
                    seed: int | None = None, config: dict[str, Any] | None = None,
                    steps_per_chunk: int = DEFAULT_STEPS_PER_CHUNK, with_gradients: bool = True) -> RecordedRun:
    """Run ``method`` over one sequence ``xs`` (T, n_in), ``targets`` (T,) and record it to ``path``.
    With ``with_gradients`` the final ``grads()`` call is made too (for BPTT that is the backward
    pass, recorded as one extra step)."""
    xs, targets = model.check_sequence(xs, targets)
    with open_trace_writer(path, model, method, seed=seed, config=config, history_steps=len(xs),
                           steps_per_chunk=steps_per_chunk) as writer:
        learner = make_learner(model, method, recorder=writer)
        loss = 0.0
        for x, target in zip(xs, targets):
            loss += learner.step(x, int(target)).loss
        if with_gradients:
            learner.grads()
    return RecordedRun(writer.path, writer.n_steps, writer.n_ops, float(loss))
