"""Trace files under generated damage: random bytes, truncations, bit flips of valid files and
hand-made Arrow streams with wrong columns, types or metadata. Reading raises
``TraceFormatError`` naming the file; ``trace info`` and ``simulate`` exit 2 with one line; a
well-formed trace with extreme values simulates or exits 2 (never exit 1, never a hang)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import given, strategies as st

from accel_sim.errors import TraceFormatError
from accel_sim.trace import codec
from accel_sim.trace.io import TraceWriter, read_trace, write_trace
from accel_sim.trace.schema import OpRecord
from accel_sim.trace.synthetic import gemm_trace, random_matmul_trace
from tests.hardening.helpers import CONFIGS, assert_bad_input, assert_ok_or_bad_input, cli, examples
from tests.trace.helpers import header as small_header

HEADER = small_header()
CONFIG = CONFIGS / "edge_tiny.yaml"


def write_valid(path, n_steps=5, steps_per_chunk=2, value=64):
    with TraceWriter(path, HEADER, steps_per_chunk=steps_per_chunk) as w:
        for t in range(n_steps):
            w.begin_step(t, {"fired": np.arange(t % 3), "support": np.array([7])})
            w.op(OpRecord(t, 0, nnz=12, macs=value))
            w.op(OpRecord(t, 2, macs=16))
    return path


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    return write_valid(tmp_path_factory.mktemp("t") / "valid.arrows").read_bytes()


def assert_refused(path):
    with pytest.raises((TraceFormatError, IsADirectoryError)) as exc:
        read_trace(path)
    assert str(path) in str(exc.value)
    for argv in (["trace", "info", path], ["simulate", path, "--config", CONFIG, "--fidelity", "L0"]):
        code, _, err = cli(argv)
        assert_bad_input(code, err, path)


@examples(25)
@given(data=st.binary(max_size=600))
def test_random_bytes_are_refused(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("t") / "random.arrows"
    path.write_bytes(data + codec.ARROW_EOS if len(data) % 2 else data)  # half end like a stream
    assert_refused(path)


@examples(25)
@given(cut=st.floats(0.0, 0.999))
def test_truncations_of_a_valid_trace_are_refused(tmp_path_factory, valid_bytes, cut):
    path = tmp_path_factory.mktemp("t") / "cut.arrows"
    path.write_bytes(valid_bytes[: int(cut * len(valid_bytes))])
    assert_refused(path)


@examples(25)
@given(cut=st.floats(0.0, 0.999))
def test_truncations_with_a_forged_end_marker_are_refused(tmp_path_factory, valid_bytes, cut):
    path = tmp_path_factory.mktemp("t") / "cut_eos.arrows"
    path.write_bytes(valid_bytes[: int(cut * len(valid_bytes))] + codec.ARROW_EOS)
    assert_refused(path)


@examples(40)
@given(flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 7)), min_size=1, max_size=4))
def test_bit_flips_are_detected_or_harmless(tmp_path_factory, valid_bytes, flips):
    """A flipped bit either is refused by name, or (flag/padding bits Arrow ignores) the file reads
    back to exactly the original content."""
    data = bytearray(valid_bytes)
    for pos, bit in flips:
        data[int(pos * len(data))] ^= 1 << bit
    path = tmp_path_factory.mktemp("t") / "flip.arrows"
    path.write_bytes(bytes(data))
    try:
        got = read_trace(path)
    except TraceFormatError as exc:
        assert str(path) in str(exc)
        code, _, err = cli(["trace", "info", path])
        assert_bad_input(code, err, path)
        return
    original = read_trace(write_valid(path.with_name("orig.arrows")))
    assert got.header == original.header
    for a, b in zip(got.chunks, original.chunks):
        assert a.records() == b.records()
        assert [(s.step, s.fired.tolist(), s.support.tolist()) for s in a.steps] == \
               [(s.step, s.fired.tolist(), s.support.tolist()) for s in b.steps]


# ------------------------------------------------------------------ hand-made Arrow streams

arrow_types = st.sampled_from([pa.int8(), pa.int32(), pa.int64(), pa.float64(), pa.string(), pa.list_(pa.int64()),
                               pa.list_(pa.int32()), pa.list_(pa.list_(pa.int32())), pa.bool_()])


def _column(type_, n_rows):
    if pa.types.is_list(type_):
        inner = type_.value_type
        values = [[[1]] if pa.types.is_list(inner) else (["x"] if pa.types.is_string(inner) else [1, 2])] * n_rows
    elif pa.types.is_string(type_):
        values = ["x"] * n_rows
    elif pa.types.is_boolean(type_):
        values = [True] * n_rows
    else:
        values = [1] * n_rows
    return pa.array(values, type=type_)


@st.composite
def forged_stream(draw):
    names = list(codec.ARROW_SCHEMA.names)
    mode = draw(st.sampled_from(["retype", "drop", "extra", "rename", "meta"]))
    fields = list(codec.ARROW_SCHEMA)
    if mode == "retype":
        i = draw(st.integers(0, len(fields) - 1))
        new = draw(arrow_types.filter(lambda t: t != fields[i].type))
        fields[i] = pa.field(fields[i].name, new)
    elif mode == "drop":
        del fields[draw(st.integers(0, len(fields) - 1))]
    elif mode == "extra":
        fields.append(pa.field(draw(st.text(min_size=1, max_size=6).filter(lambda s: s not in names)),
                               draw(arrow_types)))
    elif mode == "rename":
        i = draw(st.integers(0, len(fields) - 1))
        fields[i] = pa.field(fields[i].name + "_x", fields[i].type)
    meta = codec.schema_metadata(HEADER)
    if mode == "meta":
        key = draw(st.sampled_from(sorted(meta)))
        choice = draw(st.sampled_from(["drop", "garbage", "json"]))
        if choice == "drop":
            del meta[key]
        elif choice == "garbage":
            meta[key] = draw(st.binary(max_size=20))
        else:
            header = json.loads(meta[codec.KEY_HEADER])
            header[draw(st.sampled_from(sorted(header)))] = draw(
                st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=5), st.lists(st.integers(), max_size=2)))
            meta[codec.KEY_HEADER] = json.dumps(header).encode()
            import zlib
            meta[codec.KEY_HEADER_CRC] = str(zlib.crc32(meta[codec.KEY_HEADER])).encode()
    n_rows = draw(st.integers(0, 2))
    return pa.schema(fields, metadata=meta), n_rows, mode


@examples(40)
@given(forged=forged_stream())
def test_hand_made_arrow_streams_with_wrong_columns_types_or_metadata_are_refused(tmp_path_factory, forged):
    schema, n_rows, mode = forged
    path = tmp_path_factory.mktemp("t") / "forged.arrows"
    batch = pa.RecordBatch.from_arrays([_column(f.type, n_rows) for f in schema], schema=schema)
    with pa.OSFile(str(path), "wb") as sink, ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch, custom_metadata={codec.KEY_SEQ: b"0", codec.KEY_CRC: b"0"})
        writer.write_batch(batch.slice(0, 0), custom_metadata={codec.KEY_END: b"1", b"n_chunks": b"1",
                                                               b"n_steps": b"0", b"n_ops": b"0"})
    if mode == "meta":  # a header value that is still valid (e.g. same type) may pass the header check
        try:
            read_trace(path)
        except TraceFormatError as exc:
            assert str(path) in str(exc)
            return
        pytest.fail("a stream with one-row-per-column forged batches was accepted")
    assert_refused(path)


# ------------------------------------------------------------------ well-formed but extreme

#: dims whose products reach the limits: a tensor holds at most 2^31 elements (MAX_ELEMENTS)
dims = st.one_of(st.integers(1, 64), st.sampled_from([1, 2, 2**10, 2**15, 2**16, 2**20, 2**21, 2**31]))


@examples(25)
@given(m=dims, k=dims, n=dims, sparse=st.booleans(), fidelity=st.sampled_from(["L0", "L1", "L2"]))
def test_extreme_but_well_formed_traces_simulate_or_exit_2(tmp_path_factory, m, k, n, sparse, fidelity):
    """Products at the size limits simulate with finite, non-negative numbers; tensors beyond them
    are refused when the trace is written."""
    path = tmp_path_factory.mktemp("t") / "extreme.arrows"
    small = m * k <= 4096 and k * n <= 4096
    try:
        trace = random_matmul_trace(m, k, n, 0.3, 0.5, seed=1) if sparse and small else gemm_trace(m, k, n)
        write_trace(path, *trace)
    except ValueError as exc:  # InputError from the builder, or the writer's header check
        assert m * k > 2**31 or k * n > 2**31 or m * n > 2**31, exc
        assert "2147483648" in str(exc)
        return
    code, out, err = cli(["simulate", path, "--config", CONFIG, "--fidelity", fidelity, "--json"])
    assert_ok_or_bad_input(code, err, path)
    if code == 0:
        result = json.loads(out)  # strict JSON: no NaN / Infinity tokens
        assert "NaN" not in out and "Infinity" not in out
        assert result["cycles"] >= result["compute_cycles"] >= 0
        assert result["compute_cycles"] > 0 or result["workload"]["effective_macs"] == 0
