"""The commands of README.md's code blocks, as runnable argument lists.

Every line of a ``sh`` block is a command; a trailing ``# comment`` is dropped (a learning example
states there the accuracy it reaches, ``≥ 99 % bit accuracy``); an optional ``[--flag ...]`` part
gives two commands, without it and with it; ``TRACE`` stands for a sample trace. ``python`` blocks
are scripts. :func:`shorten` swaps in small settings (few sequences, one epoch, a trimmed sweep
spec) so that the whole README runs in seconds; :func:`claimed_accuracy` reads a claim.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PLACEHOLDERS = {"TRACE": "traces/sparse_rtrl_h16.arrows"}
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_CLAIM = re.compile(r"≥\s*([\d.]+)\s*%\s*(?:bit|test) accuracy")


@dataclass(frozen=True)
class Command:
    """One README command: ``argv`` (a list) or a Python ``script``; ``comment`` as written."""

    text: str
    argv: tuple[str, ...] = ()
    script: str = ""
    comment: str = ""


def _variants(line: str) -> list[str]:
    """``a [b] c`` -> ``a c`` and ``a b c`` (optional parts, as usage lines write them)."""
    match = re.search(r"\s*\[([^\]]+)\]", line)
    if not match:
        return [line]
    without = line[: match.start()] + line[match.end():]
    with_it = line[: match.start()] + " " + match.group(1) + line[match.end():]
    return _variants(without) + _variants(with_it)


def commands(text: str | None = None) -> list[Command]:
    """Every command of the README's ``sh`` and ``python`` code blocks, in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    out = []
    for lang, body in _BLOCK.findall(text):
        if lang == "python":
            out.append(Command(body.strip(), script=body))
        elif lang in ("sh", "bash", "shell"):
            for line in body.splitlines():
                code, _, comment = line.partition(" #")
                if not code.strip():
                    continue
                for variant in _variants(code.strip()):
                    argv = tuple(PLACEHOLDERS.get(a, a) for a in shlex.split(variant))
                    out.append(Command(variant, argv=argv, comment=comment.strip()))
    return out


def claimed_accuracy(command: Command) -> float | None:
    """The accuracy (a fraction) a learning example's comment promises, or None."""
    match = _CLAIM.search(command.comment)
    return float(match.group(1)) / 100 if match else None


def _set_option(argv: list[str], option: str, value: str) -> list[str]:
    if option in argv:
        argv[argv.index(option) + 1] = value
        return argv
    return argv + [option, value]


def shorten(argv: tuple[str, ...], workdir: Path) -> list[str]:
    """``argv`` with small settings, runnable in ``workdir`` (which holds copies of hw_configs/ and
    traces/); ``accel-sim`` and ``python`` become this interpreter, ``make X`` a dry run."""
    args = list(argv)
    if args[0] == "make":
        return ["make", "-n", "-C", str(ROOT), *args[1:]]  # a dry run: the target and its recipe exist
    if args[0] == "python":
        return [sys.executable, *args[1:]]
    assert args[0] == "accel-sim", args
    args = [sys.executable, "-m", "codesign", *args[1:]]
    command = args[3]
    if command == "train":
        from rtrl.tasks import TASK_OPTIONS

        task = args[args.index("--task") + 1]
        args += ["--task-option", "n_train=12"]
        if "n_test" in TASK_OPTIONS[task]:
            args += ["--task-option", "n_test=6"]
        args = _set_option(args, "--epochs", "1")
    elif command == "sweep":
        spec_path = workdir / args[4]
        spec = yaml.safe_load(spec_path.read_text())
        spec["model"] = {k: v[:1] if isinstance(v, list) else v for k, v in spec.get("model", {}).items()}
        spec["training"] = {**spec.get("training", {}), "epochs": 1, "train_sequences": 8, "test_sequences": 4,
                            "trace_sequences": 1}
        spec.pop("include", None)
        spec_path.write_text(yaml.safe_dump(spec))
    return args


def prepare(workdir: Path) -> None:
    """A working folder as a user's checkout has it: the configs and sample traces."""
    shutil.copytree(ROOT / "hw_configs", workdir / "hw_configs")
    shutil.copytree(ROOT / "traces", workdir / "traces")
