"""``accel-sim train``: exit codes, the exact JSON keys, checkpoint/resume from the command line."""

import json

import pytest

from codesign.cli import main
from rtrl.online import KPI_KEYS

TINY = ["--task", "copy", "--task-option", "n_train=6", "--task-option", "n_test=3",
        "--task-option", "pattern_length=2", "--hidden", "6", "--quiet"]

ISSUE_KEYS = {"test_accuracy", "train_loss", "activity_fired", "activity_support", "weight_density",
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
