"""The on-disk trace format: Apache Arrow IPC stream layout, header encoding and integrity checks.

Used by both :mod:`accel_sim.trace.io` writer and reader, so the format exists once. The layout
(documented for people writing their own traces in ``traces/README.md``):

* Arrow **schema metadata**: ``rtrl_trace.schema`` (= ``SCHEMA_VERSION``), ``rtrl_trace.header``
  (TraceHeader as JSON), ``rtrl_trace.vocab`` (JSON ``{"op_kinds": [...], "labels": [...]}``, the
  names the int8 codes index) and ``rtrl_trace.header_crc32`` (CRC-32 of header JSON + vocab JSON).
* One **record batch per chunk**, with exactly one row: ``step`` list<int64> (one per step),
  ``fired`` / ``support`` list<list<int32>> (active sets per step), and one list column per op
  field, ``op_<name>`` for every name in :data:`OP_COLUMNS` (all the same length, one per op).
  Batch metadata: ``rtrl_trace.seq`` (chunk number from 0) and ``rtrl_trace.crc32`` (see
  :func:`chunk_crc32`).
* A final **trailer**: a zero-row batch whose metadata holds ``rtrl_trace.end`` = ``"1"`` and the
  totals ``n_chunks``, ``n_steps``, ``n_ops``. A stream without it is unfinished or truncated.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from typing import Any

import numpy as np
import pyarrow as pa

from accel_sim.trace.schema import (
    COUNT_COLUMNS,
    LABELS,
    METHODS,
    OP_COLUMNS,
    OP_DTYPES,
    OP_KINDS,
    READ_COLUMNS,
    SCHEMA_VERSION,
    WRITE_COLUMNS,
    StepRecord,
    TraceChunk,
    TraceHeader,
)

_ARROW_INT = {np.int8: pa.int8(), np.int64: pa.int64()}

ARROW_SCHEMA = pa.schema(
    [
        pa.field("step", pa.list_(pa.int64()), nullable=False),
        pa.field("fired", pa.list_(pa.list_(pa.int32())), nullable=False),
        pa.field("support", pa.list_(pa.list_(pa.int32())), nullable=False),
        *(pa.field(f"op_{c}", pa.list_(_ARROW_INT[OP_DTYPES[c]]), nullable=False) for c in OP_COLUMNS),
    ]
)

KEY_SCHEMA = b"rtrl_trace.schema"
KEY_HEADER = b"rtrl_trace.header"
KEY_VOCAB = b"rtrl_trace.vocab"
KEY_HEADER_CRC = b"rtrl_trace.header_crc32"
KEY_SEQ = b"rtrl_trace.seq"
KEY_CRC = b"rtrl_trace.crc32"
KEY_END = b"rtrl_trace.end"
ARROW_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # Arrow IPC end-of-stream marker


class FormatProblem(Exception):
    """Raised inside the codec; the reader adds the file name (``TraceFormatError``)."""


# ---------------------------------------------------------------- header


def _check_header_dict(d: Any) -> TraceHeader:
    if not isinstance(d, dict):
        raise FormatProblem("header is not a JSON object")
    names = [f.name for f in dataclasses.fields(TraceHeader)]
    missing = [n for n in names if n not in d]
    unknown = [n for n in d if n not in names]
    if missing or unknown:
        raise FormatProblem(f"header fields: missing {missing}, unknown {unknown}")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    problems = []
    if d["method"] not in METHODS:
        problems.append(f"method {d['method']!r} not one of {list(METHODS)}")
    for name in ("n_in", "n_hidden", "n_out", "n_influence_columns"):
        if not is_int(d[name]) or d[name] < 0:
            problems.append(f"{name} must be a non-negative integer, got {d[name]!r}")
    if not is_int(d["seed"]):
        problems.append(f"seed must be an integer, got {d['seed']!r}")
    if not isinstance(d["dtype"], str):
        problems.append(f"dtype must be a string, got {d['dtype']!r}")
    wd = d["weight_density"]
    if not isinstance(wd, (int, float)) or isinstance(wd, bool) or not 0.0 <= wd <= 1.0:
        problems.append(f"weight_density must be a number in [0, 1], got {wd!r}")
    masks = d["mask_nnz_per_row"]
    if not isinstance(masks, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(is_int(x) and x >= 0 for x in v) for k, v in masks.items()
    ):
        problems.append("mask_nnz_per_row must map names to lists of non-negative integers")
    prov = d["provenance"]
    if not isinstance(prov, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in prov.items()):
        problems.append("provenance must map strings to strings")
    if problems:
        raise FormatProblem("bad header: " + "; ".join(problems))
    return TraceHeader(**{**d, "weight_density": float(wd)})


def validate_header(header: TraceHeader) -> TraceHeader:
    """Check a header before writing it (same rules the reader applies). Raises ``ValueError``."""
    if header.schema != SCHEMA_VERSION:
        raise ValueError(f"this library writes {SCHEMA_VERSION!r} traces, not {header.schema!r}")
    try:
        return _check_header_dict(dataclasses.asdict(header))
    except FormatProblem as exc:
        raise ValueError(str(exc)) from None


def schema_metadata(header: TraceHeader) -> dict[bytes, bytes]:
    header_json = json.dumps(dataclasses.asdict(header), sort_keys=True).encode()
    vocab_json = json.dumps({"op_kinds": list(OP_KINDS), "labels": list(LABELS)}).encode()
    return {
        KEY_SCHEMA: header.schema.encode(),
        KEY_HEADER: header_json,
        KEY_VOCAB: vocab_json,
        KEY_HEADER_CRC: str(zlib.crc32(vocab_json, zlib.crc32(header_json))).encode(),
    }


@dataclasses.dataclass(frozen=True)
class DecodedSchema:
    """What the stream's schema message says: the header and the code remapping tables
    (file int8 code -> this library's code) for op kinds and labels."""

    header: TraceHeader
    kind_map: np.ndarray
    label_map: np.ndarray


def _code_map(names: Any, ours: tuple[str, ...], what: str) -> np.ndarray:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) > 127:
        raise FormatProblem(f"vocabulary of {what} is not a list of names")
    unknown = [n for n in names if n not in ours]
    if unknown:
        raise FormatProblem(f"unknown {what} {unknown} (this reader knows {list(ours)})")
    return np.array([ours.index(n) for n in names], np.int8)


