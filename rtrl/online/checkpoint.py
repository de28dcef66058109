"""Checkpoint files: one ``.npz`` holding named arrays plus a JSON metadata document.

Written atomically (temporary file in the same folder, flushed, then ``os.replace``), so a crash
never leaves a half-written checkpoint under the real name. Read with ``allow_pickle=False``: only
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


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` (name -> numeric array) and JSON-safe ``meta`` to ``path`` atomically."""
    path = Path(path)
    for name, value in arrays.items():
        if name == _META or np.asarray(value).dtype == object:
            raise ValueError(f"checkpoint array {name!r} is not a plain numeric array")
    doc = dict(meta, format=CHECKPOINT_FORMAT)
    blob = np.frombuffer(json.dumps(doc, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{_META: blob}, **{k: np.asarray(v) for k, v in arrays.items()})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint: (arrays, meta). Raises ValueError (FileNotFoundError if missing) with the
    path in the message for anything that is not a checkpoint of this format."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "checkpoint not found", str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except IsADirectoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to decode the archive (zip, zlib, npy) is corruption
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
