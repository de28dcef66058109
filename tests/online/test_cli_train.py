"""``accel-sim train``: exit codes, the exact JSON keys, checkpoint/resume from the command line."""

import json

import numpy as np
import pytest

from codesign.cli import main
from rtrl.online import KPI_KEYS

TINY = ["--task", "copy", "--task-option", "n_train=6", "--task-option", "n_test=3",
        "--task-option", "pattern_length=2", "--hidden", "6", "--epochs", "1", "--quiet"]

ISSUE_KEYS = {"test_accuracy", "train_loss", "activity_fired", "activity_support", "activity_active", "weight_density", "rewire_events",
              "step_time_ms", "learning_state_bytes", "bptt_state_bytes", "guard_events"}


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--task", "nope"], "unknown task 'nope'"),
        (["--task", "copy", "--task-option", "bogus=1"], "unknown option 'bogus'"),
        (["--task", "copy", "--task-option", "delay=-2"], "'delay' must be >= 0"),
        (["--task", "copy", "--task-option", "novalue"], "KEY=VALUE"),
        (["--task", "digits", "--hidden", "0"], "--hidden"),
        (["--task", "digits", "--weight-density", "1.5"], "--weight-density"),
        (["--task", "digits", "--lr", "-1"], "--lr"),
        (["--task", "digits", "--method", "magic"], "invalid choice"),
        (["--task", "copy", "--resume", "/nonexistent/run.npz"], "not found"),
        (["--task", "digits", "--pseudo-width", "0"], "--pseudo-width must be > 0"),
        (["--task", "digits", "--pseudo-width", "nan"], "--pseudo-width"),
        (["--task", "digits", "--pseudo-gamma", "-1"], "--pseudo-gamma must be >= 0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, needle, capsys):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_json_has_exactly_the_kpi_keys(capsys):
    assert main(["train", *TINY, "--json"]) == 0
    out = capsys.readouterr().out
    kpis = json.loads(out)
    assert set(kpis) == ISSUE_KEYS == set(KPI_KEYS)
    assert 0.0 <= kpis["test_accuracy"] <= 1.0
    assert 0.0 <= kpis["activity_fired"] <= 1.0 and 0.0 <= kpis["activity_support"] <= 1.0
    # the active set is the union of the fired units and the support
    assert max(kpis["activity_fired"], kpis["activity_support"]) <= kpis["activity_active"] + 1e-12
    assert kpis["activity_active"] <= kpis["activity_fired"] + kpis["activity_support"] + 1e-12
    assert kpis["learning_state_bytes"] > 0 and kpis["bptt_state_bytes"] > 0 and kpis["guard_events"] == 0


def test_text_output_has_units(capsys):
    assert main(["train", *TINY, "--method", "dense_rtrl"]) == 0
    out = capsys.readouterr().out
    for unit in ("%", "ms/step", "bytes", "nats"):
        assert unit in out


def test_checkpoint_then_resume_matches_a_straight_run(tmp_path, capsys):
    ck = str(tmp_path / "c.npz")
    assert main(["train", *TINY, "--epochs", "2", "--json"]) == 0
    straight = json.loads(capsys.readouterr().out)
    assert main(["train", *TINY, "--epochs", "1", "--checkpoint", ck, "--json"]) == 0
    capsys.readouterr()
    assert main(["train", "--task", "copy", "--quiet", "--epochs", "2", "--resume", ck, "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    for key in ("test_accuracy", "train_loss", "activity_fired", "activity_support", "learning_state_bytes"):
        assert resumed[key] == straight[key]
    assert main(["train", "--task", "copy", "--quiet", "--hidden", "7", "--resume", ck]) == 2
    assert main(["train", "--task", "sine", "--quiet", "--resume", ck]) == 2


def test_trace_holds_the_training_steps_and_weight_updates(tmp_path, capsys):
    from accel_sim.trace.io import read_trace

    path = tmp_path / "run.trace"
    assert main(["train", *TINY, "--trace", str(path)]) == 0
    trace = read_trace(path)
    records = [r for chunk in trace.chunks for r in chunk.records()]
    steps = sum(chunk.n_steps for chunk in trace.chunks)
    assert trace.header.method == "sparse_rtrl" and trace.header.n_hidden == 6
    assert steps == 6 * 4  # 6 sequences of 2 * pattern_length steps
    update = trace.header.op_id("weight_update")
    updates = [r for r in records if r.op == update]
    assert len(updates) == 6 * 2  # one per labelled (recall) step with update_every=1
    masks = trace.header.patterns["W_in"].nnz + trace.header.patterns["R"].nnz
    n, n_out = trace.header.n_hidden, trace.header.n_out
    assert all(r.macs == masks + 5 * n + n_out * n + n_out for r in updates)  # the unmasked parameters


def test_zero_epochs_is_refused_and_an_untrained_run_still_gives_valid_json(capsys):
    assert main(["train", *TINY, "--epochs", "0", "--json"]) == 2  # nothing to train: bad input (issue 18)
    assert "--epochs must be >= 1" in capsys.readouterr().err
    from rtrl.online import fit_task  # the Python API may still evaluate an untrained model

    result = fit_task(task="copy", task_options={"n_train": 6, "n_test": 3, "pattern_length": 2}, n_hidden=6,
                      epochs=0)
    kpis = json.loads(json.dumps(result.kpis.to_dict()), parse_constant=pytest.fail)  # NaN is not JSON
    assert kpis["train_loss"] is None and kpis["guard_events"] == 0


def test_pseudo_derivative_and_shared_mask_options_reach_the_model(tmp_path, capsys):
    """--pseudo-width / --pseudo-gamma set the run's (gamma, eps); --shared-masks gives the three
    recurrent matrices one mask; a resume keeps them (the checkpoint's run settings)."""
    from rtrl.online.checkpoint import load_checkpoint

    ck = tmp_path / "c.npz"
    assert main(["train", *TINY, "--pseudo-width", "0.07", "--pseudo-gamma", "0.9", "--shared-masks",
                 "--checkpoint", str(ck), "--json"]) == 0
    capsys.readouterr()
    arrays, doc = load_checkpoint(str(ck))
    assert doc["run"]["pseudo_derivative"] == [0.9, 0.07] and doc["run"]["shared_masks"] is True
    kept = {k: arrays[f"params/{k}"] != 0 for k in ("R_u", "R_r", "R_z")}
    assert np.array_equal(kept["R_u"] | kept["R_r"] | kept["R_z"], kept["R_u"])  # one mask
    assert main(["train", "--task", "copy", "--quiet", "--epochs", "2", "--resume", str(ck), "--json"]) == 0
    assert main(["train", "--task", "copy", "--quiet", "--epochs", "2", "--resume", str(ck),
                 "--pseudo-width", "0.5"]) == 2  # differs from the checkpoint's run


def test_cli_and_sweep_defaults_are_the_models():
    import inspect

    from codesign.cli.train import DEFAULTS
    from codesign.sweep import spec
    from rtrl import EGRU
    from rtrl.model import DEFAULT_PSEUDO_DERIVATIVE, DEFAULT_THRESHOLD_MEAN
    from rtrl.online import RunSettings

    params = inspect.signature(EGRU).parameters
    assert params["pseudo_derivative"].default == DEFAULT_PSEUDO_DERIVATIVE == tuple(DEFAULTS["pseudo_derivative"])
    assert params["threshold_mean"].default == DEFAULT_THRESHOLD_MEAN == DEFAULTS["threshold_mean"]
    assert spec.DEFAULT_PSEUDO_DERIVATIVE == DEFAULT_PSEUDO_DERIVATIVE == RunSettings().pseudo_derivative
    assert spec.DEFAULT_THRESHOLD_MEAN == DEFAULT_THRESHOLD_MEAN == RunSettings().threshold_mean
    for key in ("epochs", "lr", "lr_decay", "n_hidden", "weight_density"):
        assert DEFAULTS[key] == getattr(RunSettings(), key), key