def decode_schema(schema: pa.Schema) -> DecodedSchema:
    meta = schema.metadata or {}
    if KEY_SCHEMA not in meta:
        raise FormatProblem("not an rtrl trace: Arrow stream without rtrl_trace.schema metadata")
    version = meta[KEY_SCHEMA].decode("utf-8", "replace")
    if version != SCHEMA_VERSION:
        raise FormatProblem(f"unsupported schema version {version!r} (this reader reads {SCHEMA_VERSION!r})")
    for key in (KEY_HEADER, KEY_VOCAB, KEY_HEADER_CRC):
        if key not in meta:
            raise FormatProblem(f"schema metadata lacks {key.decode()}")
    crc = zlib.crc32(meta[KEY_VOCAB], zlib.crc32(meta[KEY_HEADER]))
    if str(crc).encode() != meta[KEY_HEADER_CRC]:
        raise FormatProblem("header checksum mismatch (corrupt header)")
    if not schema.remove_metadata().equals(ARROW_SCHEMA):
        raise FormatProblem(f"unexpected columns for {SCHEMA_VERSION}: {schema.remove_metadata()}")
    try:
        header_dict, vocab = json.loads(meta[KEY_HEADER]), json.loads(meta[KEY_VOCAB])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatProblem(f"header is not valid JSON: {exc}") from None
    header = _check_header_dict(header_dict)
    if header.schema != version:
        raise FormatProblem(f"header schema {header.schema!r} differs from stream schema {version!r}")
    if not isinstance(vocab, dict):
        raise FormatProblem("vocabulary is not a JSON object")
    return DecodedSchema(
        header, _code_map(vocab.get("op_kinds"), OP_KINDS, "op kinds"), _code_map(vocab.get("labels"), LABELS, "labels")
    )


# ---------------------------------------------------------------- chunks


def chunk_crc32(parts: list[np.ndarray]) -> int:
    """CRC-32 over the raw little-endian bytes of: step ids (int64), fired offsets and values,
    support offsets and values (int32; offsets start at 0, one more than steps), then every op
    column in :data:`OP_COLUMNS` order with its :data:`OP_DTYPES` dtype."""
    crc = 0
    for part in parts:
        crc = zlib.crc32(np.ascontiguousarray(part).data, crc)
    return crc


