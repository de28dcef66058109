"""Validate a loaded checkpoint before any of it is used, so a damaged or foreign file gives one
``ValueError`` naming the file and the field (``FILE: field: problem``), never a crash later.

Checked: the JSON document's shape and types (``progress``, ``snapshot_step``, ``run``), and every
array namespace against the trainer it is restored into (same keys, shapes, numeric dtypes,
finite values).
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from .checkpoint import unpack


def _fail(path, field: str, problem: str) -> ValueError:
    return ValueError(f"{path}: {field}: {problem}")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_fields(path, where: str, values: dict, types: dict[str, tuple]) -> None:
    """Each key of ``types`` present in ``values`` must have one of its types (bool is not a number)."""
    for key, allowed in types.items():
        if key not in values:
            continue
        value = values[key]
        ok = any(
            value is None if t is None
            else _is_int(value) if t is int
            else _is_number(value) if t is float
            else isinstance(value, t)
            for t in allowed
        )
        if not ok:
            names = "/".join("null" if t is None else t.__name__ for t in allowed)
            raise _fail(path, f"{where}.{key}", f"expected {names}, got {value!r:.80}")


def check_progress(path, doc: dict, progress_cls) -> None:
    """The ``progress`` and ``snapshot_step`` entries of a trainer checkpoint."""
    progress = doc.get("progress")
    if not isinstance(progress, dict):
        raise _fail(path, "progress", "missing or not an object")
    fields = {f.name: f for f in dataclasses.fields(progress_cls)}
    unknown = sorted(set(progress) - set(fields))
    missing = sorted(set(fields) - set(progress))
    if unknown or missing:
        raise _fail(path, "progress", f"fields differ (missing {missing}, unknown {unknown})")
    types = {name: (int,) if f.type in ("int", int) else (float,) if f.type in ("float", float) else (list,)
             for name, f in fields.items()}
    check_fields(path, "progress", progress, types)
    for name in ("epoch", "index", "sequences", "steps", "updates", "fired_sum", "support_sum", "active_sum", "epoch_labelled",
                 "max_state_bytes", "rewire_events", "rewired_at_step"):
        if progress[name] < 0:
            raise _fail(path, f"progress.{name}", f"must be >= 0, got {progress[name]}")
    if not all(isinstance(e, dict) for e in progress["events"]):
        raise _fail(path, "progress.events", "expected a list of objects")
    if not all(_is_number(v) for v in progress["epoch_losses"]):
        raise _fail(path, "progress.epoch_losses", "expected a list of numbers")
    if not _is_int(doc.get("snapshot_step")):
        raise _fail(path, "snapshot_step", f"expected an integer, got {doc.get('snapshot_step')!r:.80}")


def _check_array(path, field: str, value: np.ndarray, shape: tuple | None) -> None:
    if value.dtype.kind not in "biuf":
        raise _fail(path, field, f"not a numeric array (dtype {value.dtype})")
    if shape is not None and value.shape != shape:
        raise _fail(path, field, f"shape {value.shape}, expected {shape}")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise _fail(path, field, "contains NaN or inf")


def check_arrays(path, arrays: dict[str, np.ndarray], params: dict, learner_state: dict, monitor_keys) -> None:
    """Every namespace of a trainer checkpoint against the live ``params`` (name -> array) and the
    live learner's state (name -> array; {} for BPTT, which keeps none between sequences)."""
    shapes = {k: tuple(v.shape) for k, v in params.items()}
    learner_shapes = {k: tuple(np.shape(v)) for k, v in learner_state.items()}
    for prefix in ("", "snapshot/"):
        got = unpack(prefix + "params", arrays)
        if set(got) != set(shapes):
            raise _fail(path, prefix + "params", f"names differ (missing {sorted(set(shapes) - set(got))}, "
                                                 f"unknown {sorted(set(got) - set(shapes))})")
        for k, v in got.items():
            _check_array(path, f"{prefix}params/{k}", v, shapes[k])
        optimizer = unpack(prefix + "optimizer", arrays)
        moments = [{k[2:] for k in optimizer if k.startswith(f"{m}.")} for m in ("m", "v")]
        if moments[0] != moments[1] or (moments[0] and "t" not in optimizer):
            raise _fail(path, prefix + "optimizer", "Adam state is incomplete (moments m and v and step t "
                                                    "must cover the same parameters)")
        for k, v in optimizer.items():
            kind, _, name = k.partition(".")
            if k == "t":
                _check_array(path, f"{prefix}optimizer/t", v, ())
                if v.dtype.kind not in "iu" or int(v) < 0:
                    raise _fail(path, f"{prefix}optimizer/t", "expected a non-negative integer step count")
            elif kind in ("m", "v", "velocity") and name in shapes:
                _check_array(path, f"{prefix}optimizer/{k}", v, shapes[name])
            else:
                raise _fail(path, f"{prefix}optimizer/{k}", "unknown optimiser state entry")
        got = unpack(prefix + "learner", arrays)
        if set(got) != set(learner_shapes):
            raise _fail(path, prefix + "learner", f"names differ (missing {sorted(set(learner_shapes) - set(got))}, "
                                                  f"unknown {sorted(set(got) - set(learner_shapes))})")
        for k, v in got.items():
            _check_array(path, f"{prefix}learner/{k}", v, learner_shapes[k])
    for k, v in unpack("grow_scores", arrays).items():  # |gradient| per weight, for gradient growth
        if k not in shapes:
            raise _fail(path, f"grow_scores/{k}", "not a weight of this model")
        _check_array(path, f"grow_scores/{k}", v, shapes[k])
    namespaces = ("grow_scores/",) + tuple(f"{p}{n}/" for p in ("", "snapshot/")
                                           for n in ("params", "optimizer", "learner", "masks"))
    monitor = {f"monitor/{k}" for k in monitor_keys}
    for k in arrays:
        if k not in monitor and not k.startswith(namespaces):
            raise _fail(path, k, "unknown checkpoint entry")
    for k in monitor_keys:
        v = arrays.get(f"monitor/{k}")
        if v is None:
            raise _fail(path, f"monitor/{k}", "missing")
        _check_array(path, f"monitor/{k}", v, None)
        if v.ndim != 1:
            raise _fail(path, f"monitor/{k}", f"expected a 1-D array, got shape {v.shape}")


