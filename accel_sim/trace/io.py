"""Trace files: stream a run to disk step by step (:class:`TraceWriter`) and read it back lazily,
chunk by chunk (:class:`TraceReader`). The layout is defined in :mod:`accel_sim.trace.codec`.

Safety properties:

* A writer writes ``PATH.partial`` and renames it to ``PATH`` only on a clean :meth:`TraceWriter.close`
  (after an fsync), so a crashed run never leaves a file under the final name; the partial file
  has no trailer, and readers reject it.
* Reading never executes code (Arrow buffers + JSON header; no pickle).
* Empty files, truncation, bit flips (per-chunk and header CRC-32) and other schema versions raise
  :class:`accel_sim.errors.TraceFormatError`, whose message starts with the file name.
"""

from __future__ import annotations

import os
from array import array
from contextlib import contextmanager
from collections.abc import Iterable, Iterator
from pathlib import Path
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from accel_sim.errors import TraceFormatError
from accel_sim.trace import codec
from accel_sim.trace.schema import OP_COLUMNS, OP_DTYPES, MaskChange, OpRecord, SetLayout, TraceChunk, TraceHeader, op_row

DEFAULT_STEPS_PER_CHUNK = 256
#: Arrow IPC buffer compression: lz4 decompresses ~8x faster than zstd here at ~2x the size
#: (benchmarks/bench_trace.py); "zstd" or None may be passed instead. Readers accept all three.
DEFAULT_COMPRESSION = "lz4"
_READ_OPTIONS = ipc.IpcReadOptions(use_threads=False)  # per-buffer thread dispatch costs more than it saves

_N_COLUMNS = len(OP_COLUMNS)


