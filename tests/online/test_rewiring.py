"""Rewiring the weight masks during training (rtrl/rewire.py), after every ``rewire_every`` steps,
inside sequences too (TINY: 4-step sequences, a rewiring every 9 steps): each matrix keeps its
count, the smallest weights leave, new ones join at zero; sparse RTRL (every CPU kernel path),
dense RTRL and BPTT trained with the same schedule stay identical; resume is bit-exact; the trace
records each rewiring at the step after it and `trace info` counts it; bad options exit 2.
(The learners' exactness across one mask change: tests/rtrl/test_rewired_exactness.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accel_sim.trace.io import TraceReader
from codesign.cli import main
from rtrl import EGRU
from rtrl.kernels import compiled
from rtrl.model import INPUT_WEIGHTS, MASKED, RECURRENT_WEIGHTS
from rtrl.online import fit_task
from rtrl.online.checkpoint import load_checkpoint
from rtrl.rewire import RewireConfig, rewire

TINY = {"task": "copy", "task_options": {"n_train": 8, "n_test": 3, "pattern_length": 2}, "n_hidden": 7,
        "weight_density": 0.4, "epochs": 2, "lr": 0.05, "optimizer": "sgd", "update_every": 0, "dtype": "float64",
        "rewire_every": 9, "rewire_fraction": 0.3,
        "threshold_mean": 0.1, "pseudo_derivative": (0.8, 0.5)}  # wide support: the recurrent gradient is not zero


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), density=st.floats(0.05, 0.95), fraction=st.floats(0.01, 0.99))
def test_rewire_keeps_counts_drops_the_smallest_and_grows_at_zero(seed, density, fraction):
    model = EGRU(4, 9, 3, weight_density=density, seed=seed, dtype=np.float64)
    before = {k: m.copy() for k, m in model.masks.items()}
    weights = {k: np.asarray(v).copy() for k, v in model.params.items()}
    edits = rewire(model, fraction, np.random.default_rng(seed))
    for e in edits:
        old, new = before[e.name].ravel(), model.masks[e.name].ravel()
        assert new.sum() == old.sum()  # density kept
        assert old[e.removed].all() and not new[e.removed].any()
        assert not old[e.added].any() and new[e.added].all()
        assert np.array_equal(new, (old & ~np.isin(np.arange(old.size), e.removed)) | np.isin(np.arange(old.size), e.added))
        survivors = np.abs(weights[e.name].ravel()[old & new])
        if e.removed.size and survivors.size:
            assert np.abs(weights[e.name].ravel()[e.removed]).max() <= survivors.min()
        w = np.asarray(model.params[e.name]).ravel()
        assert np.all(w[e.added] == 0) and np.all(w[~new] == 0)
        assert np.array_equal(w[old & new], weights[e.name].ravel()[old & new])


def test_bad_rewire_settings_are_refused():
    for bad in ({"every": -1}, {"fraction": 0.0}, {"fraction": 1.5}, {"grow": "magnitude"}):
        with pytest.raises(ValueError, match="rewire"):
            RewireConfig(**bad)


def _run(method, tmp_path=None, **over):
    return fit_task(**{**TINY, "method": method, **over})


def test_same_schedule_same_training_for_every_learner(monkeypatch):
    """Per-sequence updates, SGD, float64: every learner computes the same gradient of each
    sequence, so the rewired masks and the final parameters agree to round-off."""
    import rtrl.sparse_rtrl as sparse

    ref = _run("bptt")
    assert ref.progress.rewire_events >= 2 and ref.kpis.rewire_events == ref.progress.rewire_events
    runs = {"dense_rtrl": _run("dense_rtrl")}
    for kernels in ["generic", "fused"] + (["compiled"] if compiled.AVAILABLE else []):
        monkeypatch.setattr(sparse, "_choose_kernels", lambda k, gpu, _kernels=kernels: _kernels)
        runs[f"sparse_rtrl/{kernels}"] = _run("sparse_rtrl")
    for name, run in runs.items():
        assert run.progress.rewire_events == ref.progress.rewire_events, name
        for k in MASKED:
            assert np.array_equal(run.model.masks[k], ref.model.masks[k]), (name, k)
        for k, v in ref.model.params.items():
            np.testing.assert_allclose(run.model.params[k], v, rtol=1e-9, atol=1e-12, err_msg=f"{name} {k}")


def test_rewirings_fall_inside_sequences_at_the_due_steps(tmp_path):
    """A rewiring follows the step at which rewire_every steps have passed since the last one:
    with 4-step sequences and a rewiring every 9 steps, after steps 9, 18, 27, ... (mid-sequence);
    its records take effect from the next step (trace step ids count the steps from 0)."""
    from codesign.tracing import open_trace_writer
    from rtrl import make_learner
    from rtrl.online import OnlineTrainer, TrainConfig
    from rtrl.tasks import get_task

    task = get_task("copy", **TINY["task_options"])
    model = EGRU(task.n_in, 7, task.n_out, weight_density=0.4, seed=0, dtype=np.float64)
    counts = {k: int(m.sum()) for k, m in model.masks.items()}
    path = tmp_path / "run.arrows"
    with open_trace_writer(path, model, "sparse_rtrl", history_steps=4) as writer:
        trainer = OnlineTrainer(model, make_learner(model, "sparse_rtrl"),
                                TrainConfig(epochs=2, lr=0.05, update_every=1, rewire_every=9, rewire_fraction=0.3),
                                recorder=writer)
        trainer.fit(task.train)
    steps = sorted({mc.step for chunk in TraceReader(str(path)).chunks() for mc in chunk.mask_changes})
    assert trainer.progress.steps == 64 and steps == [9, 18, 27, 36, 45, 54, 63]
    assert trainer.progress.rewire_events == 7 and trainer.progress.rewired_at_step == 63
    assert {k: int(m.sum()) for k, m in model.masks.items()} == counts


def test_per_step_updates_sparse_and_dense_rtrl_train_alike(monkeypatch):
    """Updates every step (Adam) and rewirings inside sequences: M is carried across both, and sparse
    RTRL on every CPU kernel path remaps it as dense RTRL (which zeroes its grown columns) does."""
    import rtrl.sparse_rtrl as sparse

    over = {"update_every": 1, "optimizer": "adam", "lr": 0.01}
    ref = _run("dense_rtrl", **over)
    assert ref.progress.rewire_events >= 6
    for kernels in ["generic", "fused"] + (["compiled"] if compiled.AVAILABLE else []):
        monkeypatch.setattr(sparse, "_choose_kernels", lambda k, gpu, _kernels=kernels: _kernels)
        run = _run("sparse_rtrl", **over)
        for k in MASKED:
            assert np.array_equal(run.model.masks[k], ref.model.masks[k]), (kernels, k)
        for k, v in ref.model.params.items():
            np.testing.assert_allclose(run.model.params[k], v, rtol=1e-9, atol=1e-12, err_msg=f"{kernels} {k}")


def test_masks_really_change():
    fixed = _run("sparse_rtrl", rewire_every=0)
    rewired = _run("sparse_rtrl")
    assert fixed.progress.rewire_events == 0
    assert any(not np.array_equal(fixed.model.masks[k], rewired.model.masks[k]) for k in MASKED)
    for k in MASKED:
        assert fixed.model.masks[k].sum() == rewired.model.masks[k].sum()


def test_resume_after_a_rewiring_is_bit_exact(tmp_path):
    full = _run("sparse_rtrl")
    path = tmp_path / "run.npz"
    _run("sparse_rtrl", checkpoint=str(path), stop_after=11)
    arrays, meta = load_checkpoint(str(path))
    assert meta["progress"]["rewire_events"] >= 1 and any(k.startswith("masks/") for k in arrays)
    resumed = _run("sparse_rtrl", resume=str(path))
    for k in MASKED:
        assert np.array_equal(resumed.model.masks[k], full.model.masks[k])
    for k, v in full.model.params.items():
        assert np.array_equal(resumed.model.params[k], v), k


def test_resume_with_per_step_updates_is_bit_exact(tmp_path):
    """Checkpoints fall at sequence boundaries, rewirings inside sequences: Adam's moments and
    the masks travel in the checkpoint, and the resumed run repeats the same arithmetic."""
    over = {"update_every": 1, "optimizer": "adam", "lr": 0.01}
    full = _run("sparse_rtrl", **over)
    path = tmp_path / "run.npz"
    _run("sparse_rtrl", checkpoint=str(path), stop_after=5, **over)  # 20 steps: rewired after 9 and 18
    resumed = _run("sparse_rtrl", resume=str(path), **over)
    assert resumed.progress.rewire_events == full.progress.rewire_events
    for k in MASKED:
        assert np.array_equal(resumed.model.masks[k], full.model.masks[k]), k
    for k, v in full.model.params.items():
        assert np.array_equal(resumed.model.params[k], v), k


def test_resume_with_gradient_growth_is_bit_exact(tmp_path):
    """The |gradient| scores gradient growth reads at the next rewiring travel in the checkpoint (a
    sequence with no update before that rewiring, e.g. one rolled back, would read the saved ones),
    and a resumed run reaches the same masks and weights."""
    full = _run("dense_rtrl", rewire_grow="gradient")
    path = tmp_path / "run.npz"
    _run("dense_rtrl", rewire_grow="gradient", checkpoint=str(path), stop_after=5)
    arrays, _ = load_checkpoint(str(path))
    assert {f"grow_scores/{k}" for k in MASKED} <= set(arrays)
    resumed = _run("dense_rtrl", rewire_grow="gradient", resume=str(path))
    assert resumed.progress.rewire_events == full.progress.rewire_events >= 2
    for k in MASKED:
        assert np.array_equal(resumed.model.masks[k], full.model.masks[k]), k
    for k, v in full.model.params.items():
        assert np.array_equal(resumed.model.params[k], v), k


def test_a_checkpoint_with_a_bad_mask_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    _run("sparse_rtrl", checkpoint=str(path), stop_after=11)
    arrays, meta = load_checkpoint(str(path))
    arrays["masks/R_u"] = np.ones_like(arrays["masks/R_u"])  # more weights than the model keeps
    from rtrl.online.checkpoint import save_checkpoint

    save_checkpoint(str(path), arrays, {k: v for k, v in meta.items() if k != "format"})
    with pytest.raises(ValueError, match="masks/R_u"):
        _run("sparse_rtrl", resume=str(path))


def test_cli_trace_records_each_rewiring_and_trace_info_counts_them(tmp_path, capsys):
    trace = tmp_path / "run.arrows"
    args = ["train", "--task", "copy", "--task-option", "n_train=8", "--task-option", "n_test=3",
            "--task-option", "pattern_length=2", "--hidden", "7", "--weight-density", "0.4", "--epochs", "2",
            "--rewire-every", "9", "--rewire-fraction", "0.3", "--trace", str(trace), "--json", "--quiet"]
    assert main(args) == 0
    kpis = json.loads(capsys.readouterr().out)
    assert kpis["rewire_events"] >= 2
    reader = TraceReader(str(trace))
    changes = [mc for chunk in reader.chunks() for mc in chunk.mask_changes]
    assert len({mc.step for mc in changes}) == kpis["rewire_events"]
    assert {"W_in", "R"} <= {mc.pattern for mc in changes} <= {"W_in", "R", "G"}  # G: when the union changes
    # replaying the records on the header's patterns gives masks with the same counts, each record
    # removing entries that were there and adding ones that were not
    for pattern in ("W_in", "R"):
        mask = reader.header.patterns[pattern].to_mask().ravel().copy()
        count = mask.sum()
        for mc in (c for c in changes if c.pattern == pattern):
            assert mask[mc.removed].all() and not mask[mc.added].any()
            mask[mc.removed], mask[mc.added] = False, True
            assert mask.sum() == count
    g = reader.header.patterns["G"].to_mask().ravel().copy()
    for mc in (c for c in changes if c.pattern == "G"):  # the union's count may change
        assert g[mc.removed].all() and not g[mc.added].any()
        g[mc.removed], g[mc.added] = False, True
    assert main(["trace", "info", str(trace)]) == 0
    assert f"rewiring: {kpis['rewire_events']} events" in capsys.readouterr().out


@pytest.mark.parametrize("flags,message", [(["--rewire-fraction", "1.5", "--rewire-every", "5"], "--rewire-fraction"),
                                           (["--rewire-every", "0"], "--rewire-every")])
def test_bad_rewire_options_exit_2(flags, message, capsys):
    code = main(["train", "--task", "copy", "--task-option", "n_train=4", "--hidden", "4", "--quiet", *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_sweep_specs_carry_the_rewiring_fields(tmp_path):
    from codesign.sweep import expand, load_spec
    from tests.codesign.codesign_helpers import write_spec

    fixed = expand(load_spec(write_spec(tmp_path, name="fixed")))
    rewired = expand(load_spec(write_spec(tmp_path, name="rw", training={"rewire_every": 20, "rewire_fraction": 0.2})))
    assert {(p.model.rewire_every, p.model.rewire_fraction) for p in rewired} == {(20, 0.2)}
    assert {p.model.rewire_every for p in fixed} == {0}
    assert not {p.model.key for p in fixed} & {p.model.key for p in rewired}  # a different model point


def test_gradient_growth_picks_the_largest_gradients():
    model = EGRU(4, 9, 3, weight_density=0.3, seed=5, dtype=np.float64)
    rng = np.random.default_rng(0)
    scores = {k: rng.random(model.masks[k].shape) for k in MASKED}
    before = {k: m.copy() for k, m in model.masks.items()}
    for e in rewire(model, 0.25, np.random.default_rng(1), scores):
        free = np.flatnonzero(~before[e.name].ravel())
        best = free[np.argsort(-scores[e.name].ravel()[free], kind="stable")[:e.added.size]]
        assert np.array_equal(np.sort(best), e.added)


def test_gradient_growth_trains_dense_rtrl_and_bptt_alike():
    ref = _run("bptt", rewire_grow="gradient")
    dense = _run("dense_rtrl", rewire_grow="gradient")
    random_grown = _run("bptt")
    assert ref.progress.rewire_events >= 2
    assert any(not np.array_equal(ref.model.masks[k], random_grown.model.masks[k]) for k in MASKED)
    for k in MASKED:
        assert np.array_equal(dense.model.masks[k], ref.model.masks[k]), k
    for k, v in ref.model.params.items():
        np.testing.assert_allclose(dense.model.params[k], v, rtol=1e-9, atol=1e-12, err_msg=k)


def test_gradient_growth_needs_a_learner_with_the_dense_gradient(capsys):
    with pytest.raises(ValueError, match="gradient"):
        _run("sparse_rtrl", rewire_grow="gradient")
    code = main(["train", "--task", "copy", "--task-option", "n_train=4", "--hidden", "4", "--quiet",
                 "--rewire-every", "5", "--rewire-grow", "gradient"])
    err = capsys.readouterr().err
    assert code == 2 and "gradient" in err and "Traceback" not in err


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), density=st.floats(0.1, 0.9), fraction=st.floats(0.1, 0.9))
def test_mask_change_records_carry_every_declared_pattern_the_rewiring_changes(seed, density, fraction):
    """W_in, R and G (the union of the recurrent masks, the Jacobian's pattern): each record,
    applied to the pattern before the rewiring, gives the pattern after it."""
    from rtrl.online.recording import StepRecorder

    class Records:
        def __init__(self):
            self.changes = {}

        def mask_change(self, step, pattern, removed, added):
            self.changes[pattern] = (step, np.asarray(removed), np.asarray(added))

    model = EGRU(3, 8, 2, weight_density=density, seed=seed)
    stacked = lambda m: {"W_in": np.vstack([m[k] for k in INPUT_WEIGHTS]).ravel(),  # noqa: E731
                         "R": np.vstack([m[k] for k in RECURRENT_WEIGHTS]).ravel(),
                         "G": (m["R_u"] | m["R_r"] | m["R_z"]).ravel()}
    before = stacked({k: m.copy() for k, m in model.masks.items()})
    edits = rewire(model, fraction, np.random.default_rng(seed))
    after = stacked(model.masks)
    inner = Records()
    recorder = StepRecorder(inner)
    recorder.step = 4
    recorder.mask_changes(model, edits)
    for name in before:
        if name not in inner.changes:
            assert np.array_equal(before[name], after[name]), name  # only an unchanged pattern goes unrecorded
            continue
        step, removed, added = inner.changes[name]
        assert step == 5
        assert before[name][removed].all() and not before[name][added].any()
        applied = before[name].copy()
        applied[removed], applied[added] = False, True
        assert np.array_equal(applied, after[name]), name
