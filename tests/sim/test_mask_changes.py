"""Mask-change records (rewiring) change the structure the ops after them are costed on
(accel_sim/trace/masks.py, WorkModel.apply): from a record's step on, every op's work, footprints,
spread over the PEs and index traffic are those of a trace declared with the changed masks from
the start, and before it those of the initial masks; at L0, L1 and L2 alike."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel_sim import load_config, simulate
from accel_sim.engine.demand import Costing, Demand
from accel_sim.engine.placement import Placement
from accel_sim.errors import MaskChangeError
from accel_sim.trace.header import Pattern
from accel_sim.trace.io import TraceReader, write_trace
from accel_sim.trace.masks import MaskSchedule, apply_change
from accel_sim.trace.schema import MaskChange, TraceChunk
from accel_sim.trace.stats import summarize
from accel_sim.trace.work import WorkModel
from codesign.cli import main
from codesign.cli.timeline import structure_at, window_chunks
from tests.sim.helpers import CONFIGS, rtrl_like_trace

SHIPPED = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
AT = 10  # the step the masks change at (inside the second chunk of 8 steps)


def _edit(pattern: Pattern, rng, n_remove: int, n_add: int) -> tuple[np.ndarray, np.ndarray, Pattern]:
    """Random removed (held) and added (absent) flat positions, and the pattern after them by hand."""
    mask = pattern.to_mask()
    removed = np.sort(rng.choice(np.flatnonzero(mask), n_remove, replace=False))
    added = np.sort(rng.choice(np.flatnonzero(~mask), n_add, replace=False))
    after = mask.copy()
    after.flat[removed] = False
    after.flat[added] = True
    return removed, added, Pattern.from_mask(after)


def _rewired(edits):
    """(header, chunks with records at AT, header declared with the changed masks, bare chunks,
    records); ``edits``: (pattern, entries removed, entries added)."""
    header, bare = rtrl_like_trace(n_hidden=16, n_steps=24, density=0.3, n_in=6, seed=3)
    rng = np.random.default_rng(7)
    changes, after = [], dict(header.patterns)
    for name, n_remove, n_add in edits:
        removed, added, after[name] = _edit(header.patterns[name], rng, n_remove, n_add)
        changes.append(MaskChange(AT, name, removed, added))
    holder = next(i for i, c in enumerate(bare) if AT in c.step_ids)
    chunks = [dataclasses.replace(c, mask_changes=tuple(changes) if i == holder else ()) for i, c in enumerate(bare)]
    return header, chunks, dataclasses.replace(header, patterns=after), bare, changes


@pytest.fixture(scope="module")
def traces():
    """Every pattern keeps its count (as the learner's rewiring does), G too (the Jacobian's union pattern)."""
    return _rewired((("R", 12, 12), ("W_in", 6, 6), ("G", 5, 5)))


@pytest.fixture(scope="module")
def uneven():
    """R keeps its count, W_in loses entries, G gains some."""
    return _rewired((("R", 12, 12), ("W_in", 6, 2), ("G", 3, 9)))


def _steps(chunks, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Steps lo <= step < hi of the chunks as one batch (step ids, set bits, op columns)."""
    ids = np.concatenate([c.step_ids for c in chunks])
    bits = np.concatenate([c.set_bits for c in chunks])
    ops = {k: np.concatenate([c.ops[k] for c in chunks]) for k in chunks[0].ops}
    sel, keep = (ids >= lo) & (ids < hi), (ops["step"] >= lo) & (ops["step"] < hi)
    return ids[sel], bits[sel], {k: v[keep] for k, v in ops.items()}


def _assert_same(d1: Demand, d2: Demand) -> None:
    for f in dataclasses.fields(Demand):
        a, b = getattr(d1, f.name), getattr(d2, f.name)
        if isinstance(a, dict):
            assert a.keys() == b.keys(), f.name
            for key in a:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=0, err_msg=f"{f.name}[{key}]")
        elif isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=f.name)
        else:
            assert a == b, f.name


