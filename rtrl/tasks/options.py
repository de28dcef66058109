"""Checking task options: each builder declares its defaults; unknown names and bad values raise
``ValueError`` with a message naming the task, the option and what is allowed."""

from __future__ import annotations

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
    return out


def _convert(task: str, name: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if isinstance(value, bool) or (isinstance(value, float) and kind is int):
        if not (kind is int and isinstance(value, float) and float(value).is_integer()):
            raise ValueError(f"task {task!r}: option {name!r} must be {kind.__name__}, got {value!r}")
    try:
        return kind(value) if kind in (int, float) else value
    except (TypeError, ValueError):
        raise ValueError(f"task {task!r}: option {name!r} must be {kind.__name__}, got {value!r}") from None


def check(task: str, ok: bool, name: str, requirement: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``ok``: "task 'copy': option 'delay' must be >= 0, got -1"."""
    if not ok:
        raise ValueError(f"task {task!r}: option {name!r} must be {requirement}, got {value!r}")
