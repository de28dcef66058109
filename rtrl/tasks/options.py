"""Checking task options: each builder declares its defaults; unknown names and bad values raise
``ValueError`` with a message naming the task, the option and what is allowed."""

from __future__ import annotations

import math
from typing import Any


def resolve(task: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Merge ``given`` into ``defaults``; reject unknown names and values of the wrong type.

    Values may be strings (from the command line); they are converted to the default's type."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"task {task!r}: unknown option {unknown[0]!r}; valid options: {', '.join(sorted(defaults))}"
        )
    out = dict(defaults)
    for name, value in given.items():
        out[name] = _convert(task, name, value, defaults[name])
    check(task, 0 <= out.get("seed", 0) < 2**63, "seed", "an integer in [0, 2^63)", out.get("seed"))
    return out


#: Most input values (sequences x steps x channels) a task may generate: 2^28 float32 = 1 GiB.
MAX_VALUES = 2**28


def check_size(task: str, n_values: int, names: str) -> None:
    """Refuse option values that would build more than :data:`MAX_VALUES` input values."""
    if n_values > MAX_VALUES:
        raise ValueError(f"task {task!r}: options {names} ask for {n_values} input values, more than the limit "
                         f"{MAX_VALUES} (1 GiB); use smaller ones")


def _convert(task: str, name: str, value: Any, default: Any) -> Any:
    """Convert ``value`` (maybe a command-line string) to the type of ``default`` (int or float)."""
    kind = type(default)
    bad = isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer())
    try:
        if not bad:
            out = kind(value) if kind in (int, float) else value
            if kind is not float or math.isfinite(out):
                return out + 0.0 if kind is float else out  # + 0.0: -0.0 is 0.0 (numpy refuses scale -0.0)
    except (TypeError, ValueError, OverflowError):
        pass
    what = "a finite float" if kind is float else kind.__name__
    raise ValueError(f"task {task!r}: option {name!r} must be {what}, got {value!r}")


def check(task: str, ok: bool, name: str, requirement: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``ok``: "task 'copy': option 'delay' must be >= 0, got -1"."""
    if not ok:
        raise ValueError(f"task {task!r}: option {name!r} must be {requirement}, got {value!r}")
