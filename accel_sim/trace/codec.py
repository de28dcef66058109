"""The on-disk trace format (``rtrl-trace/2``): Apache Arrow IPC stream layout, header encoding and
integrity checks. Used by both the writer and the reader of :mod:`accel_sim.trace.io`, so the
format exists once. The layout (documented for trace authors in ``traces/README.md``):

* Arrow **schema metadata**: ``rtrl_trace.schema`` (= ``SCHEMA_VERSION``), ``rtrl_trace.header``
  (the header as JSON, :func:`accel_sim.trace.header.header_to_json`) and
  ``rtrl_trace.header_crc32`` (CRC-32 of the header JSON bytes).
* One **record batch per chunk**, with exactly one row: ``step`` list<int64> (the chunk's steps),
  ``set_bits`` list<uint8> (each step's per-step index sets, ``SetLayout.stride`` bytes per step),
  ``op_step`` / ``op_macs`` / ``op_nnz`` list<int64> and ``op_id`` list<int16> (one entry per op),
  and the reserved mask-change columns ``mask_change_step`` list<int64>, ``mask_change_pattern``
  list<string>, ``mask_change_removed`` / ``mask_change_added`` list<list<int64>>. Batch metadata:
  ``rtrl_trace.seq`` (chunk number from 0) and ``rtrl_trace.crc32`` (:func:`chunk_crc32`).
* A final **trailer**: a zero-row batch whose metadata holds ``rtrl_trace.end`` = ``"1"`` and the
  totals ``n_chunks``, ``n_steps``, ``n_ops``. A stream without it is unfinished or truncated.
"""

from __future__ import annotations

import json
import zlib

import numpy as np
import pyarrow as pa

from accel_sim.trace.header import OLD_SCHEMAS, HeaderError, header_from_json, header_to_json, validate_header
from accel_sim.trace.schema import OP_COLUMNS, OP_DTYPES, SCHEMA_VERSION, MaskChange, SetLayout, TraceChunk, TraceHeader

_ARROW_INT = {np.int16: pa.int16(), np.int64: pa.int64()}

ARROW_SCHEMA = pa.schema(
    [
        pa.field("step", pa.list_(pa.int64()), nullable=False),
        pa.field("set_bits", pa.list_(pa.uint8()), nullable=False),
        *(pa.field(f"op_{'id' if c == 'op' else c}", pa.list_(_ARROW_INT[OP_DTYPES[c]]), nullable=False)
          for c in OP_COLUMNS),
        pa.field("mask_change_step", pa.list_(pa.int64()), nullable=False),
        pa.field("mask_change_pattern", pa.list_(pa.string()), nullable=False),
        pa.field("mask_change_removed", pa.list_(pa.list_(pa.int64())), nullable=False),
        pa.field("mask_change_added", pa.list_(pa.list_(pa.int64())), nullable=False),
    ]
)
_N_OP = len(OP_COLUMNS)

KEY_SCHEMA = b"rtrl_trace.schema"
KEY_HEADER = b"rtrl_trace.header"
KEY_HEADER_CRC = b"rtrl_trace.header_crc32"
KEY_SEQ = b"rtrl_trace.seq"
KEY_CRC = b"rtrl_trace.crc32"
KEY_END = b"rtrl_trace.end"
ARROW_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # Arrow IPC end-of-stream marker
ARROW_CONTINUATION = b"\xff\xff\xff\xff"  # every Arrow IPC stream message starts with it


class FormatProblem(Exception):
    """Raised inside the codec; the reader adds the file name (``TraceFormatError``)."""


class OldSchema(FormatProblem):
    """A trace of an earlier schema version."""


# ---------------------------------------------------------------- header


def schema_metadata(header: TraceHeader) -> dict[bytes, bytes]:
    header_json = json.dumps(header_to_json(header), sort_keys=True, separators=(",", ":")).encode()
    return {KEY_SCHEMA: header.schema.encode(), KEY_HEADER: header_json,
            KEY_HEADER_CRC: str(zlib.crc32(header_json)).encode()}


def check_header(header: TraceHeader) -> TraceHeader:
    """Check a header before writing it (the rules the reader applies). Raises ``ValueError``."""
    if header.schema != SCHEMA_VERSION:
        raise ValueError(f"this library writes {SCHEMA_VERSION!r} traces, not {header.schema!r}")
    if len(header.ops) > 2**15 - 1:
        raise ValueError("a trace declares at most 32767 ops")
    return validate_header(header)


