"""The online trainer: stream sequences through a learner and update the weights as it goes.

Updates happen every ``update_every`` steps (1 = every step) and at the end of each sequence
(``update_every=0``: only then), and only when a labelled step occurred since the last update.
Gradients are averaged over those labelled steps, clipped by global norm, applied by SGD or Adam;
thresholds are clamped to [0, 1] and masked weights kept at zero. A divergence guard (see
:mod:`rtrl.online.guard`) rolls back to the last snapshot when anything goes non-finite or the
loss spikes, so the parameters in use are always finite. With ``rewire_every`` the weight masks
are rewired (:mod:`rtrl.rewire`) after the step at which that many steps have passed since the
last rewiring, inside a sequence too; the learner keeps its state across. The whole trainer state
can be saved to a checkpoint at a sequence boundary and restored; a resumed run repeats the same
arithmetic.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from rtrl.backend import to_host
from rtrl.rewire import RewireConfig, rewire
from rtrl.tasks import Dataset, Sequence

from .checkpoint import check_writable, load_checkpoint, pack, save_checkpoint, unpack
from .checkpoint_check import check_arrays, check_masks, check_progress, check_run
from .guard import GuardConfig, GuardEvent, LossMonitor, Snapshot, all_finite
from .optim import OPTIMIZERS, clip_by_global_norm, make_optimizer
from .recording import StepRecorder, n_updated_params


@dataclass(frozen=True)
class TrainConfig:
    """``lr``: initial learning rate; ``update_every``: steps between updates (0 = per sequence);
    ``clip_norm``: max global gradient norm (0 = off); ``lr_decay``: factor applied to the learning
    rate at the end of every epoch (1 = constant); ``seed``: shuffling order per epoch."""

    epochs: int = 1
    lr: float = 1e-2
    optimizer: str = "adam"
    update_every: int = 1
    clip_norm: float = 1.0
    lr_decay: float = 1.0
    shuffle: bool = True
    seed: int = 0
    guard: GuardConfig = field(default_factory=GuardConfig)
    rewire_every: int = 0  # steps between mask rewirings (rtrl.rewire; 0 = fixed masks)
    rewire_fraction: float = 0.1
    rewire_grow: str = "random"

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
        if self.update_every < 0:
            raise ValueError(f"update_every must be >= 0 (0 = once per sequence), got {self.update_every}")
        if not (0.0 < self.lr_decay <= 1.0):
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay}")
        if not (self.clip_norm >= 0):
            raise ValueError(f"clip_norm must be >= 0 (0 = off), got {self.clip_norm}")
        self.rewiring()  # validates the rewiring fields

    def rewiring(self) -> RewireConfig:
        return RewireConfig(self.rewire_every, self.rewire_fraction, self.rewire_grow)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    """Where training stands and running sums (all JSON-safe). Steps and sequences are counts;
    ``loss_sum`` nats; ``time_s`` wall seconds spent in steps and updates."""

    epoch: int = 0
    index: int = 0  # next position in this epoch's order
    sequences: int = 0
    steps: int = 0
    updates: int = 0
    lr: float = 0.0
    fired_sum: int = 0
    support_sum: int = 0
    active_sum: int = 0  # units in fired ∪ support, summed over steps
    rewire_events: int = 0  # mask rewirings so far (rtrl.rewire)
    rewired_at_step: int = 0  # progress.steps at the last rewiring
    epoch_loss_sum: float = 0.0
    epoch_labelled: int = 0
    epoch_losses: list[float] = field(default_factory=list)  # mean loss per finished epoch
    time_s: float = 0.0
    max_state_bytes: int = 0
    events: list[dict] = field(default_factory=list)

    @property
    def train_loss(self) -> float:
        """Mean loss per labelled step of the current epoch, else of the last finished one."""
        if self.epoch_labelled:
            return self.epoch_loss_sum / self.epoch_labelled
        return self.epoch_losses[-1] if self.epoch_losses else float("nan")


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The order sequences are visited in epoch ``epoch`` (depends only on seed and epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)


class OnlineTrainer:
    """Train ``model`` (has ``params``, ``masks``, ``set_params``, ``n_hidden``, ``n_out``) with
    ``learner`` (the rtrl online interface). With a ``recorder``, the learner's ops and the
    trainer's weight updates go to it (the trainer installs a :class:`StepRecorder` on the learner).
    """

    def __init__(self, model, learner, config: TrainConfig, recorder=None) -> None:
        self.model, self.learner, self.config = model, learner, config
        self.optimizer = make_optimizer(config.optimizer)
        self.monitor = LossMonitor(config.guard, model.n_out)
        self.progress = Progress(lr=config.lr)
        if config.rewire_every and config.rewire_grow == "gradient" and not getattr(learner, "has_dense_gradient", False):
            raise ValueError(f"rewire_grow 'gradient' needs the gradient of masked-out weights, which "
                             f"{learner.method} does not compute (dense_rtrl and bptt do); use 'random'")
        self._grow_scores: dict | None = None  # |gradient| of every weight at the last update (rewire_grow gradient)
        self.recorder = StepRecorder(recorder) if recorder is not None else None
        if self.recorder is not None:
            learner.recorder = self.recorder
        self.snapshot = self._take_snapshot()

    # -- main loop -------------------------------------------------------------------------
    def fit(
        self,
        data: Dataset,
        checkpoint: str | None = None,
        checkpoint_every: int = 0,
        stop_after: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        meta: dict | None = None,
    ) -> Progress:
        """Train up to ``config.epochs`` epochs from wherever the trainer stands.

        ``checkpoint``: path written every ``checkpoint_every`` sequences (0 = only at the end)
        and when stopping; ``stop_after``: stop once this many sequences are done in total (for
        time-boxed runs); ``on_progress`` is called after every sequence; ``meta`` is stored in
        checkpoints (e.g. the run's settings)."""
        cfg, pos = self.config, self.progress
        if checkpoint:
            check_writable(checkpoint)  # fail now, not after the run
        while pos.epoch < cfg.epochs:
            order = epoch_order(len(data), cfg.seed, pos.epoch, cfg.shuffle)
            while pos.index < len(data):
                if stop_after is not None and pos.sequences >= stop_after:
                    if checkpoint:
                        self.save(checkpoint, meta)
                    return pos
                if pos.sequences % cfg.guard.snapshot_every == 0:
                    self.snapshot = self._take_snapshot()
                self._run_sequence(data[int(order[pos.index])])
                pos.index += 1
                pos.sequences += 1
                if checkpoint and checkpoint_every and pos.sequences % checkpoint_every == 0:
                    self.save(checkpoint, meta)
                if on_progress is not None:
                    on_progress(pos)
            pos.epoch_losses.append(pos.epoch_loss_sum / max(pos.epoch_labelled, 1))
            pos.epoch_loss_sum, pos.epoch_labelled = 0.0, 0
            pos.epoch += 1
            pos.index = 0
            pos.lr *= cfg.lr_decay
        if checkpoint:
            self.save(checkpoint, meta)
        return pos

    def _run_sequence(self, seq: Sequence) -> None:
        pos, k = self.progress, self.config.update_every
        self.learner.reset()
        pending: list[float] = []
        n_steps = seq.n_steps
        for t in range(n_steps):
            start = time.perf_counter()
            target = int(seq.targets[t])
            learner = self.learner  # a rewiring (below) replaces it
            out = learner.step(seq.xs[t], target)
            pos.steps += 1
            pos.fired_sum += int(out.n_fired)
            pos.support_sum += int(out.n_support)
            pos.active_sum += int(out.n_active)
            pos.max_state_bytes = max(pos.max_state_bytes, int(learner.state_bytes()))
            ok = bool(np.isfinite(out.loss)) and bool(np.all(np.isfinite(out.logits)))
            if not ok:
                self._rollback("non-finite loss or logits")
            else:
                if target >= 0:
                    pending.append(float(out.loss))
                if pending and ((k > 0 and (t + 1) % k == 0) or t == n_steps - 1):
                    ok = self._update(pending)
                    pending = []
            if self.recorder is not None:
                self.recorder.close_step()
            if ok:
                self._maybe_rewire()
            pos.time_s += time.perf_counter() - start
            if not ok:
                return

    def _update(self, losses: list[float]) -> bool:
        """Apply one update from the gradients accumulated over ``losses``' steps; False if the
        guard rolled back instead."""
        model, cfg, pos = self.model, self.config, self.progress
        mean_loss = sum(losses) / len(losses)
        if self.monitor.observe(mean_loss):
            self._rollback(f"loss spike ({mean_loss:.4g} nats)")
            return False
        if self.config.rewire_every and self.config.rewire_grow == "gradient":
            grads = self.learner.grads(masked=False)  # one backward pass: keep the dense gradient's size
            self._grow_scores = {name: np.abs(to_host(grads[name])) for name in model.masks}
            for name, mask in model.device_masks.items():
                grads[name] = model.xp.where(mask, grads[name], 0).astype(model.dtype)
        else:
            grads = self.learner.grads()
        if not all_finite(grads):
            self._rollback("non-finite gradient")
            return False
        scale = 1.0 / len(losses)
        grads = {key: g * g.dtype.type(scale) for key, g in grads.items()}
        grads, _ = clip_by_global_norm(grads, cfg.clip_norm)
        new = self.optimizer.step(model.params, grads, pos.lr)
        if "thr" in new:
            new["thr"] = np.clip(new["thr"], 0.0, 1.0).astype(new["thr"].dtype)
        for name, mask in model.masks.items():
            new[name] = np.where(mask, new[name], 0).astype(new[name].dtype)
        if not all_finite(new):
            self._rollback("non-finite parameter after update")
            return False
        model.set_params(new)
        self.learner.zero_grad()
        pos.updates += 1
        pos.epoch_loss_sum += sum(losses)
        pos.epoch_labelled += len(losses)
        if self.recorder is not None:
            self.recorder.weight_update(self.learner.ops["weight_update"], n_updated_params(model.params, model.masks))
        return True

    # -- rewiring --------------------------------------------------------------------------
    def _maybe_rewire(self) -> None:
        """After a step (and its update, if one was due): once ``rewire_every`` steps have passed
        since the last rewiring, rewire the masks (rtrl.rewire), inside the sequence or at its
        end; the learner carries its state across (``Learner.rewired``: M remapped column by
        column, grown weights at zero), the optimizer's state of every changed entry starts over,
        and the mask changes go to the trace, in force from the next step."""
        cfg, pos = self.config.rewiring(), self.progress
        if not cfg.every or pos.steps - pos.rewired_at_step < cfg.every:
            return
        rng = np.random.default_rng([self.config.seed, pos.rewire_events])  # resumes identically
        scores = self._grow_scores if cfg.grow == "gradient" else None
        edits = rewire(self.model, cfg.fraction, rng, scores)
        self.learner = self.learner.rewired(edits)
        self._forget_optimizer_state(edits)
        pos.rewire_events += 1
        pos.rewired_at_step = pos.steps
        if self.recorder is not None:
            self.recorder.mask_changes(self.model, edits)

    def _forget_optimizer_state(self, edits) -> None:
        """Optimizer moments of removed and added entries start over at zero."""
        state = self.optimizer.get_state()
        for key, value in state.items():
            name = key.split(".", 1)[-1]
            for edit in edits:
                if edit.name == name and value.ndim == 2:
                    flat = value.reshape(-1)
                    flat[edit.removed] = 0
                    flat[edit.added] = 0
        self.optimizer.set_state(state)

    def _restore_masks(self, masks: dict[str, np.ndarray]) -> None:
        """Put the model on ``masks`` (a snapshot's or checkpoint's) and rebuild the learner if they differ."""
        if masks and any(not np.array_equal(masks[k], self.model.masks[k]) for k in masks):
            self.model.set_masks({k: np.asarray(v, bool) for k, v in masks.items()})
            self.learner = self.learner.rebuilt()

    # -- guard -----------------------------------------------------------------------------
    def _take_snapshot(self) -> Snapshot:
        return Snapshot(
            step=self.progress.steps,
            params={k: v.copy() for k, v in self.model.params.items()},
            optimizer=self.optimizer.get_state(),
            learner=self._learner_state(),
            masks={k: m.copy() for k, m in self.model.masks.items()},
        )

    def _learner_state(self) -> dict[str, np.ndarray]:
        """The learner's state, or {} for learners that keep none between sequences (BPTT)."""
        try:
            return {k: np.array(v, copy=True) for k, v in self.learner.get_state().items()}
        except NotImplementedError:
            return {}

    def _set_learner_state(self, state: dict[str, np.ndarray]) -> None:
        if state:
            self.learner.set_state({k: np.array(v, copy=True) for k, v in state.items()})
        else:
            self.learner.reset()

    def _rollback(self, reason: str) -> None:
        snap, pos = self.snapshot, self.progress
        self._restore_masks(snap.masks)  # first: the snapshot's parameters are zero off its masks
        self.model.set_params({k: v.copy() for k, v in snap.params.items()})
        self.optimizer.set_state(snap.optimizer)
        self._set_learner_state(snap.learner)
        self.monitor.forget_recent()
        lr_after = pos.lr * self.config.guard.lr_cut
        event = GuardEvent(pos.steps, pos.epoch, reason, pos.lr, lr_after, snap.step)
        pos.events.append(event.to_dict())
        pos.lr = lr_after

    @property
    def events(self) -> list[GuardEvent]:
        return [GuardEvent(**e) for e in self.progress.events]

    # -- checkpoints -----------------------------------------------------------------------
    def save(self, path: str, meta: dict | None = None) -> None:
        """Write the complete trainer state (atomically) to ``path``."""
        arrays = {
            **pack("params", self.model.params),
            **pack("optimizer", self.optimizer.get_state()),
            **pack("learner", self._learner_state()),
            **pack("monitor", self.monitor.get_state()),
            **pack("snapshot/params", self.snapshot.params),
            **pack("snapshot/optimizer", self.snapshot.optimizer),
            **pack("snapshot/learner", self.snapshot.learner),
        }
        if self._grow_scores is not None:  # gradient growth reads them at the next rewiring
            arrays.update(pack("grow_scores", self._grow_scores))
        if self.progress.rewire_events:  # fixed masks are rebuilt from the seed; rewired ones are stored
            arrays.update(pack("masks", {k: m.astype(np.uint8) for k, m in self.model.masks.items()}))
            arrays.update(pack("snapshot/masks", {k: m.astype(np.uint8) for k, m in self.snapshot.masks.items()}))
        doc = {
            "progress": asdict(self.progress),
            "snapshot_step": self.snapshot.step,
            "config": self.config.to_dict(),
            "run": meta or {},
        }
        save_checkpoint(path, arrays, doc)

    def restore(self, path: str) -> dict:
        """Load a checkpoint written by :meth:`save` into this trainer; returns its ``run`` meta."""
        arrays, doc = load_checkpoint(path)
        check_progress(path, doc, Progress)
        check_arrays(path, arrays, self.model.params, self._learner_state(), self.monitor.get_state())
        run = check_run(path, doc.get("run", {}))
        check_masks(path, arrays, self.model.masks)
        try:
            self._restore_masks({k: v.astype(bool) for k, v in unpack("masks", arrays).items()})
            self.model.set_params(unpack("params", arrays))
            self.optimizer.set_state(unpack("optimizer", arrays))
            self._set_learner_state(unpack("learner", arrays))
            self.monitor.set_state(unpack("monitor", arrays))
            snap = unpack("snapshot", arrays)
            self.snapshot = Snapshot(
                doc["snapshot_step"], unpack("params", snap), unpack("optimizer", snap), unpack("learner", snap),
                {k: v.astype(bool) for k, v in unpack("masks", snap).items()} or
                {k: m.copy() for k, m in self.model.masks.items()},
            )
            self.progress = Progress(**doc["progress"])
            self._grow_scores = unpack("grow_scores", arrays) or None  # shapes checked by check_arrays
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: checkpoint does not fit this trainer ({exc})") from None
        return run