@pytest.mark.parametrize("config", SHIPPED)
@pytest.mark.parametrize("which", ["traces", "uneven"])
def test_ops_after_a_change_cost_as_declared_with_the_new_masks(request, which, config):
    """Every per-op demand (MACs, accesses, metadata, spread / busiest PE, index count, bank
    conflicts, energy) of the steps from AT on equals the new-mask trace's; before AT, the old one's."""
    header, chunks, new_header, bare, changes = request.getfixturevalue(which)
    cfg = load_config(CONFIGS / f"{config}.yaml")
    old, new = _steps(bare, 0, AT), _steps(bare, AT, 10**9)
    changed = Costing(cfg, header)  # a fresh placement per batch: each sees its tensors' first loads
    _assert_same(changed.demand(*old, Placement(cfg, header)), Costing(cfg, header).demand(*old, Placement(cfg, header)))
    changed.apply(changes)
    d_changed = changed.demand(*new, Placement(cfg, header))
    # where tensors reside is decided once, on the declared patterns (W_in and G change counts here)
    d_declared = Costing(cfg, new_header).demand(*new, Placement(cfg, header))
    _assert_same(d_changed, d_declared)
    d_initial = Costing(cfg, header).demand(*new, Placement(cfg, header))
    assert not np.array_equal(d_changed.macs_effective, d_initial.macs_effective)  # the change matters


@pytest.mark.parametrize("fidelity", ["L0", "L1", "L2"])
def test_a_change_at_the_first_step_replays_the_new_masks(traces, fidelity):
    """Records at step 0: the whole trace equals the new-mask trace but for the rewirings' own cost."""
    header, _, new_header, bare, changes = traces
    first = [dataclasses.replace(bare[0], mask_changes=tuple(dataclasses.replace(c, step=0) for c in changes))]
    cfg = load_config(CONFIGS / "sparse_skipping.yaml")
    changed = simulate(header, first + bare[1:], cfg, fidelity)
    declared = simulate(new_header, bare, cfg, fidelity)
    for key in ("effective_macs", "executed_macs", "index_count", "pe_imbalance", "imbalance_cycles",
                "metadata_bytes"):
        assert changed.workload[key] == pytest.approx(declared.workload[key], rel=1e-12), key
    assert changed.cycles - changed.stall_cycles["rewiring"] == pytest.approx(declared.cycles, abs=1.0)
    rewiring = changed.by_label["rewiring"]["energy_pj"]
    leak = changed.energy_pj["leakage"] - declared.energy_pj["leakage"]
    assert changed.energy_pj["total"] - rewiring - leak == pytest.approx(declared.energy_pj["total"], rel=1e-9)


@pytest.mark.parametrize("fidelity", ["L0", "L1", "L2"])
def test_work_splits_at_the_change(traces, fidelity):
    """Additive counts of a trace with a mid-trace change = the old masks' before it + the new ones' after."""
    header, chunks, new_header, bare, _ = traces
    cfg = load_config(CONFIGS / "sparse_skipping.yaml")
    changed = simulate(header, chunks, cfg, fidelity)
    ids = [c.step_ids for c in bare]
    before = simulate(header, [_chunk(bare, 0, AT)], cfg, fidelity)
    after = simulate(new_header, [_chunk(bare, AT, 10**9)], cfg, fidelity)
    assert sum(i.size for i in ids) == changed.n_steps
    for key in ("effective_macs", "executed_macs", "gated_macs", "index_count", "imbalance_cycles"):
        assert changed.workload[key] == pytest.approx(before.workload[key] + after.workload[key], rel=1e-12), key


def _chunk(chunks, lo: int, hi: int) -> TraceChunk:
    ids, bits, ops = _steps(chunks, lo, hi)
    return TraceChunk(chunks[0].layout, ids, bits, ops)


