"""One call from settings to KPIs: build task, model and learner, train online, evaluate.

``train(...)`` returns the :class:`TrainKPIs`; ``fit_task(...)`` returns a :class:`TrainResult`
with the trained model, guard events and per-epoch losses as well. Both take the same settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from rtrl.model import DEFAULT_PSEUDO_DERIVATIVE, DEFAULT_THRESHOLD_MEAN
from rtrl.tasks import Task, get_task

from .checkpoint import load_checkpoint
from .checkpoint_check import check_run
from .guard import GuardConfig, GuardEvent
from .kpi import EvalResult, TrainKPIs, evaluate, kept_weight_fraction
from .trainer import OnlineTrainer, Progress, TrainConfig


@dataclass(frozen=True)
class RunSettings:
    """What defines a run (stored in checkpoints; a resume must match except ``epochs``)."""

    task: str = "digits"
    task_options: dict = field(default_factory=dict)
    method: str = "sparse_rtrl"
    n_hidden: int = 64
    weight_density: float = 0.25
    threshold_mean: float = DEFAULT_THRESHOLD_MEAN
    pseudo_derivative: tuple[float, float] = DEFAULT_PSEUDO_DERIVATIVE  # (gamma, eps)
    epochs: int = 6
    lr: float = 1e-2
    optimizer: str = "adam"
    update_every: int | None = None  # None: 1 for the RTRL methods, 0 (per sequence) for BPTT
    clip_norm: float = 1.0
    lr_decay: float = 0.7  # learning-rate factor per epoch
    seed: int = 0
    dtype: str = "float32"
    shared_masks: bool = False  # one mask for R_u, R_r, R_z (rtrl.model.EGRU)
    rewire_every: int = 0  # steps between mask rewirings, inside sequences too (rtrl.rewire; 0 = fixed)
    rewire_fraction: float = 0.1
    rewire_grow: str = "random"

    def resolved_update_every(self) -> int:
        if self.update_every is not None:
            return int(self.update_every)
        return 0 if self.method == "bptt" else 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pseudo_derivative"] = list(self.pseudo_derivative)
        return d


@dataclass
class TrainResult:
    """KPIs plus the trained ``model``, the test evaluation, guard events and training progress."""

    kpis: TrainKPIs
    test: EvalResult
    events: list[GuardEvent]
    progress: Progress
    model: object
    settings: RunSettings


def fit_task(
    settings: RunSettings | None = None,
    *,
    prebuilt_task: Task | None = None,
    recorder=None,
    checkpoint: str | None = None,
    checkpoint_every: int = 0,
    resume: str | None = None,
    stop_after: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    guard: GuardConfig | None = None,
    model=None,
    **overrides,
) -> TrainResult:
    """Train per ``settings`` (or keyword ``overrides`` of the defaults) and evaluate on the test set.

    ``prebuilt_task``: a Task built already (else built from ``settings.task``/``task_options``/``seed``);
    ``recorder``: receives the training learner's ops and the weight updates; ``resume``: a
    checkpoint to continue from (its settings must match, except ``epochs``); ``model``: an EGRU
    built already by :func:`make_model` (e.g. to describe it in a trace header first)."""
    from rtrl import make_learner  # the learners; imported here so tasks/optim stand alone

    settings = RunSettings(**overrides) if settings is None else settings
    if resume is not None:
        _check_resume(resume, settings)
    task = prebuilt_task
    if task is None:
        task = build_task(settings)
    model = make_model(settings, task) if model is None else model
    learner = make_learner(model, settings.method)
    config = TrainConfig(
        epochs=settings.epochs, lr=settings.lr, optimizer=settings.optimizer,
        update_every=settings.resolved_update_every(), clip_norm=settings.clip_norm,
        lr_decay=settings.lr_decay, seed=settings.seed, guard=guard or GuardConfig(),
        rewire_every=settings.rewire_every, rewire_fraction=settings.rewire_fraction, rewire_grow=settings.rewire_grow,
    )
    trainer = OnlineTrainer(model, learner, config, recorder=recorder)
    if resume is not None:
        trainer.restore(resume)
    progress = trainer.fit(
        task.train, checkpoint=checkpoint, checkpoint_every=checkpoint_every, stop_after=stop_after,
        on_progress=on_progress, meta=settings.to_dict(),
    )
    test = evaluate(make_learner(model, "bptt"), task.test, model.n_hidden)
    bptt = make_learner(model, "bptt")  # what BPTT would hold for one training sequence
    for x, target in zip(task.train.xs[0], task.train.targets[0]):
        bptt.step(x, int(target))
    steps = max(progress.steps, 1)
    kpis = TrainKPIs(
        test_accuracy=float(test.accuracy),
        train_loss=float(progress.train_loss),
        activity_fired=progress.fired_sum / (steps * model.n_hidden),
        activity_support=progress.support_sum / (steps * model.n_hidden),
        activity_active=progress.active_sum / (steps * model.n_hidden),
        weight_density=kept_weight_fraction(model.masks),
        step_time_ms=1e3 * progress.time_s / steps,
        learning_state_bytes=int(max(progress.max_state_bytes, trainer.learner.state_bytes())),
        bptt_state_bytes=int(bptt.state_bytes()),
        guard_events=len(progress.events),
        rewire_events=int(progress.rewire_events),
    )
    return TrainResult(kpis, test, trainer.events, progress, model, settings)


def make_model(settings: RunSettings, task: Task):
    """The EGRU a run with ``settings`` trains on ``task`` (seeded by ``settings.seed``)."""
    from rtrl import EGRU

    return EGRU(
        task.n_in, settings.n_hidden, task.n_out, weight_density=settings.weight_density,
        threshold_mean=settings.threshold_mean, pseudo_derivative=tuple(settings.pseudo_derivative),
        seed=settings.seed, dtype=np.dtype(settings.dtype), shared_masks=bool(settings.shared_masks),
    )


def build_task(settings: RunSettings) -> Task:
    """The task of ``settings``, seeded by ``settings.seed`` unless its options name a seed."""
    return get_task(settings.task, **{"seed": settings.seed, **settings.task_options})


def train(settings: RunSettings | None = None, **kwargs) -> TrainKPIs:
    """Fast path: train online and return only the KPIs (see :func:`fit_task` for arguments)."""
    return fit_task(settings, **kwargs).kpis


def _check_resume(path: str, settings: RunSettings) -> None:
    _, meta = load_checkpoint(path)
    stored = check_run(path, meta.get("run", {}))
    mine = settings.to_dict()
    for key, value in mine.items():
        if key != "epochs" and key in stored and stored[key] != value:
            raise ValueError(f"{path}: checkpoint was made with {key}={stored[key]!r}, this run has {value!r}")