def _sets(steps: list[StepRecord], attr: str) -> tuple[np.ndarray, np.ndarray]:
    arrays = [np.asarray(getattr(s, attr), np.int32).reshape(-1) for s in steps]
    offsets = np.zeros(len(arrays) + 1, np.int32)
    np.cumsum([a.size for a in arrays], out=offsets[1:])
    values = np.concatenate(arrays) if arrays else np.zeros(0, np.int32)
    return offsets, values


def _one_row(values: np.ndarray) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.array([0, values.size], np.int32)), pa.array(values))


def _nested_one_row(offsets: np.ndarray, values: np.ndarray) -> pa.Array:
    inner = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
    return pa.ListArray.from_arrays(pa.array(np.array([0, offsets.size - 1], np.int32)), inner)


def encode_chunk(chunk: TraceChunk) -> tuple[pa.RecordBatch, int]:
    """One chunk -> (one-row record batch, CRC-32). Raises ``ValueError`` for a malformed chunk."""
    missing = [c for c in OP_COLUMNS if c not in chunk.ops]
    if missing:
        raise ValueError(f"trace chunk lacks op columns {missing}")
    cols = [np.ascontiguousarray(chunk.ops[c], OP_DTYPES[c]).reshape(-1) for c in OP_COLUMNS]
    if len({c.size for c in cols}) > 1:
        raise ValueError("trace chunk op columns differ in length")
    if cols[0].size and min(int(c.min()) for c in cols[3:]) < 0:
        raise ValueError("trace chunk has negative counts or bytes")
    if cols[0].size and (int(cols[1].max()) >= len(OP_KINDS) or int(cols[2].max()) >= len(LABELS)):
        raise ValueError("trace chunk has op kind or label codes out of range")
    steps = np.array([s.step for s in chunk.steps], np.int64)
    f_off, f_val = _sets(chunk.steps, "fired")
    s_off, s_val = _sets(chunk.steps, "support")
    crc = chunk_crc32([steps, f_off, f_val, s_off, s_val, *cols])
    arrays = [_one_row(steps), _nested_one_row(f_off, f_val), _nested_one_row(s_off, s_val)]
    arrays += [_one_row(c) for c in cols]
    return pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA), crc


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
    offsets = _numpy(inner.offsets)
    values = _numpy(inner.values)[offsets[0] : offsets[-1]]
    return (offsets - offsets[0]).astype(np.int32, copy=False), values


def decode_batch(batch: pa.RecordBatch, crc_text: bytes, schema: DecodedSchema) -> TraceChunk:
    """One-row record batch -> :class:`TraceChunk`, checking structure, CRC and value ranges.
    Arrays are read-only views of the Arrow buffers. Raises :class:`FormatProblem`."""
    if batch.num_rows != 1:
        raise FormatProblem(f"chunk has {batch.num_rows} rows, expected 1")
    batch.validate(full=True)
    steps = _flat(batch.column(0))
    f_off, f_val = _nested(batch.column(1))
    s_off, s_val = _nested(batch.column(2))
    cols = [_flat(batch.column(3 + i)) for i in range(len(OP_COLUMNS))]
    if str(chunk_crc32([steps, f_off, f_val, s_off, s_val, *cols])).encode() != crc_text:
        raise FormatProblem("checksum mismatch (corrupt data)")
    if not (f_off.size == s_off.size == steps.size + 1) or len({c.size for c in cols}) > 1:
        raise FormatProblem("inconsistent column lengths")
    n_hidden = schema.header.n_hidden
    for values in (f_val, s_val):
        if values.size and (int(values.min()) < 0 or int(values.max()) >= n_hidden):
            raise FormatProblem(f"active-set index outside [0, {n_hidden})")
    ops = dict(zip(OP_COLUMNS, cols))
    if cols[0].size:
        for name, table in (("kind", schema.kind_map), ("label", schema.label_map)):
            codes = ops[name]
            if int(codes.min()) < 0 or int(codes.max()) >= table.size:
                raise FormatProblem(f"op {name} code out of range")
            if not np.array_equal(table, np.arange(table.size)):
                ops[name] = table[codes]
        if min(int(c.min()) for c in cols[3:]) < 0:
            raise FormatProblem("negative counts or bytes")
    ids, fo, so = steps.tolist(), f_off.tolist(), s_off.tolist()  # python ints: fast slicing
    step_records = [StepRecord(ids[i], f_val[fo[i] : fo[i + 1]], s_val[so[i] : so[i + 1]]) for i in range(len(ids))]
    return TraceChunk(steps=step_records, ops=ops)
