"""Damaged trace files are refused with a message naming the file and the problem, and
``accel-sim trace info`` turns that into exit code 2 with one line on stderr."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from accel_sim.errors import TraceFormatError
from accel_sim.trace import codec
from accel_sim.trace.io import TraceWriter, read_trace
from accel_sim.trace.schema import OpRecord
from codesign.cli import main

from .helpers import header as small_header


def make_trace(path, n_steps=6, steps_per_chunk=2):
    with TraceWriter(path, small_header(), steps_per_chunk=steps_per_chunk) as w:
        for t in range(n_steps):
            w.begin_step(t, {"fired": np.arange(t % 8), "support": np.array([7])})
            w.op(OpRecord(t, 0, macs=2560 + t))
            w.op(OpRecord(t, 1, macs=16))
    return path


def content(trace):
    steps = [(s.step, s.fired.tolist(), s.support.tolist()) for c in trace.chunks for s in c.steps]
    return trace.header, steps, [r for c in trace.chunks for r in c.records()]


def info_exit(path, capsys):
    code = main(["trace", "info", str(path)])
    err = capsys.readouterr().err
    return code, err


def assert_refused(path, capsys, problem):
    with pytest.raises(TraceFormatError) as exc:
        read_trace(path)
    assert str(path) in str(exc.value) and problem in str(exc.value)
    code, err = info_exit(path, capsys)
    assert code == 2
    assert err.count("\n") == 1 and str(path) in err and problem in err and "Traceback" not in err


def test_good_file_passes_info(tmp_path, capsys):
    path = make_trace(tmp_path / "good.arrows")
    assert main(["trace", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "steps 6, ops 12, chunks 3" in out


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.arrows"
    path.write_bytes(b"")
    assert_refused(path, capsys, "empty file")


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.8, 0.97, -1])
def test_truncated_file(tmp_path, capsys, keep):
    data = make_trace(tmp_path / "full.arrows").read_bytes()
    path = tmp_path / "cut.arrows"
    path.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[:-1])
    assert_refused(path, capsys, "truncated")


def test_truncated_at_every_chunk_boundary_with_an_end_of_stream_marker(tmp_path, capsys):
    """A stream cut after a whole chunk and closed properly still lacks the trailer."""
    src = read_trace(make_trace(tmp_path / "full.arrows"))
    path = tmp_path / "cut.arrows"
    schema = codec.ARROW_SCHEMA.with_metadata(codec.schema_metadata(src.header))
    with open(path, "wb") as fh, ipc.new_stream(fh, schema) as stream:
        batch, crc = codec.encode_chunk(src.chunks[0], src.header)
        stream.write_batch(batch, custom_metadata={codec.KEY_SEQ: b"0", codec.KEY_CRC: str(crc).encode()})
    assert_refused(path, capsys, "truncated or unfinished: stream ends after 1 chunks")


def test_single_bit_flip_in_data_is_detected(tmp_path, capsys):
    path = make_trace(tmp_path / "f.arrows", n_steps=3, steps_per_chunk=3)
    # rewrite uncompressed, then flip a bit of the int64 MAC count 2561 (step 1's update)
    uncompressed = tmp_path / "u.arrows"
    header = read_trace(path).header
    with TraceWriter(uncompressed, header, compression=None) as w:
        for chunk in read_trace(path).chunks:
            w.write_chunk(chunk)
    data = bytearray(uncompressed.read_bytes())
    pos = bytes(data).find(np.int64(2561).tobytes())
    assert pos > 0
    data[pos] ^= 0x04
    flipped = tmp_path / "flipped.arrows"
    flipped.write_bytes(bytes(data))
    assert_refused(flipped, capsys, "checksum mismatch")


def test_every_sampled_bit_flip_is_detected_or_harmless(tmp_path):
    """Flipping one bit anywhere (headers, framing, compressed bodies, trailer) either raises
    TraceFormatError or leaves the decoded content identical (padding, unused bytes)."""
    path = make_trace(tmp_path / "f.arrows", n_steps=4, steps_per_chunk=2)
    data = path.read_bytes()
    good = content(read_trace(path))
    rng = np.random.default_rng(0)
    flipped = tmp_path / "x.arrows"
    detected = 0
    for pos in rng.choice(len(data), size=400, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(8))
        flipped.write_bytes(bytes(bad))
        try:
            assert content(read_trace(flipped)) == good, f"undetected change at byte {pos}"
        except TraceFormatError as exc:
            assert str(flipped) in str(exc)
            detected += 1
    assert detected > 100


def test_wrong_schema_version(tmp_path, capsys):
    src = read_trace(make_trace(tmp_path / "full.arrows"))
    path = tmp_path / "v3.arrows"
    meta = codec.schema_metadata(src.header)
    meta[codec.KEY_SCHEMA] = b"rtrl-trace/3"
    with open(path, "wb") as fh, ipc.new_stream(fh, codec.ARROW_SCHEMA.with_metadata(meta)) as stream:
        stream.write_batch(codec.empty_batch(), custom_metadata={codec.KEY_END: b"1"})
    assert_refused(path, capsys, "unsupported schema version 'rtrl-trace/3'")


def test_version_1_trace_says_how_to_get_a_version_2_one(tmp_path, capsys):
    """A file of the old layout (its own columns and header) is refused by its version alone."""
    path = tmp_path / "old.arrows"
    schema = pa.schema([pa.field("step", pa.list_(pa.int64()))]).with_metadata(
        {codec.KEY_SCHEMA: b"rtrl-trace/1", codec.KEY_HEADER: b"{}"})
    with open(path, "wb") as fh, ipc.new_stream(fh, schema) as stream:
        stream.write_batch(pa.RecordBatch.from_arrays([pa.array([[0]])], schema=schema))
    assert_refused(path, capsys, "a rtrl-trace/1 trace; this version reads rtrl-trace/2 only: record it again")


def test_arrow_stream_that_is_not_a_trace(tmp_path, capsys):
    path = tmp_path / "other.arrows"
    table = pa.table({"x": [1, 2, 3]})
    with open(path, "wb") as fh, ipc.new_stream(fh, table.schema) as stream:
        stream.write_table(table)
    assert_refused(path, capsys, "not an rtrl trace")


def test_text_file_ending_like_a_stream(tmp_path, capsys):
    path = tmp_path / "junk.arrows"
    path.write_bytes(b"hello, I am not a trace" + codec.ARROW_EOS)
    assert_refused(path, capsys, "not a trace file")


@pytest.mark.parametrize("content", [b"schema: accel-sim/hw/1\nname: x\n", bytes(range(256)) * 4, b"\xff\xff\xff"])
def test_yaml_or_random_bytes_are_not_a_trace_file(tmp_path, capsys, content):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    assert_refused(path, capsys, "not a trace file")


def test_a_chunk_that_breaks_the_rules_is_refused_even_with_a_valid_checksum(tmp_path, capsys):
    """Ops whose step is not one of the chunk's steps: the CRC matches, the rules do not."""
    src = read_trace(make_trace(tmp_path / "full.arrows"))
    chunk = src.chunks[0]
    bad_ops = dict(chunk.ops, step=chunk.ops["step"] + 100)
    path = tmp_path / "bad.arrows"
    schema = codec.ARROW_SCHEMA.with_metadata(codec.schema_metadata(src.header))
    good = codec.encode_chunk(chunk, src.header)[0]
    arrays = list(good.columns)
    arrays[2] = pa.ListArray.from_arrays(pa.array(np.array([0, bad_ops["step"].size], np.int32)), pa.array(bad_ops["step"]))
    batch = pa.RecordBatch.from_arrays(arrays, schema=codec.ARROW_SCHEMA)
    parts = [chunk.step_ids, chunk.set_bits.reshape(-1), bad_ops["step"], chunk.ops["op"], chunk.ops["macs"],
             chunk.ops["nnz"], np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(1, np.int64), np.zeros(0, np.int64),
             np.zeros(1, np.int64), np.zeros(0, np.int64)]
    with open(path, "wb") as fh, ipc.new_stream(fh, schema) as stream:
        stream.write_batch(batch, custom_metadata={codec.KEY_SEQ: b"0",
                                                   codec.KEY_CRC: str(codec.chunk_crc32(parts)).encode()})
        stream.write_batch(codec.empty_batch(), custom_metadata={codec.KEY_END: b"1", b"n_chunks": b"1",
                                                                 b"n_steps": b"2", b"n_ops": b"4"})
    assert_refused(path, capsys, "op steps out of order or not among the chunk's steps")


def test_data_after_the_trailer(tmp_path, capsys):
    src = read_trace(make_trace(tmp_path / "full.arrows"))
    path = tmp_path / "extra.arrows"
    schema = codec.ARROW_SCHEMA.with_metadata(codec.schema_metadata(src.header))
    with open(path, "wb") as fh, ipc.new_stream(fh, schema) as stream:
        stream.write_batch(codec.empty_batch(), custom_metadata={codec.KEY_END: b"1", b"n_chunks": b"0",
                                                                 b"n_steps": b"0", b"n_ops": b"0"})
        batch, crc = codec.encode_chunk(src.chunks[0], src.header)
        stream.write_batch(batch, custom_metadata={codec.KEY_SEQ: b"0", codec.KEY_CRC: str(crc).encode()})
    assert_refused(path, capsys, "data after the end-of-trace record")


def test_missing_file_is_exit_2(tmp_path, capsys):
    code, err = info_exit(tmp_path / "nope.arrows", capsys)
    assert code == 2 and "nope.arrows" in err
