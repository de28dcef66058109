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
    """Convert ``value`` (maybe a command-line string) to the type of ``default`` (int or float)."""
    kind = type(default)
    bad = isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer())
    try:
        if not bad:
            return kind(value) if kind in (int, float) else value
    except (TypeError, ValueError):
        pass
    raise ValueError(f"task {task!r}: option {name!r} must be {kind.__name__}, got {value!r}")


def check(task: str, ok: bool, name: str, requirement: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``ok``: "task 'copy': option 'delay' must be >= 0, got -1"."""
    if not ok:
        raise ValueError(f"task {task!r}: option {name!r} must be {requirement}, got {value!r}")