@pytest.mark.parametrize("config", SHIPPED)
def test_fidelities_stay_ordered_with_mask_changes(traces, config):
    """L0 is a lower bound of L1 and L1 is within 1 % of L2 on a rewired trace."""
    header, chunks, *_ = traces
    cfg = load_config(CONFIGS / f"{config}.yaml")
    r0, r1, r2 = (simulate(header, chunks, cfg, f) for f in ("L0", "L1", "L2"))
    assert r0.cycles <= r1.cycles * (1 + 1e-9)
    assert abs(r1.cycles - r2.cycles) <= 0.01 * r2.cycles
    assert r0.workload["effective_macs"] == r1.workload["effective_macs"] == r2.workload["effective_macs"]


def test_a_learner_rewired_trace_replays_on_its_new_masks(tmp_path):
    """A real rewiring (accel-sim train --rewire-every): L0 <= L1 within 1 % of L2, and the
    learner's records change the work of the steps after them (same counts, other positions)."""
    path = tmp_path / "run.arrows"
    assert main(["train", "--task", "copy", "--task-option", "n_train=6", "--task-option", "n_test=2",
                 "--task-option", "pattern_length=2", "--hidden", "7", "--weight-density", "0.4", "--epochs", "1",
                 "--rewire-every", "9", "--rewire-fraction", "0.4", "--trace", str(path), "--quiet"]) == 0
    reader = TraceReader(path)
    chunks = list(reader.chunks())
    assert any(c.mask_changes for c in chunks)
    cfg = load_config(CONFIGS / "sparse_skipping.yaml")
    r0, r1, r2 = (simulate(reader.header, chunks, cfg, f) for f in ("L0", "L1", "L2"))
    assert r0.cycles <= r1.cycles * (1 + 1e-9) and abs(r1.cycles - r2.cycles) <= 0.01 * r2.cycles
    bare = [dataclasses.replace(c, mask_changes=()) for c in chunks]
    assert simulate(reader.header, bare, cfg, "L0").workload["effective_macs"] != r0.workload["effective_macs"]


def test_trace_info_and_timeline_use_the_masks_in_force(traces, tmp_path):
    header, chunks, new_header, bare, _ = traces
    path = write_trace(tmp_path / "rw.arrows", header, chunks)
    # trace info: the effectual work by op, old masks before AT and new ones after (by another path)
    old, new = WorkModel(header).batch(*_steps(bare, 0, AT)), WorkModel(new_header).batch(*_steps(bare, AT, 10**9))
    info = summarize(str(path))
    assert info.effectual_ops == int(old.effectual.sum() + new.effectual.sum())
    # a timeline window after the change replays the new masks; one across it replays the rewiring too
    cfg = load_config(CONFIGS / "sparse_skipping.yaml")
    reader = TraceReader(path)
    window = simulate(structure_at(reader, 12), window_chunks(reader.chunks(), 12, 20), cfg, "L1")
    declared = simulate(new_header, window_chunks(iter(bare), 12, 20), cfg, "L1")
    assert window.cycles == declared.cycles and window.workload == declared.workload
    across = simulate(structure_at(reader, 4), window_chunks(reader.chunks(), 4, 20), cfg, "L1")
    assert across.by_label["rewiring"]["ops"] == 3
    before = simulate(structure_at(reader, 0), window_chunks(reader.chunks(), 0, AT), cfg, "L1")
    assert "rewiring" not in before.by_label


