"""Checkpoint files: one ``.npz`` holding named arrays plus a JSON metadata document.

Written atomically (temporary file in the same folder, flushed, then ``os.replace``), so a crash
never leaves a half-written checkpoint under the real name; :func:`check_writable` tells before a
run whether its checkpoint can be saved. Read with ``allow_pickle=False``: only
plain numeric arrays and UTF-8 JSON text, never code. The JSON lives in the array ``__meta__``
(uint8 bytes) and carries ``format`` = :data:`CHECKPOINT_FORMAT`.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CHECKPOINT_FORMAT = "rtrl-online-checkpoint/1"
_META = "__meta__"


def check_writable(path: str | os.PathLike) -> Path:
    """Raise ``OSError`` naming ``path`` unless a checkpoint can be saved there (its folder exists
    and takes a new file; ``path`` is no folder). Called before training, so an unwritable path
    fails at once instead of after the run."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a checkpoint file name", str(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"folder {path.parent} does not exist (create it first)", str(path))
    try:
        tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write in folder {path.parent} ({exc.strerror})", str(path)) from None
    return path


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` (name -> numeric array) and JSON-safe ``meta`` to ``path`` atomically. The
    folder must exist; the file gets the usual mode of new files (0666 less the umask); an
    ``OSError`` names ``path``, never the temporary file."""
    path = Path(path)
    for name, value in arrays.items():
        if name == _META or np.asarray(value).dtype == object:
            raise ValueError(f"checkpoint array {name!r} is not a plain numeric array")
    doc = dict(meta, format=CHECKPOINT_FORMAT)
    blob = np.frombuffer(json.dumps(doc, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    check_writable(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{_META: blob}, **{k: np.asarray(v) for k, v in arrays.items()})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint: (arrays, meta). Raises ValueError (FileNotFoundError if missing) with the
    path in the message for anything that is not a checkpoint of this format."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "checkpoint not found", str(path))
    if not path.is_dir():
        open(path, "rb").close()  # unreadable: the OSError, not "not a checkpoint"
    if not path.is_dir() and not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a checkpoint (not an .npz archive; checkpoints are written by "
                         "accel-sim train --checkpoint)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except IsADirectoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to decode the archive (zip, zlib, npy) is corruption
        if "pickle" in str(exc):  # numpy's advice to load it unsafely must never reach the user
            raise ValueError(f"{path}: not a checkpoint (holds pickled Python objects, which are never loaded)") from None
        raise ValueError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if _META not in arrays:
        raise ValueError(f"{path}: not a checkpoint (no metadata)")
    try:
        meta = json.loads(arrays.pop(_META).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: corrupt checkpoint metadata ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: corrupt checkpoint metadata (a JSON {type(meta).__name__}, not an object)")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: checkpoint format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    return arrays, meta


def pack(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Namespace a dict of arrays: {"a": x} -> {"prefix/a": x}."""
    return {f"{prefix}/{k}": v for k, v in arrays.items()}


def unpack(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack` for one prefix."""
    start = prefix + "/"
    return {k[len(start):]: v for k, v in arrays.items() if k.startswith(start)}
