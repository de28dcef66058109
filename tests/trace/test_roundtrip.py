"""Writing then reading a trace gives back exactly what was recorded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accel_sim.errors import TraceFormatError
from accel_sim.trace.io import TraceReader, TraceWriter, read_trace, write_trace
from accel_sim.trace.schema import (
    LABELS, OP_KINDS, TENSORS, Label, ListRecorder, OpKind, OpRecord, Tensor, TraceChunk, TraceHeader,
)

N_HIDDEN = 12


def header(**changes) -> TraceHeader:
    base = TraceHeader(method="sparse_rtrl", n_in=3, n_hidden=N_HIDDEN, n_out=2, dtype="float32",
                       weight_density=0.1, seed=7, n_influence_columns=99,
                       mask_nnz_per_row={"R_u": [1, 2, 0]}, provenance={"config": '{"a": 1}'})
    return dataclasses.replace(base, **changes)


counts = st.integers(0, 2**40)
byte_dicts = st.dictionaries(st.sampled_from(TENSORS), st.integers(1, 2**40), max_size=4)
unit_sets = st.lists(st.integers(0, N_HIDDEN - 1), unique=True, max_size=N_HIDDEN).map(
    lambda v: np.array(sorted(v), np.int32))


@st.composite
def op_records(draw, step: int) -> OpRecord:
    return OpRecord(step=step, kind=draw(st.sampled_from(OP_KINDS)), label=draw(st.sampled_from(LABELS)),
                    m=draw(counts), k=draw(counts), n=draw(counts), nnz=draw(counts), macs=draw(counts),
                    index_count=draw(counts), bytes_read=draw(byte_dicts), bytes_written=draw(byte_dicts))


@st.composite
def recordings(draw):
    """A list of steps: (step id, fired, support, ops recorded in that step)."""
    steps = []
    for t in range(draw(st.integers(1, 12))):
        ops = draw(st.lists(op_records(t), max_size=6))
        steps.append((t, draw(unit_sets), draw(unit_sets), ops))
    return steps


def replay(steps, recorder) -> None:
    for t, fired, support, ops in steps:
        recorder.begin_step(t, fired, support)
        for rec in ops:
            recorder.op(rec)
        recorder.end_step()


def read_back(path):
    trace = read_trace(path)
    steps = [s for c in trace.chunks for s in c.steps]
    ops = [r for c in trace.chunks for r in c.records()]
    return trace.header, steps, ops


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=recordings(), steps_per_chunk=st.integers(1, 5))
def test_recorded_steps_round_trip_exactly(tmp_path, steps, steps_per_chunk):
    path = tmp_path / "t.arrows"
    expected = ListRecorder()
    replay(steps, expected)
    with TraceWriter(path, header(), steps_per_chunk=steps_per_chunk) as writer:
        replay(steps, writer)
    got_header, got_steps, got_ops = read_back(path)
    assert got_header == header()
    assert got_ops == expected.ops
    assert [s.step for s in got_steps] == [s.step for s in expected.steps]
    for got, exp in zip(got_steps, expected.steps):
        np.testing.assert_array_equal(got.fired, exp.fired)
        np.testing.assert_array_equal(got.support, exp.support)
    n_chunks = len(read_trace(path).chunks)
    assert n_chunks == -(-len(steps) // steps_per_chunk)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=recordings(), compression=st.sampled_from([None, "zstd", "lz4"]))
def test_write_trace_of_chunks_round_trips(tmp_path, steps, compression):
    path = tmp_path / "c.arrows"
    rec = ListRecorder()
    replay(steps, rec)
    half = len(rec.steps) // 2
    chunks = [TraceChunk.from_records(rec.steps[:half], [r for r in rec.ops if r.step < half]),
              TraceChunk.from_records(rec.steps[half:], [r for r in rec.ops if r.step >= half])]
    write_trace(path, header(), chunks, compression=compression)
    back = read_trace(path)
    assert len(back.chunks) == 2
    for got, exp in zip(back.chunks, chunks):
        assert set(got.ops) == set(exp.ops)
        for col in exp.ops:
            np.testing.assert_array_equal(got.ops[col], exp.ops[col], err_msg=col)
            assert got.ops[col].dtype == exp.ops[col].dtype


def test_enum_keys_and_trainer_ops_after_end_step(tmp_path):
    path = tmp_path / "e.arrows"
    with TraceWriter(path, header(), steps_per_chunk=1) as w:
        for t in range(3):
            w.begin_step(t, np.array([1, 2]), np.array([5]))
            w.op(OpRecord(t, OpKind.GEMM, Label.READOUT, 2, 12, 1, macs=24, bytes_read={Tensor.WEIGHTS: 96}))
            w.end_step()
            w.op(OpRecord(t, "elementwise", "weight_update", macs=5, bytes_written={"weights": 20}))
    _, steps, ops = read_back(path)
    assert [s.step for s in steps] == [0, 1, 2]
    assert [(r.step, r.label) for r in ops] == [(t, lbl) for t in range(3) for lbl in ("readout", "weight_update")]
    assert ops[0].bytes_read == {"weights": 96} and ops[1].bytes_written == {"weights": 20}


def test_crashed_writer_leaves_only_a_partial_file_that_readers_reject(tmp_path):
    path = tmp_path / "run.arrows"
    with pytest.raises(RuntimeError):
        with TraceWriter(path, header(), steps_per_chunk=1) as w:
            for t in range(4):
                w.begin_step(t, np.array([0]), np.array([0]))
                w.op(OpRecord(t, "gemm", "readout", macs=1))
                w.end_step()
            raise RuntimeError("learner crashed")
    assert not path.exists()
    partial = tmp_path / "run.arrows.partial"
    assert partial.exists()
    with pytest.raises(TraceFormatError, match="run.arrows.partial: truncated or unfinished"):
        TraceReader(partial)


def test_reader_can_iterate_twice_and_reports_totals(tmp_path):
    path = tmp_path / "r.arrows"
    with TraceWriter(path, header(), steps_per_chunk=2) as w:
        for t in range(5):
            w.begin_step(t, np.zeros(0), np.zeros(0))
            w.op(OpRecord(t, "scatter", "immediate_scatter", nnz=3, macs=3, index_count=6))
    reader = TraceReader(path)
    first = [c.n_ops for c in reader.chunks()]
    second = [c.n_ops for c in reader.chunks()]
    assert first == second == [2, 2, 1]
    assert reader.totals == (3, 5, 5)


@pytest.mark.parametrize(
    "bad, match",
    [({"method": "magic"}, "method"), ({"n_hidden": -1}, "n_hidden"), ({"weight_density": 1.5}, "weight_density"),
     ({"mask_nnz_per_row": {"R_u": [-1]}}, "mask_nnz_per_row"), ({"provenance": {"a": 1}}, "provenance"),
     ({"schema": "rtrl-trace/2"}, "rtrl-trace/2")],
)
def test_writer_refuses_bad_headers(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        TraceWriter(tmp_path / "h.arrows", header(**bad))


def test_writer_refuses_bad_records(tmp_path):
    with TraceWriter(tmp_path / "b.arrows", header()) as w:
        with pytest.raises(ValueError, match="before the first begin_step"):
            w.op(OpRecord(0, "gemm", "readout"))
        w.begin_step(0, [], [])
        with pytest.raises(ValueError, match="unknown"):
            w.op(OpRecord(0, "gemm", "not_a_label"))
        with pytest.raises(ValueError, match="unknown"):
            w.op(OpRecord(0, "gemm", "readout", bytes_read={"cache": 3}))


@given(st.lists(st.tuples(unit_sets, unit_sets, st.lists(op_records(0), max_size=6)), min_size=1, max_size=5))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
def test_op_rows_write_what_op_writes(tmp_path, steps):
    """Rows (op_row of each record) handed over at once give the file that one op() per record gives,
    and rows_to_records inverts op_row."""
    from accel_sim.trace.schema import op_row, record_rows, rows_to_records

    paths = [tmp_path / "by_op.arrows", tmp_path / "by_rows.arrows"]
    for path, by_rows in zip(paths, (False, True)):
        with TraceWriter(path, header()) as w:
            for t, (fired, support, records) in enumerate(steps):
                records = [dataclasses.replace(r, step=t) for r in records]
                w.begin_step(t, fired, support)
                if by_rows and records:
                    rows = np.array([op_row(r) for r in records], np.int64)
                    assert rows_to_records(rows) == records
                    record_rows(w, rows)
                else:
                    for r in records:
                        w.op(r)
                w.end_step()
    a, b = (read_trace(p) for p in paths)
    assert [r for c in a.chunks for r in c.records()] == [r for c in b.chunks for r in c.records()]
    assert [s.step for c in a.chunks for s in c.steps] == [s.step for c in b.chunks for s in c.steps]


def test_bad_op_rows_are_refused(tmp_path):
    from accel_sim.trace.schema import OP_COLUMNS, record_rows

    with TraceWriter(tmp_path / "t.arrows", header()) as w:
        with pytest.raises(ValueError, match="before the first begin_step"):
            w.op_rows(np.zeros((1, len(OP_COLUMNS)), np.int64))
        w.begin_step(0, [], [])
        with pytest.raises(ValueError, match="shape"):
            w.op_rows(np.zeros((1, 3), np.int64))
        bad = np.zeros((1, len(OP_COLUMNS)), np.int64)
        bad[0, 1] = len(OP_KINDS)  # no such kind
        w.op_rows(bad)
        with pytest.raises(ValueError, match="kind or label"):
            w.flush()
        w.abort()

    class OpsOnly:  # a recorder without op_rows gets one op() per row
        def __init__(self):
            self.ops = []

        def op(self, record):
            self.ops.append(record)

    rec = OpsOnly()
    record_rows(rec, np.zeros((2, len(OP_COLUMNS)), np.int64))
    assert [r.kind for r in rec.ops] == [OP_KINDS[0], OP_KINDS[0]]
