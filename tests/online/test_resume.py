"""Checkpoint -> resume continues bit-exactly (parameters, optimiser, guard, progress)."""

import numpy as np
import pytest

from online_fakes import FakeLearner, FakeModel, toy_dataset
from rtrl.online import GuardConfig, OnlineTrainer, TrainConfig, fit_task
from rtrl.online.checkpoint import load_checkpoint

INJECT = {37: "nan_loss", 90: "inf_grad"}  # rollbacks before and after the interruption


def _fake_trainer(epochs, optimizer="adam"):
    model = FakeModel()
    cfg = TrainConfig(epochs=epochs, optimizer=optimizer, lr=0.05, guard=GuardConfig(snapshot_every=3))
    return model, OnlineTrainer(model, FakeLearner(model, INJECT), cfg)


def _same(a: dict, b: dict):
    assert set(a) == set(b)
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("stop_after", [1, 7, 13, 24])
def test_fake_resume_is_bit_exact(tmp_path, optimizer, stop_after):
    data = toy_dataset(n=12, n_steps=5)
    model_a, full = _fake_trainer(2, optimizer)
    full.fit(data)

    model_b, first = _fake_trainer(2, optimizer)
    first.fit(data, checkpoint=str(tmp_path / "c.npz"), stop_after=stop_after)
    model_c, second = _fake_trainer(2, optimizer)  # fresh objects, as in a new process
    second.learner.t = first.learner.t  # the fake's fault schedule counts steps since creation
    second.restore(str(tmp_path / "c.npz"))
    second.fit(data)

    _same(model_a.params, model_c.params)
    _same(full.optimizer.get_state(), second.optimizer.get_state())
    a, c = full.progress, second.progress
    assert (a.steps, a.updates, a.lr, a.events, a.epoch_losses) == (c.steps, c.updates, c.lr, c.events, c.epoch_losses)
    assert len(a.events) == 2


def test_extending_epochs_on_resume_equals_training_longer(tmp_path):
    data = toy_dataset(n=6, n_steps=4)
    model_a, full = _fake_trainer(3)
    full.learner.inject = {}
    full.fit(data)
    model_b, one = _fake_trainer(1)
    one.learner.inject = {}
    one.fit(data, checkpoint=str(tmp_path / "c.npz"))
    model_c, more = _fake_trainer(3)
    more.learner.inject = {}
    more.restore(str(tmp_path / "c.npz"))
    more.fit(data)
    _same(model_a.params, model_c.params)


@pytest.mark.parametrize("method", ["sparse_rtrl", "bptt"])
def test_real_egru_resume_is_bit_exact(tmp_path, method):
    common = dict(task="copy", task_options={"n_train": 12, "n_test": 4, "pattern_length": 3},
                  method=method, n_hidden=8, weight_density=0.5, epochs=2, lr=0.02)
    full = fit_task(**common)
    path = str(tmp_path / "run.npz")
    fit_task(**common, checkpoint=path, stop_after=17)
    arrays, meta = load_checkpoint(path)
    assert meta["progress"]["sequences"] == 17 and meta["run"]["method"] == method
    resumed = fit_task(**common, resume=path)
    _same(full.model.params, resumed.model.params)
    assert full.kpis.test_accuracy == resumed.kpis.test_accuracy
    assert full.kpis.train_loss == resumed.kpis.train_loss


def test_resume_with_different_settings_is_refused(tmp_path):
    common = dict(task="copy", task_options={"n_train": 4, "n_test": 2, "pattern_length": 2}, n_hidden=6)
    path = str(tmp_path / "run.npz")
    fit_task(**common, checkpoint=path)
    with pytest.raises(ValueError, match="n_hidden=6"):
        fit_task(**{**common, "n_hidden": 7}, resume=path)
