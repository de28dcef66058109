"""The KPIs every training run reports, and test-set evaluation.

Units: accuracies and activities are fractions in [0, 1]; losses are nats (mean cross-entropy over
labelled steps); times are milliseconds of wall time per time step; memory is bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from rtrl.tasks import Dataset


@dataclass(frozen=True)
class TrainKPIs:
    """Exactly the KPI keys of issue 7 (``to_dict`` gives the ``--json`` object).

    ``test_accuracy``: fraction of labelled test steps classified right (bit accuracy for copy).
    ``train_loss``: mean loss per labelled step over the last training epoch (nats).
    ``activity_fired`` / ``activity_support``: mean fraction of hidden units per training step
    that fired / lie in the pseudo-derivative support; ``activity_active``: in their union, the
    active set A whose columns sparse RTRL multiplies (the α of its cost). ``weight_density``: kept fraction of the
    six masked weight matrices. ``step_time_ms``: wall time per training step including weight
    updates (ms). ``learning_state_bytes``: the learner's state as stored (largest seen).
    ``bptt_state_bytes``: what BPTT keeps for one training sequence. ``guard_events``: rollbacks.
    ``rewire_events``: mask rewirings (rtrl.rewire).
    """

    test_accuracy: float
    train_loss: float
    activity_fired: float
    activity_support: float
    activity_active: float
    weight_density: float
    step_time_ms: float
    learning_state_bytes: int
    bptt_state_bytes: int
    guard_events: int
    rewire_events: int = 0

    def to_dict(self) -> dict:
        """Plain dict; a non-finite float (e.g. train_loss of a 0-epoch run) becomes None so the
        result is valid JSON."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}

    def lines(self) -> list[str]:
        """Human-readable lines, each number with its unit."""
        return [
            f"test accuracy         {100 * self.test_accuracy:8.2f} %",
            f"train loss            {self.train_loss:8.4f} nats/labelled step",
            f"activity fired        {100 * self.activity_fired:8.2f} % of units per step",
            f"activity support      {100 * self.activity_support:8.2f} % of units per step",
            f"activity active       {100 * self.activity_active:8.2f} % of units per step (fired or support)",
            f"weight density        {100 * self.weight_density:8.2f} % of weights kept",
            f"step time             {self.step_time_ms:8.3f} ms/step",
            f"learning state        {self.learning_state_bytes:8d} bytes",
            f"BPTT state (same T)   {self.bptt_state_bytes:8d} bytes",
            f"guard events          {self.guard_events:8d} rollbacks",
            f"rewire events         {self.rewire_events:8d} mask rewirings",
        ]


KPI_KEYS = tuple(f.name for f in fields(TrainKPIs))


@dataclass(frozen=True)
class EvalResult:
    """Test-set result: ``accuracy`` (fraction), ``loss`` (nats per labelled step),
    ``n_labelled`` (labelled steps scored), activities as fractions of units per step."""

    accuracy: float
    loss: float
    n_labelled: int
    activity_fired: float
    activity_support: float
    activity_active: float = 0.0


def evaluate(learner, data: Dataset, n_hidden: int) -> EvalResult:
    """Run every sequence of ``data`` through ``learner`` (no weight updates) and score the argmax
    of the logits at labelled steps. Any learner works; BPTT's is the cheapest forward pass."""
    correct = labelled = steps = fired = support = active = 0
    loss = 0.0
    for seq in data:
        learner.reset()
        for x, target in zip(seq.xs, seq.targets):
            out = learner.step(x, int(target))
            steps += 1
            fired += out.n_fired
            support += out.n_support
            active += out.n_active
            if target >= 0:
                labelled += 1
                loss += out.loss
                correct += int(np.argmax(out.logits) == target)
    learner.reset()
    return EvalResult(
        accuracy=correct / max(labelled, 1),
        loss=loss / max(labelled, 1),
        n_labelled=labelled,
        activity_fired=fired / max(steps * n_hidden, 1),
        activity_support=support / max(steps * n_hidden, 1),
        activity_active=active / max(steps * n_hidden, 1),
    )


def kept_weight_fraction(masks: dict[str, np.ndarray]) -> float:
    """Fraction of entries kept over all masked matrices (1.0 with no masks)."""
    total = sum(m.size for m in masks.values())
    return float(sum(int(m.sum()) for m in masks.values()) / total) if total else 1.0
