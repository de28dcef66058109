"""Divergence guard: injected NaN/inf and loss spikes roll back to the snapshot, cut the LR,
and log an event; the parameters in use stay finite."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from online_fakes import FakeLearner, FakeModel, toy_dataset
from rtrl.online import GuardConfig, LossMonitor, OnlineTrainer, TrainConfig


def _trainer(inject, snapshot_every=4, lr=0.05, epochs=1, **guard):
    model = FakeModel()
    learner = FakeLearner(model, inject)
    config = TrainConfig(epochs=epochs, lr=lr, shuffle=False,
                         guard=GuardConfig(snapshot_every=snapshot_every, **guard))
    return model, learner, OnlineTrainer(model, learner, config)


class Spy:
    """Wrap trainer._take_snapshot to remember every snapshot's parameters by step."""

    def __init__(self, trainer):
        self.by_step, self._take = {}, trainer._take_snapshot
        trainer._take_snapshot = self

    def __call__(self):
        snap = self._take()
        self.by_step[snap.step] = {k: v.copy() for k, v in snap.params.items()}
        return snap


@pytest.mark.parametrize("fault,reason", [("nan_loss", "non-finite loss"), ("nan_logits", "non-finite loss"),
                                           ("inf_grad", "non-finite gradient")])
def test_injected_fault_rolls_back_to_snapshot(fault, reason):
    data = toy_dataset(n=8, n_steps=5)
    # step 22 is in sequence 4 (steps 20..24), after the snapshot taken before sequence 4
    fault_step = 24 if fault == "inf_grad" else 22
    model, learner, trainer = _trainer({fault_step: fault})
    spy = Spy(trainer)
    trainer.fit(data, stop_after=5)  # runs sequences 0..4; the fault hits in the last one
    (event,) = trainer.events
    assert reason in event.reason
    assert event.restored_step == 20 and event.step == fault_step + 1
    assert event.lr_after == pytest.approx(0.5 * event.lr_before) and trainer.progress.lr == event.lr_after
    for k, v in spy.by_step[20].items():
        np.testing.assert_array_equal(model.params[k], v)
    trainer.fit(data)  # training goes on from the rollback, with finite weights
    assert all(np.all(np.isfinite(v)) for v in model.params.values())
    assert len(trainer.events) == 1


def test_loss_spike_rolls_back():
    data = toy_dataset(n=40, n_steps=5)
    inject = {5 * i + 4: "spike" for i in range(30, 34)}  # four sequences in a row blow up
    model, learner, trainer = _trainer(inject, snapshot_every=10, window=16, recent=2, spike_floor=5.0)
    spy = Spy(trainer)
    trainer.fit(data)
    assert len(trainer.events) >= 1
    event = trainer.events[0]
    assert "loss spike" in event.reason and event.restored_step == 150
    assert trainer.progress.lr < 0.05


def test_a_few_hard_examples_do_not_trip_the_monitor():
    mon = LossMonitor(GuardConfig(window=20, recent=5), n_out=10)
    for _ in range(40):
        assert not mon.observe(0.1)
    # two confidently wrong examples: recent mean 3.26 > 4 x 0.1, but below the floor 2 ln 10
    assert not any([mon.observe(8.0), mon.observe(8.0), mon.observe(0.1), mon.observe(0.1), mon.observe(0.1)])
    assert mon.observe(50.0)  # (8 + 0.3 + 50) / 5 = 11.7 > 2 ln 10 and > 4 x baseline


def test_spike_needs_both_the_ratio_and_the_floor():
    mon = LossMonitor(GuardConfig(window=4, recent=2, spike_factor=4.0, spike_floor=1.0), n_out=2)
    for _ in range(6):
        mon.observe(0.5)
    assert not mon.observe(1.9)  # mean(0.5, 1.9) = 1.2 > floor, < 4 x 0.5
    assert mon.observe(10.0)  # mean(1.9, 10) = 5.95 > 2 and > floor


def test_monitor_waits_for_history_and_state_round_trips():
    cfg = GuardConfig(window=8, recent=2)
    mon = LossMonitor(cfg, n_out=2)
    assert not mon.observe(1e6)  # no baseline yet: cannot call anything a spike
    for v in np.linspace(0.1, 0.5, 12):
        mon.observe(float(v))
    clone = LossMonitor(cfg, n_out=2)
    clone.set_state(mon.get_state())
    seq = [0.3, 0.2, 9.0, 9.0, 0.1]
    assert [mon.observe(v) for v in seq] == [clone.observe(v) for v in seq]


@settings(max_examples=25, deadline=None)
@given(faults=st.dictionaries(st.integers(0, 119), st.sampled_from(["nan_loss", "inf_grad", "spike", "nan_logits"]),
                              max_size=6))
def test_weights_in_use_are_always_finite_and_each_fault_is_logged(faults):
    data = toy_dataset(n=24, n_steps=5)
    model, learner, trainer = _trainer(faults, snapshot_every=3, window=8, recent=2)
    real_set = model.set_params

    def checked_set(new):
        assert all(np.all(np.isfinite(v)) for v in new.values())
        real_set(new)

    model.set_params = checked_set
    trainer.fit(data)
    assert all(np.all(np.isfinite(v)) for v in model.params.values())
    n_hard = sum(1 for k in faults.values() if k != "spike")
    if n_hard:
        assert 1 <= len(trainer.events) <= len(faults)
    lr = 0.05 * 0.5 ** len(trainer.events)
    assert trainer.progress.lr == pytest.approx(lr)


def test_thresholds_clamped_and_masked_weights_stay_zero():
    data = toy_dataset(n=10, n_steps=3)
    model = FakeModel()
    learner = FakeLearner(model, thr_push=-50.0)  # drives thr up past 1 (gradient negative)
    OnlineTrainer(model, learner, TrainConfig(lr=0.5, optimizer="sgd", clip_norm=0)).fit(data)
    assert np.all(model.params["thr"] == 1.0)
    assert np.all(model.params["R"][~model.masks["R"]] == 0)
    learner.thr_push = 50.0
    OnlineTrainer(model, learner, TrainConfig(lr=0.5, optimizer="sgd", clip_norm=0)).fit(data)
    assert np.all(model.params["thr"] == 0.0)
