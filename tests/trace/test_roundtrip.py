"""Writing then reading a trace gives back exactly what was recorded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accel_sim.errors import TraceFormatError
from accel_sim.trace.header import Pattern
from accel_sim.trace.io import TraceReader, TraceWriter, read_trace, write_trace
from accel_sim.trace.schema import OP_COLUMNS, ListRecorder, OpRecord, SetLayout, TraceChunk, op_row, record_rows, rows_to_records

from .helpers import N_HIDDEN, N_OPS, header

counts = st.integers(0, 2**40)
unit_sets = st.lists(st.integers(0, N_HIDDEN - 1), unique=True, max_size=N_HIDDEN).map(
    lambda v: np.array(sorted(v), np.int32))


@st.composite
def op_records(draw, step: int) -> OpRecord:
    return OpRecord(step=step, op=draw(st.integers(0, N_OPS - 1)), macs=draw(counts), nnz=draw(counts))


@st.composite
def recordings(draw):
    """A list of steps: (step id, fired, support, ops recorded in that step); step ids increase."""
    steps, t = [], 0
    for _ in range(draw(st.integers(1, 12))):
        t += draw(st.integers(1, 3))
        ops = draw(st.lists(op_records(t), max_size=6))
        steps.append((t, draw(unit_sets), draw(unit_sets), ops))
    return steps


def replay(steps, recorder) -> None:
    for t, fired, support, ops in steps:
        recorder.begin_step(t, {"fired": fired, "support": support})
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
    layout = SetLayout.of(header())
    half = len(rec.steps) // 2
    cut = rec.steps[half].step if half < len(rec.steps) else None
    chunks = [TraceChunk.from_records(layout, rec.steps[:half], [r for r in rec.ops if cut is None or r.step < cut]),
              TraceChunk.from_records(layout, rec.steps[half:], [r for r in rec.ops if cut is not None and r.step >= cut])]
    write_trace(path, header(), chunks, compression=compression)
    back = read_trace(path)
    assert len(back.chunks) == 2
    for got, exp in zip(back.chunks, chunks):
        np.testing.assert_array_equal(got.step_ids, exp.step_ids)
        np.testing.assert_array_equal(got.set_bits, exp.set_bits)
        assert set(got.ops) == set(exp.ops)
        for col in exp.ops:
            np.testing.assert_array_equal(got.ops[col], exp.ops[col], err_msg=col)
            assert got.ops[col].dtype == exp.ops[col].dtype


def test_ops_by_name_and_trainer_ops_after_end_step(tmp_path):
    path = tmp_path / "e.arrows"
    with TraceWriter(path, header(), steps_per_chunk=1) as w:
        for t in range(3):
            w.begin_step(t, {"fired": np.array([1, 2]), "support": np.array([5])})
            w.op(OpRecord(t, "product", macs=24))
            w.end_step()
            w.op(OpRecord(t, 2, macs=5))  # recorded after end_step: still this step
    _, steps, ops = read_back(path)
    assert [s.step for s in steps] == [0, 1, 2]
    assert [(r.step, r.op, r.macs) for r in ops] == [(t, op, m) for t in range(3) for op, m in ((0, 24), (2, 5))]


def test_sets_given_as_masks_equal_sets_given_as_indices(tmp_path):
    fired = np.zeros(N_HIDDEN, bool)
    fired[[0, 3, 11]] = True
    for i, sets in enumerate(({"fired": fired}, {"fired": np.array([11, 0, 3])})):
        with TraceWriter(tmp_path / f"{i}.arrows", header()) as w:
            w.begin_step(0, sets)
    a, b = (read_trace(tmp_path / f"{i}.arrows").chunks[0].steps[0] for i in range(2))
    np.testing.assert_array_equal(a.fired, [0, 3, 11])
    np.testing.assert_array_equal(a.fired, b.fired)
    assert a.support.size == 0


def test_crashed_writer_leaves_only_a_partial_file_that_readers_reject(tmp_path):
    path = tmp_path / "run.arrows"
    with pytest.raises(RuntimeError):
        with TraceWriter(path, header(), steps_per_chunk=1) as w:
            for t in range(4):
                w.begin_step(t, {"fired": [0]})
                w.op(OpRecord(t, 0, macs=1))
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
            w.begin_step(t)
            w.op(OpRecord(t, 2, nnz=3, macs=3))
    reader = TraceReader(path)
    first = [c.n_ops for c in reader.chunks()]
    second = [c.n_ops for c in reader.chunks()]
    assert first == second == [2, 2, 1]
    assert reader.totals == (3, 5, 5)


def test_mask_change_records_round_trip(tmp_path):
    path = tmp_path / "m.arrows"
    with TraceWriter(path, header()) as w:
        w.begin_step(0)
        w.begin_step(4)
        w.mask_change(4, "mask", removed=[0, 17], added=[1, 140])
    changes = [m for c in read_trace(path).chunks for m in c.mask_changes]
    assert [(m.step, m.pattern, m.removed.tolist(), m.added.tolist()) for m in changes] == [(4, "mask", [0, 17], [1, 140])]


@pytest.mark.parametrize(
    "bad, match",
    [({"method": "not a name"}, "method"), ({"n_hidden": -1}, "n_hidden"), ({"weight_density": 1.5}, "weight_density"),
     ({"provenance": {"a": 1}}, "provenance"), ({"schema": "rtrl-trace/1"}, "rtrl-trace/1"),
     ({"patterns": {"mask": Pattern((12, 12), np.zeros(13, np.int64), np.zeros(1, np.int64))}}, "indptr ends"),
     ({"patterns": {}}, "unknown pattern 'mask'")],
)
def test_writer_refuses_bad_headers(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        TraceWriter(tmp_path / "h.arrows", header(**bad))


def test_writer_refuses_bad_records(tmp_path):
    with TraceWriter(tmp_path / "b.arrows", header()) as w:
        with pytest.raises(ValueError, match="before the first begin_step"):
            w.op(OpRecord(0, 0))
        with pytest.raises(ValueError, match="not a per-step set"):
            w.begin_step(0, {"kept": [1]})  # static, not per step
        with pytest.raises(ValueError, match=r"indices must be integers in \[0, 12\)"):
            w.begin_step(0, {"fired": [12]})
        w.begin_step(0)
        with pytest.raises(ValueError, match="does not declare"):
            w.op(OpRecord(0, "no_such_op"))
        w.op(OpRecord(0, N_OPS))  # an id outside the declared ops is caught when the chunk is encoded
        with pytest.raises(ValueError, match="op id outside"):
            w.flush()
        w.abort()
    with TraceWriter(tmp_path / "c.arrows", header(), steps_per_chunk=1) as w:
        w.begin_step(3)
        w.begin_step(5)
        with pytest.raises(ValueError, match="steps must increase"):
            w.begin_step(5)
            w.flush()
        w.abort()


@given(st.lists(st.tuples(unit_sets, unit_sets, st.lists(op_records(0), max_size=6)), min_size=1, max_size=5))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
def test_op_rows_write_what_op_writes(tmp_path, steps):
    """Rows (op_row of each record) handed over at once give the file that one op() per record gives,
    and rows_to_records inverts op_row."""
    paths = [tmp_path / "by_op.arrows", tmp_path / "by_rows.arrows"]
    for path, by_rows in zip(paths, (False, True)):
        with TraceWriter(path, header()) as w:
            for t, (fired, support, records) in enumerate(steps):
                records = [dataclasses.replace(r, step=t) for r in records]
                w.begin_step(t, {"fired": fired, "support": support})
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
    with TraceWriter(tmp_path / "t.arrows", header()) as w:
        with pytest.raises(ValueError, match="before the first begin_step"):
            w.op_rows(np.zeros((1, len(OP_COLUMNS)), np.int64))
        w.begin_step(0)
        with pytest.raises(ValueError, match="shape"):
            w.op_rows(np.zeros((1, 3), np.int64))
        bad = np.zeros((1, len(OP_COLUMNS)), np.int64)
        bad[0, 2] = -5  # negative MACs
        w.op_rows(bad)
        with pytest.raises(ValueError, match="negative counts"):
            w.flush()
        w.abort()

    class OpsOnly:  # a recorder without op_rows gets one op() per row
        def __init__(self):
            self.ops = []

        def op(self, record):
            self.ops.append(record)

    rec = OpsOnly()
    record_rows(rec, np.array([[0, 1, 5, 0], [0, 2, 6, 1]], np.int64))
    assert [(r.op, r.macs) for r in rec.ops] == [(1, 5), (2, 6)]


def test_write_errors_name_the_users_path_not_the_partial_file(tmp_path):
    """The folder disappears under a running writer: the error names PATH, never PATH.partial."""
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "run.arrows"
    w = TraceWriter(path, header())
    w.begin_step(0)
    (folder / "run.arrows.partial").unlink()
    folder.rmdir()
    with pytest.raises(OSError) as exc:
        w.close()
    assert exc.value.filename == str(path) and ".partial" not in str(exc.value)


def test_pack_reuses_a_read_only_mask_and_repacks_anything_else():
    """A read-only mask passed again as the same object is packed once; a writeable mask changed
    in place, or another object, is packed anew: the bits always equal the mask's."""
    from accel_sim.trace.header import IndexSet
    from accel_sim.trace.schema import SetLayout

    layout = SetLayout((IndexSet("a", 13), IndexSet("reached", 70)))
    rng = np.random.default_rng(0)

    def unpacked(bits, name):
        return layout.masks(bits[None, :], name)[0]

    frozen = rng.random(70) < 0.5
    frozen.flags.writeable = False
    for _ in range(3):
        a = rng.random(13) < 0.5
        bits = layout.pack({"a": a, "reached": frozen})
        assert np.array_equal(unpacked(bits, "a"), a) and np.array_equal(unpacked(bits, "reached"), frozen)
    live = rng.random(70) < 0.5
    layout.pack({"reached": live})
    live[:] = ~live  # changed in place: must not reuse the earlier bits
    assert np.array_equal(unpacked(layout.pack({"reached": live}), "reached"), live)
    other = ~frozen
    other.flags.writeable = False
    assert np.array_equal(unpacked(layout.pack({"reached": other}), "reached"), other)
    assert np.array_equal(unpacked(layout.pack({"reached": frozen}), "reached"), frozen)
