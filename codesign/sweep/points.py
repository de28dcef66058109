"""Expand a validated spec into typed sweep points (full grid or seeded random sample).

A :class:`SweepPoint` is one (model point, hardware point) pair. Its ``key`` is a stable hash of
its parameters: the result store's primary key, so a resumed sweep recognises finished points.
Model points are shared: every hardware point of the same model replays the same trace.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.sweep.spec import ModelAxes, Range, SweepSpec


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelPoint:
    """One model/learning configuration; trained once, its trace reused by all hardware points."""

    task: str
    method: str
    n_hidden: int
    weight_density: float
    threshold_mean: float
    pseudo_derivative_width: float
    seed: int
    epochs: int
    train_sequences: int | None
    test_sequences: int | None
    trace_sequences: int
    learning_rate: float
    optimizer: str
    update_every: str
    pseudo_derivative_gamma: float = 0.3
    shared_masks: bool = False
    rewire_every: int = 0
    rewire_fraction: float = 0.1

    @property
    def key(self) -> str:
        # fields added later enter the digest only when they differ from their defaults, so the
        # points of earlier stores keep their keys
        params = {k: v for k, v in asdict(self).items() if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]}
        return "m" + _digest(params)

    def params(self) -> dict[str, Any]:
        return asdict(self)


#: ModelPoint fields added after stores existed, with the value every earlier point had.
_LATER_FIELDS = {"pseudo_derivative_gamma": 0.3, "shared_masks": False, "rewire_every": 0, "rewire_fraction": 0.1}


@dataclass(frozen=True)
class HardwarePoint:
    """One hardware configuration: a base config file, dotted-path overrides and a fidelity.
    A plain value (no path of this machine): the executor reads the config and ships its content."""

    config: str  # the base config's name as written in the spec (resolve with SweepSpec.config_path)
    overrides: tuple[tuple[str, Any], ...]
    fidelity: str

    @property
    def key(self) -> str:
        return "h" + _digest({"config": self.config, "overrides": list(map(list, self.overrides)), "fidelity": self.fidelity})

    @property
    def label(self) -> str:
        """Short human name, e.g. ``sparse_skipping[pe_array.rows=8]``."""
        stem = Path(self.config).stem
        extra = ",".join(f"{k}={v}" for k, v in self.overrides)
        return f"{stem}[{extra}]" if extra else stem


@dataclass(frozen=True)
class SweepPoint:
    index: int
    model: ModelPoint
    hardware: HardwarePoint

    @property
    def key(self) -> str:
        return f"{self.model.key}-{self.hardware.key}"


def _model_point(spec: SweepSpec, values: dict[str, Any], training: dict[str, Any] | None = None) -> ModelPoint:
    t = spec.training.model_copy(update={k: v for k, v in (training or {}).items() if v is not None})
    return ModelPoint(
        task=str(values["task"]),
        method=str(values["method"]),
        n_hidden=int(values["n_hidden"]),
        weight_density=float(values["weight_density"]),
        threshold_mean=float(values["threshold_mean"]),
        pseudo_derivative_width=float(values["pseudo_derivative_width"]),
        seed=int(values["seed"]),
        epochs=t.epochs,
        train_sequences=t.train_sequences,
        test_sequences=t.test_sequences,
        trace_sequences=t.trace_sequences,
        learning_rate=t.learning_rate,
        optimizer=t.optimizer,
        update_every=t.update_every,
        pseudo_derivative_gamma=float(values["pseudo_derivative_gamma"]),
        shared_masks=bool(values["shared_masks"]),
        rewire_every=int(t.rewire_every),
        rewire_fraction=float(t.rewire_fraction),
    )


def _hardware_point(config: str, overrides: dict[str, Any], fidelity: str) -> HardwarePoint:
    return HardwarePoint(config=config, overrides=tuple(sorted(overrides.items())), fidelity=fidelity)


def _hardware_grid(spec: SweepSpec) -> list[tuple[str, dict[str, Any], str]]:
    hw_keys = sorted(spec.hardware.set)
    hw_lists = [spec.hardware.set[k] for k in hw_keys]
    return [(config, dict(zip(hw_keys, hvals)), fidelity)
            for config in spec.hardware.configs
            for hvals in itertools.product(*hw_lists)
            for fidelity in spec.hardware.fidelity]


def _grid(spec: SweepSpec) -> list[tuple[dict[str, Any], tuple[str, dict[str, Any], str]]]:
    model_names = list(ModelAxes.model_fields)
    model_lists = [getattr(spec.model, n) for n in model_names]
    hardware = _hardware_grid(spec)
    return [(dict(zip(model_names, mvals)), hw) for mvals in itertools.product(*model_lists) for hw in hardware]


def _included(spec: SweepSpec) -> list[tuple[dict[str, Any], dict[str, Any], tuple[str, dict[str, Any], str]]]:
    hardware = _hardware_grid(spec)
    out = []
    for inc in spec.include:
        mvals = {n: getattr(inc, n) if getattr(inc, n) is not None else getattr(spec.model, n)[0]
                 for n in ModelAxes.model_fields}
        out += [(mvals, inc.training.model_dump(), hw) for hw in hardware]
    return out


def _draw(rng: np.random.Generator, axis: Any, integer: bool) -> Any:
    if isinstance(axis, Range):
        if axis.log:
            value = math.exp(rng.uniform(math.log(axis.min), math.log(axis.max)))
        else:
            value = rng.uniform(axis.min, axis.max)
        return int(round(value)) if integer else round(float(value), 6)
    item = axis[int(rng.integers(len(axis)))]
    return item.item() if hasattr(item, "item") else item


#: Model axes added after random specs existed (drawn after the others).
LATER_AXES = ("pseudo_derivative_gamma", "shared_masks")


def _random(spec: SweepSpec) -> list[tuple[dict[str, Any], tuple[str, dict[str, Any], str]]]:
    rng = np.random.default_rng(spec.sampling.seed)
    out, seen = [], set()
    attempts = 0
    while len(out) < spec.sampling.samples and attempts < 100 * spec.sampling.samples:
        attempts += 1
        mvals = {n: _draw(rng, getattr(spec.model, n), n == "n_hidden") for n in ModelAxes.model_fields
                 if n not in LATER_AXES}
        config = spec.hardware.configs[int(rng.integers(len(spec.hardware.configs)))]
        hvals = {}
        for key in sorted(spec.hardware.set):
            axis = spec.hardware.set[key]
            hvals[key] = _draw(rng, axis, isinstance(axis, Range) and float(axis.min).is_integer() and float(axis.max).is_integer())
        fidelity = spec.hardware.fidelity[int(rng.integers(len(spec.hardware.fidelity)))]
        for n in LATER_AXES:  # drawn last, so that earlier specs give the same samples as before
            mvals[n] = _draw(rng, getattr(spec.model, n), False)
        ident = json.dumps([mvals, config, hvals, fidelity], sort_keys=True)
        if ident in seen:  # a random sample never repeats a point
            continue
        seen.add(ident)
        out.append((mvals, (config, hvals, fidelity)))
    return out


def expand(spec: SweepSpec) -> list[SweepPoint]:
    """All points of the spec, in a deterministic order (index = position)."""
    raw = [(m, None, hw) for m, hw in (_grid(spec) if spec.sampling.mode == "grid" else _random(spec))]
    points, seen = [], set()
    for mvals, training, hw in raw + _included(spec):
        point = SweepPoint(len(points), _model_point(spec, mvals, training), _hardware_point(*hw))
        if point.key not in seen:  # an include that repeats a grid point adds nothing
            seen.add(point.key)
            points.append(point)
    return points
