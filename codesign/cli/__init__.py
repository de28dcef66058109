"""``accel-sim`` command line.

Every module in this package that defines ``register(subparsers)`` adds its subcommands; each
subcommand sets ``func(args) -> int``. Exit codes: 0 success, 2 bad input (one line on stderr,
never a traceback), 1 internal error. A reader closing stdout early (``| head``) is not an error:
the command stops quietly, exit 0.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import select
import sys

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Raised by a subcommand for bad input; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + exits 2; keep it one line
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="accel-sim",
        description="Exact sparse RTRL, operation traces and accelerator co-design.",
    )
    parser.add_argument("--version", action="version", version=f"accel-sim {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sparse-rtrl-accel")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _stdout_closed() -> bool:
    """Whether the reader of stdout went away (``accel-sim ... | head``), rather than some other
    pipe or socket breaking. If so, stdout goes to /dev/null: output still buffered would raise
    again when Python flushes at exit."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # not a real file (e.g. a test's buffer)
        return False
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    if not any(events & select.POLLERR for _, events in poll.poll(0)):
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    return True


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except BrokenPipeError as exc:
        if _stdout_closed():
            return EXIT_OK
        print(_one_line(f"error: {exc.filename or 'input/output'}: {exc.strerror or exc}"), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(_one_line(f"error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # missing/unreadable input, unwritable output folder, full disk
        where = exc.filename if exc.filename is not None else "input/output"
        print(_one_line(f"error: {where}: {exc.strerror or exc}"), file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(_one_line(f"error: {exc}") if str(exc) else f"error: {type(exc).__name__}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("error: not enough memory for the sizes requested (hidden units, sequences, trace); "
              "use smaller ones", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, exit 1
        print(_one_line(f"internal error: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_INTERNAL


def _one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed, so an error is always exactly one line."""
    return " ".join(str(text).split())


if __name__ == "__main__":
    sys.exit(main())