class TraceWriter:
    """Streams a trace to ``path``; implements the :class:`~accel_sim.trace.schema.Recorder`
    protocol (``begin_step`` / ``op`` / ``end_step``) and is a context manager.

    Steps are buffered and written as one chunk every ``steps_per_chunk`` steps, so memory is
    bounded by one chunk. Ops recorded after ``end_step`` (e.g. a trainer's weight update) belong
    to the step before them. Leaving the ``with`` block by an exception aborts: the partial file
    ``PATH.partial`` is kept (for inspection) and ``PATH`` is not created.
    """

    def __init__(self, path: str | os.PathLike, header: TraceHeader,
                 steps_per_chunk: int = DEFAULT_STEPS_PER_CHUNK, compression: str | None = DEFAULT_COMPRESSION) -> None:
        if steps_per_chunk < 1:
            raise ValueError(f"steps_per_chunk must be >= 1, got {steps_per_chunk}")
        self.header = codec.check_header(header)
        self.layout = SetLayout.of(self.header)
        self._op_ids = {op.name: i for i, op in enumerate(self.header.ops)}
        self.path = Path(path)
        self.partial_path = self.path.with_name(self.path.name + ".partial")
        self.steps_per_chunk = int(steps_per_chunk)
        self.n_chunks = self.n_steps = self.n_ops = 0
        self._step_ids = array("q")
        self._bits = bytearray()
        self._mask_changes: list[MaskChange] = []
        self._rows = array("q")  # op rows, flat: int64 columns in OP_COLUMNS order
        self._closed = False
        self._last_step: int | None = None
        try:
            self._file = open(self.partial_path, "wb")
        except OSError as exc:  # name the user's path, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None
        options = ipc.IpcWriteOptions(compression=compression)
        schema = codec.ARROW_SCHEMA.with_metadata(codec.schema_metadata(self.header))
        self._stream = ipc.new_stream(self._file, schema, options=options)

    # -- Recorder protocol
    def begin_step(self, step: int, sets: Mapping[str, np.ndarray] | None = None) -> None:
        """Open ``step`` with its index sets (name -> bool mask or indices; missing sets are empty)."""
        if len(self._step_ids) >= self.steps_per_chunk:
            self.flush()
        bits = self.layout.pack(sets)  # checked first: a bad set appends nothing
        self._step_ids.append(int(step))
        self._bits += bits.tobytes()

    def op(self, record: OpRecord) -> None:
        if not self._step_ids and self.n_steps == 0:
            raise ValueError("op recorded before the first begin_step")
        if isinstance(record.op, str):
            if record.op not in self._op_ids:
                raise ValueError(f"op record names op {record.op!r}, which the header does not declare")
            record = OpRecord(record.step, self._op_ids[record.op], record.macs, record.nnz)
        try:
            self._rows.extend(array("q", op_row(record)))  # converted whole first: a bad value appends nothing
        except (OverflowError, TypeError) as exc:
            raise ValueError(f"op record counts must be integers in int64 range ({exc})") from None

    def mask_change(self, step: int, pattern: str, removed: np.ndarray, added: np.ndarray) -> None:
        """Reserved (rewiring): record that pattern ``pattern`` changed at ``step`` (flat positions)."""
        self._mask_changes.append(MaskChange(int(step), pattern, np.asarray(removed, np.int64),
                                             np.asarray(added, np.int64)))

    def op_rows(self, rows: np.ndarray) -> None:
        """Several ops at once: int64 (k, len(OP_COLUMNS)) in OP_COLUMNS order (codes and values
        are checked when the chunk is encoded, ``codec.encode_chunk``)."""
        if not self._step_ids and self.n_steps == 0:
            raise ValueError("op recorded before the first begin_step")
        rows = np.ascontiguousarray(rows, np.int64)
        if rows.ndim != 2 or rows.shape[1] != _N_COLUMNS:
            raise ValueError(f"op rows must have shape (k, {_N_COLUMNS}), got {rows.shape}")
        self._rows.frombytes(rows.tobytes())

    def end_step(self) -> None:
        pass

    # -- chunks
    def flush(self) -> None:
        """Write the buffered steps and ops as one chunk (no-op when nothing is buffered)."""
        if not self._step_ids and not self._rows:
            return
        table = np.frombuffer(self._rows, np.int64).reshape(-1, _N_COLUMNS)
        ops = {c: table[:, j].astype(OP_DTYPES[c]) for j, c in enumerate(OP_COLUMNS)}
        ids = np.frombuffer(self._step_ids, np.int64).copy()
        bits = np.frombuffer(bytes(self._bits), np.uint8).reshape(ids.size, self.layout.stride)
        chunk = TraceChunk(self.layout, ids, bits, ops, tuple(self._mask_changes))
        self._step_ids, self._bits, self._rows, self._mask_changes = array("q"), bytearray(), array("q"), []
        self.write_chunk(chunk)

    def write_chunk(self, chunk: TraceChunk) -> None:
        """Append a whole chunk (after flushing what the recorder buffered)."""
        if self._closed:
            raise ValueError(f"{self.path}: trace writer is closed")
        if self._step_ids or self._rows:
            self.flush()
        if chunk.n_steps and self._last_step is not None and int(chunk.step_ids[0]) <= self._last_step:
            raise ValueError(f"step {int(chunk.step_ids[0])} recorded after step {self._last_step}: steps must increase")
        batch, crc = codec.encode_chunk(chunk, self.header)
        if chunk.n_steps:
            self._last_step = int(chunk.step_ids[-1])
        meta = {codec.KEY_SEQ: str(self.n_chunks).encode(), codec.KEY_CRC: str(crc).encode()}
        with self._user_path():
            self._stream.write_batch(batch, custom_metadata=meta)
        self.n_chunks += 1
        self.n_steps += chunk.n_steps
        self.n_ops += chunk.n_ops

    # -- lifetime
    def close(self) -> None:
        """Flush, write the trailer, fsync and rename ``PATH.partial`` to ``PATH``."""
        if self._closed:
            return
        self.flush()
        trailer = {codec.KEY_END: b"1", b"n_chunks": str(self.n_chunks).encode(),
                   b"n_steps": str(self.n_steps).encode(), b"n_ops": str(self.n_ops).encode()}
        with self._user_path():
            self._stream.write_batch(codec.empty_batch(), custom_metadata=trailer)
            self._stream.close()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._closed = True
            os.replace(self.partial_path, self.path)

    @contextmanager
    def _user_path(self) -> Iterator[None]:
        """Report an OS error (disk full, folder gone) under the user's path, not ``PATH.partial``."""
        try:
            yield
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror or str(exc), str(self.path)) from None

    def abort(self) -> None:
        """Stop without finishing: ``PATH.partial`` stays (readers reject it), ``PATH`` is not made."""
        if not self._closed:
            self._closed = True
            self._file.close()

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_trace(path: str | os.PathLike, header: TraceHeader, chunks: Iterable[TraceChunk],
                compression: str | None = DEFAULT_COMPRESSION) -> Path:
    """Write a whole trace (e.g. a synthetic one) chunk by chunk; returns the path."""
    with TraceWriter(path, header, compression=compression) as writer:
        for chunk in chunks:
            writer.write_chunk(chunk)
    return writer.path


class TraceTotals(NamedTuple):
    """Counts from the trailer of a fully read trace."""

    n_chunks: int
    n_steps: int
    n_ops: int