def decode_schema(schema: pa.Schema) -> TraceHeader:
    meta = schema.metadata or {}
    if KEY_SCHEMA not in meta:
        raise FormatProblem("not an rtrl trace: Arrow stream without rtrl_trace.schema metadata")
    version = meta[KEY_SCHEMA].decode("utf-8", "replace")
    if version in OLD_SCHEMAS:
        raise OldSchema(f"a {version} trace; this version reads {SCHEMA_VERSION} only: record it again "
                        "(accel-sim train ... --trace FILE, or codesign.tracing.record_sequence)")
    if version != SCHEMA_VERSION:
        raise FormatProblem(f"unsupported schema version {version!r} (this reader reads {SCHEMA_VERSION!r})")
    for key in (KEY_HEADER, KEY_HEADER_CRC):
        if key not in meta:
            raise FormatProblem(f"schema metadata lacks {key.decode()}")
    if str(zlib.crc32(meta[KEY_HEADER])).encode() != meta[KEY_HEADER_CRC]:
        raise FormatProblem("header checksum mismatch (corrupt header)")
    if not schema.remove_metadata().equals(ARROW_SCHEMA):
        raise FormatProblem(f"unexpected columns for {SCHEMA_VERSION}: {schema.remove_metadata()}")
    try:
        header_dict = json.loads(meta[KEY_HEADER])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatProblem(f"header is not valid JSON: {exc}") from None
    try:
        header = header_from_json(header_dict)
    except HeaderError as exc:
        raise FormatProblem(f"bad header: {exc}") from None
    except (TypeError, KeyError, AttributeError) as exc:
        raise FormatProblem(f"bad header: malformed ({type(exc).__name__}: {exc})") from None
    if header.schema != version:
        raise FormatProblem(f"header schema {header.schema!r} differs from stream schema {version!r}")
    return header


# ---------------------------------------------------------------- chunks


def chunk_crc32(parts: list[np.ndarray]) -> int:
    """CRC-32 over the raw little-endian bytes of: step ids (int64), set bits (uint8), the op
    columns in :data:`OP_COLUMNS` order with their :data:`OP_DTYPES`, then the mask changes' steps
    (int64), their pattern names (UTF-8, each followed by a 0 byte), removed and added offsets and
    values (int64)."""
    crc = 0
    for part in parts:
        crc = zlib.crc32(np.ascontiguousarray(part).data, crc)
    return crc


def _one_row(values: np.ndarray, type_: pa.DataType | None = None) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.array([0, len(values)], np.int32)), pa.array(values, type=type_))


def _nested_one_row(arrays: list[np.ndarray]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    offsets = np.zeros(len(arrays) + 1, np.int32)
    np.cumsum([a.size for a in arrays], out=offsets[1:])
    values = np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(0, np.int64)
    inner = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
    outer = pa.ListArray.from_arrays(pa.array(np.array([0, len(arrays)], np.int32)), inner)
    return outer, offsets.astype(np.int64), values


def _names_bytes(names: list[str]) -> np.ndarray:
    return np.frombuffer(b"".join(n.encode() + b"\0" for n in names), np.uint8)


def encode_chunk(chunk: TraceChunk, header: TraceHeader) -> tuple[pa.RecordBatch, int]:
    """One chunk -> (one-row record batch, CRC-32). Raises ``ValueError`` for a malformed chunk."""
    missing = [c for c in OP_COLUMNS if c not in chunk.ops]
    if missing:
        raise ValueError(f"trace chunk lacks op columns {missing}")
    cols = [np.ascontiguousarray(chunk.ops[c], OP_DTYPES[c]).reshape(-1) for c in OP_COLUMNS]
    steps = np.ascontiguousarray(chunk.step_ids, np.int64).reshape(-1)
    bits = np.ascontiguousarray(chunk.set_bits, np.uint8).reshape(-1)
    problem = check_chunk(steps, bits, cols, header)
    if problem:
        raise ValueError(f"trace chunk: {problem}")
    mc = chunk.mask_changes
    patterns = [m.pattern for m in mc]
    if any(p not in header.patterns for p in patterns):
        raise ValueError("trace chunk: mask change of an undeclared pattern")
    mc_steps = np.array([m.step for m in mc], np.int64)
    removed, r_off, r_val = _nested_one_row([np.asarray(m.removed, np.int64).reshape(-1) for m in mc])
    added, a_off, a_val = _nested_one_row([np.asarray(m.added, np.int64).reshape(-1) for m in mc])
    crc = chunk_crc32([steps, bits, *cols, mc_steps, _names_bytes(patterns), r_off, r_val, a_off, a_val])
    arrays = [_one_row(steps), _one_row(bits, pa.uint8()), *(_one_row(c) for c in cols),
              _one_row(mc_steps, pa.int64()), _one_row(np.array(patterns, dtype=object), pa.string()), removed, added]
    return pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA), crc


