"""SQLite result store for sweeps: one row per finished point, written as the point finishes.

Crash safety: every write is one transaction keyed by the point's unique key (``INSERT OR
IGNORE`` on a primary key), the database runs in WAL mode, so a sweep killed with ``kill -9``
leaves only whole rows behind and a rerun skips exactly those. Rows are JSON objects (flat dicts
of numbers and strings); :meth:`ResultStore.export_csv` writes them with the union of columns.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from codesign.atomic import atomic_write_text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_key TEXT PRIMARY KEY,
    params_json TEXT NOT NULL,
    result_json TEXT NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS points (
    point_key TEXT PRIMARY KEY,
    point_index INTEGER NOT NULL,
    model_key TEXT NOT NULL,
    row_json TEXT NOT NULL,
    finished_at REAL NOT NULL
);
"""
STORE_SCHEMA = "accel-sim/store/1"


class ResultStore:
    """A sweep's results. ``path`` is created if missing; use as a context manager or ``close()``."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise FileNotFoundError(errno.ENOENT, "result store not found", str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            schema = self.get_meta("store_schema")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if _is_storage_problem(exc):
                raise storage_error(exc, self.path) from None
            raise ValueError(f"{self.path}: not a result store ({exc})") from None
        if schema is None:
            self.set_meta("store_schema", STORE_SCHEMA)
        elif schema != STORE_SCHEMA:
            raise ValueError(f"{self.path}: store schema {schema!r}, expected {STORE_SCHEMA!r}")

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- model points (trained once, trace reused) -------------------------------------------
    def put_model(self, model_key: str, params: dict[str, Any], result: dict[str, Any]) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO models (model_key, params_json, result_json, finished_at) VALUES (?, ?, ?, ?)",
                (model_key, _dumps(params), _dumps(result), time.time()),
            )

    def get_model(self, model_key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT result_json FROM models WHERE model_key = ?", (model_key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def models(self) -> list[dict[str, Any]]:
        """Every finished model point: its params and result merged, ordered by key."""
        rows = self._db.execute("SELECT model_key, params_json, result_json FROM models ORDER BY model_key").fetchall()
        return [{"model_key": k, **json.loads(p), **json.loads(r)} for k, p, r in rows]

    # -- sweep points ---------------------------------------------------------------------------
    def put_point(self, point_key: str, point_index: int, model_key: str, row: dict[str, Any]) -> bool:
        """Store one finished point atomically. Returns False if it was already stored."""
        with self._transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO points (point_key, point_index, model_key, row_json, finished_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (point_key, point_index, model_key, _dumps(row), time.time()),
            )
        return cur.rowcount == 1

    def done_keys(self) -> set[str]:
        return {k for (k,) in self._db.execute("SELECT point_key FROM points")}

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    def rows(self) -> list[dict[str, Any]]:
        """All stored rows, ordered by point index (deterministic for equal sweeps)."""
        cur = self._db.execute("SELECT row_json FROM points ORDER BY point_index, point_key")
        return [json.loads(r) for (r,) in cur]

    def export_csv(self, path: str | Path) -> Path:
        """Write every row to ``path`` (columns: the union of row keys, identity columns first)."""
        return write_csv(self.rows(), path)

    def _transaction(self) -> "_Tx":
        return _Tx(self._db, self.path)


_STORAGE_WORDS = ("disk is full", "disk i/o error", "readonly database", "unable to open", "read-only")


def _is_storage_problem(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in _STORAGE_WORDS)


def storage_error(exc: sqlite3.Error, path: Path) -> OSError:
    """An SQLite failure to write (full disk, read-only or unwritable folder) as an ``OSError``
    naming the store, so the CLI reports it in one line; what was committed before stays."""
    text = str(exc).lower()
    if "full" in text:
        code = errno.ENOSPC
    elif "readonly" in text or "read-only" in text or "unable to open" in text:
        code = errno.EACCES
    else:
        code = errno.EIO
    return OSError(code, f"{os.strerror(code)}: cannot write the result store ({exc}); the points stored before "
                         "are kept", str(path))


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error): one atomic write. SQLite storage
    failures (full disk, read-only folder) surface as ``OSError`` naming the store."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db, self._path = db, path

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise storage_error(exc, self._path) if _is_storage_problem(exc) else exc from None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.OperationalError as failure:
            if exc_type is None:  # COMMIT failed: undo, report (a failed ROLLBACK is reported by exc)
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise storage_error(failure, self._path) if _is_storage_problem(failure) else failure from None
        if isinstance(exc, sqlite3.OperationalError) and _is_storage_problem(exc):
            raise storage_error(exc, self._path) from None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True)


def ordered_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    first = ["point_index", "point_key", "config", "fidelity", "task", "method", "n_hidden", "weight_density"]
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return [c for c in first if c in seen] + sorted(c for c in seen if c not in first)


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write ``rows`` as CSV to ``path`` atomically (complete file or none; see :mod:`codesign.atomic`)."""
    columns = ordered_columns(rows)
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns, restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return atomic_write_text(path, buf.getvalue())
