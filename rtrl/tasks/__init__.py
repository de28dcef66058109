"""Seeded sequence tasks with train/test splits: ``get_task(name, **options) -> Task``.

Names: ``digits``, ``digits-events``, ``copy``, ``sine`` (see each module for its options).
Unknown names or options, or bad option values, raise ``ValueError`` with a one-line message.
"""

from __future__ import annotations

from typing import Callable

from .copy import COPY_DEFAULTS, build_copy
from .dataset import NO_TARGET, Dataset, Sequence, Task
from .digits import DIGITS_DEFAULTS, EVENTS_DEFAULTS, build_digits, build_digits_events
from .sine import SINE_DEFAULTS, build_sine

_BUILDERS: dict[str, Callable[..., Task]] = {
    "digits": build_digits,
    "digits-events": build_digits_events,
    "copy": build_copy,
    "sine": build_sine,
}
TASK_NAMES = tuple(_BUILDERS)
TASK_OPTIONS = {
    "digits": DIGITS_DEFAULTS,
    "digits-events": EVENTS_DEFAULTS,
    "copy": COPY_DEFAULTS,
    "sine": SINE_DEFAULTS,
}


def get_task(name: str, **options) -> Task:
    """Build the task ``name`` with ``options`` (defaults in ``TASK_OPTIONS[name]``; all seeded)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASK_NAMES)}")
    return _BUILDERS[name](**options)


__all__ = ["NO_TARGET", "Dataset", "Sequence", "Task", "TASK_NAMES", "TASK_OPTIONS", "get_task"]