def check_chunk(steps: np.ndarray, bits: np.ndarray, cols: list[np.ndarray], header: TraceHeader) -> str | None:
    """The first rule a chunk's arrays break, or None: lengths, step order, op ids, op steps
    inside the chunk, non-negative counts, no set bits beyond a set's size."""
    layout = SetLayout.of(header)
    if bits.size != steps.size * layout.stride:
        return f"set bits hold {bits.size} bytes, {steps.size} steps need {steps.size * layout.stride}"
    if len({c.size for c in cols}) > 1:
        return "op columns differ in length"
    if steps.size > 1 and np.any(np.diff(steps) <= 0):
        return "step ids are not increasing"
    op_step, op_id, macs, nnz = cols
    if op_step.size:
        if not steps.size:
            return "ops without steps"
        if int(op_id.min()) < 0 or int(op_id.max()) >= len(header.ops):
            return f"op id outside the {len(header.ops)} declared ops"
        if np.any(np.diff(op_step) < 0) or int(op_step[0]) < int(steps[0]) or not np.all(np.isin(op_step, steps)):
            return "op steps out of order or not among the chunk's steps"
        if int(macs.min()) < 0 or int(nnz.min()) < 0:
            return "negative counts"
    if steps.size and layout.stride:
        pad = _padding_mask(layout)
        if np.any(bits.reshape(steps.size, layout.stride) & pad):
            return "index-set bits beyond a set's size"
    return None


def _padding_mask(layout: SetLayout) -> np.ndarray:
    """(stride,) uint8: the bits of each set's last byte that lie beyond its size."""
    pad = np.zeros(layout.stride, np.uint8)
    for name in layout.names:
        size, at = layout.sizes[name], layout.offset[name]
        used = size % 8
        if used:
            pad[at + size // 8] = 0xFF & ~((1 << used) - 1)
    return pad


def empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in ARROW_SCHEMA], schema=ARROW_SCHEMA)


def _numpy(arr: pa.Array) -> np.ndarray:
    if arr.null_count:
        raise FormatProblem("null entries")
    return arr.to_numpy(zero_copy_only=True)


def _flat(col: pa.Array) -> np.ndarray:
    return _numpy(col.flatten())


def _nested(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    inner = col.flatten()
    if inner.null_count:
        raise FormatProblem("null entries")
    offsets = _numpy(inner.offsets).astype(np.int64)
    values = _numpy(inner.values)[offsets[0]:offsets[-1]] if offsets.size else np.zeros(0, np.int64)
    return offsets - (offsets[0] if offsets.size else 0), values


def decode_batch(batch: pa.RecordBatch, crc_text: bytes, header: TraceHeader, layout: SetLayout) -> TraceChunk:
    """One-row record batch -> :class:`TraceChunk`, checking structure, CRC and value ranges.
    Arrays are read-only views of the Arrow buffers. Raises :class:`FormatProblem`."""
    if batch.num_rows != 1:
        raise FormatProblem(f"chunk has {batch.num_rows} rows, expected 1")
    batch.validate(full=True)
    steps = _flat(batch.column(0))
    bits = _flat(batch.column(1))
    cols = [_flat(batch.column(2 + i)) for i in range(_N_OP)]
    mc_steps = _flat(batch.column(2 + _N_OP))
    mc_patterns = batch.column(3 + _N_OP).flatten().to_pylist()
    if any(p is None for p in mc_patterns):
        raise FormatProblem("null entries")
    r_off, r_val = _nested(batch.column(4 + _N_OP))
    a_off, a_val = _nested(batch.column(5 + _N_OP))
    parts = [steps, bits, *cols, mc_steps, _names_bytes(mc_patterns), r_off, r_val, a_off, a_val]
    if str(chunk_crc32(parts)).encode() != crc_text:
        raise FormatProblem("checksum mismatch (corrupt data)")
    problem = check_chunk(steps, bits, cols, header)
    if problem:
        raise FormatProblem(problem)
    changes = []
    for i, (step, name) in enumerate(zip(mc_steps.tolist(), mc_patterns)):
        if name not in header.patterns:
            raise FormatProblem(f"mask change of undeclared pattern {name!r}")
        changes.append(MaskChange(step, name, r_val[r_off[i]:r_off[i + 1]], a_val[a_off[i]:a_off[i + 1]]))
    ops = dict(zip(OP_COLUMNS, cols))
    return TraceChunk(layout, steps, bits.reshape(steps.size, layout.stride), ops, tuple(changes))