def check_masks(path, arrays: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> None:
    """The rewired weight masks a checkpoint may hold (``masks/`` and ``snapshot/masks/``): all of
    them or none, uint8 0/1 of each matrix's shape, with the model's number of kept weights."""
    for prefix in ("masks", "snapshot/masks"):
        got = unpack(prefix, arrays)
        if not got:
            continue
        if set(got) != set(masks):
            raise _fail(path, prefix, f"names differ (missing {sorted(set(masks) - set(got))}, "
                                      f"unknown {sorted(set(got) - set(masks))})")
        for name, v in got.items():
            field = f"{prefix}/{name}"
            if v.shape != masks[name].shape or v.dtype != np.uint8:
                raise _fail(path, field, f"expected uint8 {masks[name].shape}, got {v.dtype} {v.shape}")
            if np.any(v > 1):
                raise _fail(path, field, "expected 0/1 entries")
            if int(v.sum()) != int(masks[name].sum()):
                raise _fail(path, field, f"keeps {int(v.sum())} weights, the model {int(masks[name].sum())} "
                                         "(rewiring keeps each matrix's count)")


#: Types of the run settings a checkpoint stores (``run``), by field of ``RunSettings``.
RUN_TYPES: dict[str, tuple] = {
    "task": (str,), "task_options": (dict,), "method": (str,), "n_hidden": (int,), "weight_density": (float,),
    "threshold_mean": (float,), "pseudo_derivative": (list,), "epochs": (int,), "lr": (float,),
    "optimizer": (str,), "update_every": (int, None), "clip_norm": (float,), "lr_decay": (float,),
    "seed": (int,), "dtype": (str,), "shared_masks": (bool,), "rewire_every": (int,), "rewire_fraction": (float,),
    "rewire_grow": (str,),
}


def check_run(path, run) -> dict:
    """The ``run`` settings stored in a checkpoint: an object whose fields have the right types."""
    if not isinstance(run, dict):
        raise _fail(path, "run", f"expected an object, got {type(run).__name__}")
    check_fields(path, "run", run, RUN_TYPES)
    pd = run.get("pseudo_derivative", [0.3, 0.5])
    if len(pd) != 2 or not all(_is_number(v) for v in pd) or not (0 <= pd[0] < float("inf") and 0 < pd[1] < float("inf")):
        raise _fail(path, "run.pseudo_derivative", f"expected (gamma >= 0, eps > 0), got {pd!r:.80}")
    ranges = {
        "n_hidden": lambda v: v >= 1, "weight_density": lambda v: 0 < v <= 1, "threshold_mean": lambda v: 0 <= v <= 1,
        "epochs": lambda v: v >= 0, "lr": lambda v: 0 < v < float("inf"), "clip_norm": lambda v: 0 <= v < float("inf"),
        "update_every": lambda v: v is None or v >= 0, "lr_decay": lambda v: 0 < v <= 1, "seed": lambda v: v >= 0,
        "optimizer": lambda v: v in ("sgd", "adam"), "method": lambda v: v in ("sparse_rtrl", "dense_rtrl", "bptt"),
        "dtype": lambda v: v in ("float32", "float64"), "rewire_every": lambda v: v >= 0,
        "rewire_fraction": lambda v: 0 < v < 1, "rewire_grow": lambda v: v in ("random", "gradient"),
    }
    for key, ok in ranges.items():
        if key in run and not ok(run[key]):
            raise _fail(path, f"run.{key}", f"value {run[key]!r:.80} out of range")
    options = run.get("task_options", {})
    if not all(isinstance(k, str) and (isinstance(v, (str, bool)) or _is_number(v)) for k, v in options.items()):
        raise _fail(path, "run.task_options", "expected an object of names to numbers or strings")
    return run
