"""Shared checks for the hardening tests: run the CLI in-process and assert the bad-input contract
(exit 2, exactly one line on stderr naming the file and field, no traceback), plus a budget that
scales with the hypothesis profile (``default`` in ``make test``, ``fuzz`` in ``make fuzz``)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

from codesign.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "hw_configs"
FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"


def examples(n: int) -> settings:
    """``n`` examples in make test, 20x that under ``HYPOTHESIS_PROFILE=fuzz``."""
    return settings(max_examples=n * 20 if FUZZ else n, deadline=None)


def cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``accel-sim ARGV`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_bad_input(code: int, err: str, *names: str) -> None:
    """Exit 2, one line on stderr, no traceback, and every one of ``names`` in that line."""
    assert code == 2, f"exit {code}, stderr {err!r}"
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert "not enough memory" not in err, f"input made the tool exhaust memory: {err!r}"
    for name in names:
        assert str(name) in err, f"{name!r} not named in {err!r}"


def assert_ok_or_bad_input(code: int, err: str, *names: str) -> None:
    """Either success, or the bad-input contract; never an internal error (exit 1)."""
    if code != 0:
        assert_bad_input(code, err, *names)


def run_cli_subprocess(argv: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """``python -m codesign ARGV`` in a child process (for kills and hangs), with a timeout."""
    return subprocess.run([sys.executable, "-m", "codesign", *map(str, argv)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, **kw)


def files_under(folder: Path) -> dict[str, int]:
    """Every file below ``folder`` (relative path -> size), to check nothing else was written."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
