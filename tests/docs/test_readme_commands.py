"""Every command of README.md's code blocks runs (with short settings, in a fresh folder, in README
order: the report reads the sweep's store) and exits 0; the learning examples, run as written,
reach the accuracy their comment claims (slow: minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.docs.readme_commands import ROOT, claimed_accuracy, commands, prepare, shorten

COMMANDS = commands()
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _run(argv: list[str], cwd, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_the_readme_has_commands_and_learning_claims():
    texts = [c.text for c in COMMANDS]
    assert any(t.startswith("accel-sim train") for t in texts) and any(t.startswith("accel-sim sweep") for t in texts)
    assert any(c.script for c in COMMANDS)
    assert [c for c in COMMANDS if claimed_accuracy(c)], "no learning example states the accuracy it reaches"


def test_every_readme_command_runs(tmp_path):
    prepare(tmp_path)
    failures = []
    for command in COMMANDS:
        if command.script:
            done = _run([sys.executable, "-c", command.script], tmp_path, 300)
        else:
            done = _run(shorten(command.argv, tmp_path), tmp_path, 300)
        if done.returncode != 0:
            failures.append(f"{command.text}: exit {done.returncode}: {(done.stderr or done.stdout).strip()[-500:]}")
    assert failures == []


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in COMMANDS if claimed_accuracy(c)], ids=lambda c: c.text)
def test_learning_examples_reach_the_accuracy_the_readme_claims(tmp_path, command):
    prepare(tmp_path)
    argv = [sys.executable, "-m", "codesign", *command.argv[1:], "--json", "--quiet"]
    done = _run(argv, tmp_path, 1800)
    assert done.returncode == 0, done.stderr
    accuracy = json.loads(done.stdout)["test_accuracy"]
    assert accuracy >= claimed_accuracy(command), f"{command.text}: {accuracy:.4f}"
