"""Typed errors for bad input. All are ``ValueError`` subclasses so library users can catch one
type; the CLI turns them into exit code 2 with their one-line message."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: the message names the file and field where there is one."""


class ConfigError(InputError):
    """An invalid hardware config or sweep spec. Message: ``FILE: field.path: problem``."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source, self.field, self.problem = source, field, problem
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):  # picklable, so a worker process or Dask worker can send it back
        return type(self), (self.source, self.field, self.problem)


class MaskChangeError(InputError):
    """A trace's mask-change record that cannot apply: it removes an entry its pattern does not
    hold, adds one it already holds, or comes after the steps it changes."""

    def __init__(self, pattern: str, step: int, problem: str) -> None:
        self.pattern, self.step, self.problem = pattern, step, problem
        super().__init__(f"mask change of pattern {pattern!r} at step {step}: {problem}")

    def __reduce__(self):
        return type(self), (self.pattern, self.step, self.problem)


class TraceFormatError(InputError):
    """A trace file that is truncated, corrupt, empty or of another schema version."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):
        return type(self), (self.path, self.problem)
