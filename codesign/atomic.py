"""Atomic output files: write ``.NAME.tmp-PID`` beside the target, flush, fsync, rename over it.

A crash, a full disk or any other error leaves either the previous complete file or none under the
real name, never a truncated one that looks valid; the temporary file is removed on failure and
errors name the target, never the temporary file. The target's folder is created if missing:
commands check their output paths first (:mod:`codesign.outputs`), so this only makes folders a
command owns (``plots/``, ``traces/``). Files get the mode every new file gets (0666 less the
umask, 0644 usually), like every other output.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (creating its folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (line endings as given, no translation)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
