"""Divergence guard: decide when an online run has gone wrong, and remember where to go back to.

Triggers: a non-finite loss, gradient or updated parameter, or a **loss spike**: the mean loss
of the last ``recent`` updates exceeds both ``spike_factor`` x the mean of the ``window`` updates
before them and the floor ``spike_floor`` (default 2 ln(n_out): twice the loss of a uniform guess,
which a model that learns does not reach on average but one that blows up does). A few hard
examples in a row do not trip it.
The trainer reacts by restoring the last :class:`Snapshot` (parameters, optimiser state, learner
state), multiplying the learning rate by ``lr_cut`` and appending a :class:`GuardEvent`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class GuardConfig:
    """``window``/``recent``: updates; ``spike_factor``: ratio; ``spike_floor``: nats per labelled
    step (None = 2 ln(n_out)); ``lr_cut``: factor applied per event; ``snapshot_every``:
    sequences between snapshots."""

    window: int = 64
    recent: int = 16
    spike_factor: float = 4.0
    spike_floor: float | None = None
    lr_cut: float = 0.5
    snapshot_every: int = 16

    def __post_init__(self) -> None:
        if self.window < 1 or self.recent < 1 or self.snapshot_every < 1:
            raise ValueError("guard: window, recent and snapshot_every must be >= 1")
        if not (self.spike_factor >= 1.0):
            raise ValueError(f"guard: spike_factor must be >= 1, got {self.spike_factor}")
        if not (0.0 < self.lr_cut <= 1.0):
            raise ValueError(f"guard: lr_cut must lie in (0, 1], got {self.lr_cut}")


@dataclass(frozen=True)
class GuardEvent:
    """One rollback: at training ``step`` (global step count) because of ``reason``."""

    step: int
    epoch: int
    reason: str
    lr_before: float
    lr_after: float
    restored_step: int  # the global step at which the restored snapshot was taken

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Snapshot:
    """Everything a rollback restores: copies of parameters, optimiser and learner state."""

    step: int
    params: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    learner: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # the weight masks then (rewiring)


def all_finite(arrays: dict[str, np.ndarray]) -> bool:
    return all(bool(np.all(np.isfinite(a))) for a in arrays.values())


class LossMonitor:
    """Running windows of per-update losses; :meth:`spike` says whether the recent ones blew up."""

    def __init__(self, config: GuardConfig, n_out: int) -> None:
        self.config = config
        self.floor = 2.0 * float(np.log(n_out)) if config.spike_floor is None else float(config.spike_floor)
        self.history: deque[float] = deque(maxlen=config.window)
        self.recent: deque[float] = deque(maxlen=config.recent)

    def observe(self, loss: float) -> bool:
        """Add one update's mean loss; True if this makes a spike (the loss is then not kept)."""
        if len(self.recent) == self.config.recent:
            self.history.append(self.recent.popleft())
        self.recent.append(float(loss))
        if len(self.history) >= max(1, self.config.window // 2):
            recent = float(np.mean(self.recent))
            if recent > self.floor and recent > self.config.spike_factor * float(np.mean(self.history)):
                self.recent.clear()
                return True
        return False

    def forget_recent(self) -> None:
        self.recent.clear()

    def get_state(self) -> dict[str, np.ndarray]:
        return {"history": np.array(self.history, np.float64), "recent": np.array(self.recent, np.float64)}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.history = deque((float(v) for v in state["history"]), maxlen=self.config.window)
        self.recent = deque((float(v) for v in state["recent"]), maxlen=self.config.recent)
