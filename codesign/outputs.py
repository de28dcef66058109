"""Where a command may write, checked before it does any work (README, "Output files").

The rule: a command creates only what it owns, which is the output file it was given (``--out FILE``,
``--checkpoint``, ``--trace``, ``--csv``, ``--store``), or the output folder it was given (``--out
DIR``, created if missing) and what goes inside it. It never creates the folders above them: a
missing or unwritable parent folder is an :class:`OutputPathError` naming the user's path (exit 2),
raised by these checks before the work starts, so that no result is lost at the end and nothing is
left behind. Default locations under ``reports/`` are owned by the command and are created whole.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from accel_sim.errors import InputError


class OutputPathError(InputError):
    """An output path the command may not or cannot write. Message ``PATH: OPTION: problem``."""


def _writable_folder(folder: Path, path: Path, option: str) -> None:
    if not folder.exists():
        raise OutputPathError(f"{path}: {option}: folder {folder} does not exist (create it first)")
    if not folder.is_dir():
        raise OutputPathError(f"{path}: {option}: {folder} is not a folder")
    try:  # the real test: create (and drop) an unnamed file there, as the write will
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise OutputPathError(f"{path}: {option}: cannot write in folder {folder} ({exc.strerror or exc})") from None


def output_file(path: str | os.PathLike, option: str) -> Path:
    """Check that ``path`` can be written as a file: not a folder, its folder exists and is writable."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path}: {option}: is a folder, expected a file name")
    _writable_folder(path.parent, path, option)
    return path


def output_dir(path: str | os.PathLike, option: str, default: bool = False) -> Path:
    """Check that the output folder ``path`` can be created or filled: an existing folder must be
    writable; a missing one needs a writable parent, unless it is the command's ``default``
    location (created whole: then its nearest existing ancestor must be writable). Creates nothing;
    returns the path."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise OutputPathError(f"{path}: {option}: is a file, expected a folder")
        _writable_folder(path, path, option)
    elif default:
        ancestor = next(p for p in path.absolute().parents if p.exists())
        _writable_folder(ancestor, path, option)
    else:
        _writable_folder(path.parent, path, option)
    return path