class TraceReader:
    """Reads a trace file. Opening checks the file is non-empty, ends with an Arrow end-of-stream
    marker and carries a supported schema version and a valid header; :meth:`chunks` then yields
    :class:`TraceChunk` objects lazily (one file read per chunk), checking each chunk's CRC and
    the trailer. Every problem raises :class:`TraceFormatError` naming the file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        size = self.path.stat().st_size  # FileNotFoundError for a missing file
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path}: is a directory, not a trace file")
        if size == 0:
            raise TraceFormatError(str(self.path), "empty file (0 bytes), not a trace")
        with open(self.path, "rb") as fh:
            head = fh.read(len(codec.ARROW_CONTINUATION))
            fh.seek(max(0, size - len(codec.ARROW_EOS)))
            tail = fh.read()
        if head != codec.ARROW_CONTINUATION:
            raise TraceFormatError(str(self.path), "not a trace file (not an Arrow IPC stream; traces are written "
                                   "by accel-sim train --trace or accel_sim.trace.io.TraceWriter)")
        if tail != codec.ARROW_EOS:
            raise TraceFormatError(
                str(self.path), "truncated or unfinished: no end-of-stream marker at the end of the file"
            )
        self.size_bytes = size
        self.totals: TraceTotals | None = None
        with self._open_stream() as reader:
            self.header: TraceHeader = self._guard(lambda: codec.decode_schema(reader.schema), "header")
        self.layout = SetLayout.of(self.header)

    def _fail(self, problem: str) -> TraceFormatError:
        return TraceFormatError(str(self.path), problem)

    def _guard(self, fn, where: str):
        try:
            return fn()
        except codec.OldSchema as exc:
            raise self._fail(str(exc)) from None
        except codec.FormatProblem as exc:
            raise self._fail(f"{where}: {exc}") from None
        except (pa.ArrowException, OSError, ValueError, MemoryError, IndexError, KeyError) as exc:
            raise self._fail(f"{where}: corrupt ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None

    @contextmanager
    def _open_stream(self) -> Iterator[ipc.RecordBatchStreamReader]:
        with pa.OSFile(str(self.path), "rb") as source:
            yield self._guard(lambda: ipc.open_stream(source, options=_READ_OPTIONS), "not an Arrow IPC stream")

    def chunks(self) -> Iterator[TraceChunk]:
        """Yield the chunks in order. May be called again to re-read from the start."""
        steps = ops = seq = 0
        last_step = None
        with self._open_stream() as reader:
            while True:
                where = f"chunk {seq}"
                try:
                    item = self._guard(reader.read_next_batch_with_custom_metadata, where)
                except StopIteration:
                    raise self._fail(f"truncated or unfinished: stream ends after {seq} chunks "
                                     "without the end-of-trace record") from None
                meta = item.custom_metadata or {}
                if meta.get(codec.KEY_END) == b"1":
                    break
                if meta.get(codec.KEY_SEQ) != str(seq).encode() or codec.KEY_CRC not in meta:
                    raise self._fail(f"{where}: missing or out-of-order chunk metadata")
                chunk = self._guard(lambda: codec.decode_batch(item.batch, meta[codec.KEY_CRC], self.header,
                                                               self.layout), where)
                if chunk.n_steps:
                    if last_step is not None and int(chunk.step_ids[0]) <= last_step:
                        raise self._fail(f"{where}: step ids do not increase across chunks")
                    last_step = int(chunk.step_ids[-1])
                steps, ops, seq = steps + chunk.n_steps, ops + chunk.n_ops, seq + 1
                yield chunk
            totals = self._guard(lambda: TraceTotals(int(meta[b"n_chunks"]), int(meta[b"n_steps"]),
                                                     int(meta[b"n_ops"])), "trailer")
            if totals != (seq, steps, ops) or item.batch.num_rows != 0:
                raise self._fail(f"trailer says {totals}, file holds {seq} chunks, {steps} steps, {ops} ops")
            try:
                extra = reader.read_next_batch()
            except StopIteration:
                extra = None
            except Exception:  # noqa: BLE001 - anything after the trailer is a corruption
                extra = True
            if extra is not None:
                raise self._fail("data after the end-of-trace record")
        self.totals = totals

    __iter__ = chunks


class LoadedTrace(NamedTuple):
    """A whole trace in memory (small traces, tests)."""

    header: TraceHeader
    chunks: list[TraceChunk]


def read_trace(path: str | os.PathLike) -> LoadedTrace:
    """Read a whole trace into memory (checks everything the reader checks)."""
    reader = TraceReader(path)
    return LoadedTrace(reader.header, list(reader.chunks()))