@pytest.mark.parametrize("edit, problem", [
    (lambda held, absent: (absent[:2], []), "removes entries the pattern does not hold"),
    (lambda held, absent: ([], held[:1]), "adds entries the pattern already holds"),
    (lambda held, absent: ([], [10**6]), "outside"),
    (lambda held, absent: (held[:1], held[:1]), "both removes and adds"),
    (lambda held, absent: ([held[0], held[0]], []), "more than once"),
])
def test_impossible_records_are_refused_naming_pattern_and_step(traces, edit, problem):
    header, _, _, bare, _ = traces
    mask = header.patterns["R"].to_mask().ravel()
    removed, added = edit(np.flatnonzero(mask), np.flatnonzero(~mask))
    bad = MaskChange(AT, "R", np.asarray(removed, np.int64), np.asarray(added, np.int64))
    chunks = [dataclasses.replace(c, mask_changes=(bad,) if i == 1 else ()) for i, c in enumerate(bare)]
    cfg = load_config(CONFIGS / "sparse_skipping.yaml")
    with pytest.raises(MaskChangeError, match=f"pattern 'R' at step {AT}: .*{problem}") as info:
        simulate(header, chunks, cfg, "L0")
    assert (info.value.pattern, info.value.step) == ("R", AT)


def test_a_record_reaching_back_is_refused(traces):
    header, _, _, bare, changes = traces
    late = dataclasses.replace(changes[0], step=3)  # in the second chunk, which starts at step 8
    chunks = [dataclasses.replace(c, mask_changes=(late,) if i == 1 else ()) for i, c in enumerate(bare)]
    with pytest.raises(MaskChangeError, match="at step 3: recorded after step 7"):
        simulate(header, chunks, load_config(CONFIGS / "sparse_skipping.yaml"), "L1")


def test_a_record_after_the_last_step_is_still_checked(traces):
    header, _, _, bare, _ = traces
    mask = header.patterns["G"].to_mask().ravel()
    bad = MaskChange(10**6, "G", np.flatnonzero(~mask)[:1], np.zeros(0, np.int64))
    chunks = bare[:-1] + [dataclasses.replace(bare[-1], mask_changes=(bad,))]
    with pytest.raises(MaskChangeError, match="'G' at step 1000000"):
        simulate(header, chunks, load_config(CONFIGS / "sparse_skipping.yaml"), "L0")


def test_cli_refuses_an_impossible_record_with_one_line(traces, tmp_path, capsys):
    header, _, _, bare, _ = traces
    mask = header.patterns["W_in"].to_mask().ravel()
    bad = MaskChange(AT, "W_in", np.zeros(0, np.int64), np.flatnonzero(mask)[:3])
    path = write_trace(tmp_path / "bad.arrows", header,
                       [dataclasses.replace(c, mask_changes=(bad,) if i == 1 else ()) for i, c in enumerate(bare)])
    code = main(["simulate", str(path), "--config", str(CONFIGS / "sparse_skipping.yaml"), "--fidelity", "L0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "pattern 'W_in' at step 10" in err and "already holds" in err and str(path) in err


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.floats(0.0, 1.0), st.data())
def test_apply_change_matches_editing_the_mask(rows, cols, density, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    mask = rng.random((rows, cols)) < density
    held, absent = np.flatnonzero(mask), np.flatnonzero(~mask)
    removed = rng.choice(held, data.draw(st.integers(0, held.size)), replace=False)
    added = rng.choice(absent, data.draw(st.integers(0, absent.size)), replace=False)
    got = apply_change(Pattern.from_mask(mask), MaskChange(5, "p", removed, added))
    want = mask.copy()
    want.flat[removed] = False
    want.flat[added] = True
    assert got == Pattern.from_mask(want)


def test_schedule_cuts_where_records_take_effect():
    s = MaskSchedule()
    rec = [MaskChange(t, "p", np.zeros(0, np.int64), np.zeros(0, np.int64)) for t in (3, 3, 6, 40)]
    s.add(np.arange(0, 8), rec[:3] + rec[3:])
    steps = np.arange(0, 8)
    cuts = [(lo, hi, [c.step for c in due]) for lo, hi, due in s.segments(steps)]
    assert cuts == [(0, 3, []), (3, 6, [3, 3]), (6, 8, [6])]
    assert [c.step for c in s.rest()] == [40] and s.rest() == []
