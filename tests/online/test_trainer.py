"""Trainer mechanics: update schedule, loss averaging, weight-update trace ops."""

import numpy as np
import pytest

from accel_sim.trace.schema import ListRecorder
from online_fakes import FakeLearner, FakeModel, toy_dataset
from rtrl.online import OnlineTrainer, TrainConfig
from rtrl.online.recording import n_updated_params
from rtrl.tasks.dataset import make_dataset


def _every_step_labelled(n=6, n_steps=4):
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(n, n_steps, 3))
    return make_dataset(xs, (xs[:, :, 0] > 0).astype(np.int64))


@pytest.mark.parametrize("update_every,expected", [(1, 6 * 4), (2, 6 * 2), (3, 6 * 2), (0, 6)])
def test_update_count_follows_schedule(update_every, expected):
    model = FakeModel()
    trainer = OnlineTrainer(model, FakeLearner(model), TrainConfig(update_every=update_every))
    trainer.fit(_every_step_labelled())
    assert trainer.progress.updates == expected


def test_no_update_without_a_labelled_step():
    model = FakeModel()
    trainer = OnlineTrainer(model, FakeLearner(model), TrainConfig(update_every=1))
    trainer.fit(toy_dataset(n=5, n_steps=4))  # label only at the last step
    assert trainer.progress.updates == 5


def test_per_sequence_update_is_sgd_on_the_mean_gradient():
    data = _every_step_labelled(n=1, n_steps=4)
    model = FakeModel()
    ref_model = FakeModel()
    ref = FakeLearner(ref_model)
    for x, t in zip(data.xs[0], data.targets[0]):
        ref.step(x, int(t))
    expected = {k: ref_model.params[k] - 0.1 * g / 4 for k, g in ref.grads().items()}
    expected["thr"] = np.clip(expected["thr"], 0, 1)
    expected["R"] = np.where(model.masks["R"], expected["R"], 0)
    cfg = TrainConfig(update_every=0, optimizer="sgd", lr=0.1, clip_norm=0)
    OnlineTrainer(model, FakeLearner(model), cfg).fit(data)
    for k in expected:
        np.testing.assert_allclose(model.params[k], expected[k], rtol=1e-5, atol=1e-7)


def test_train_loss_is_mean_over_labelled_steps_of_the_last_epoch():
    data = toy_dataset(n=4, n_steps=3)
    model = FakeModel()
    cfg = TrainConfig(epochs=2, optimizer="sgd", lr=1e-9, shuffle=False)
    trainer = OnlineTrainer(model, FakeLearner(model), cfg)
    pos = trainer.fit(data)
    ref_model = FakeModel()
    losses = []
    for seq in data:
        ref = FakeLearner(ref_model)
        losses += [ref.step(x, int(t)).loss for x, t in zip(seq.xs, seq.targets)][-1:]
    assert len(pos.epoch_losses) == 2
    assert pos.train_loss == pytest.approx(np.mean(losses), rel=1e-4)


class OrderRecorder(ListRecorder):
    """Also checks that every op arrives between begin_step and end_step."""

    def __init__(self):
        super().__init__()
        self.open = False

    def begin_step(self, step, sets):
        assert not self.open
        self.open = True
        super().begin_step(step, sets)

    def op(self, record):
        assert self.open
        super().op(record)

    def end_step(self):
        assert self.open
        self.open = False


def test_weight_updates_are_recorded_inside_their_step():
    data = toy_dataset(n=3, n_steps=4)
    model = FakeModel()
    rec = OrderRecorder()
    trainer = OnlineTrainer(model, FakeLearner(model), TrainConfig(), recorder=rec)
    trainer.fit(data)
    assert not rec.open and len(rec.steps) == 12
    updates = [r for r in rec.ops if r.op == 7]
    assert len(updates) == trainer.progress.updates == 3
    n = n_updated_params(model.params, model.masks)
    assert n == 2 * 3 + 2 + int(model.masks["R"].sum()) + 4
    for r in updates:
        assert r.macs == n and r.step in (3, 7, 11)


def test_bad_config_values():
    for kwargs in ({"lr": 0}, {"lr": float("nan")}, {"optimizer": "x"}, {"update_every": -1},
                   {"epochs": -1}, {"clip_norm": -1.0}, {"lr_decay": 0.0}, {"lr_decay": 1.5}):
        with pytest.raises(ValueError):
            TrainConfig(**kwargs)


def test_lr_decay_per_epoch():
    model = FakeModel()
    trainer = OnlineTrainer(model, FakeLearner(model), TrainConfig(epochs=3, lr=0.1, lr_decay=0.5))
    trainer.fit(toy_dataset(n=3, n_steps=2))
    assert trainer.progress.lr == pytest.approx(0.1 * 0.5**3)
