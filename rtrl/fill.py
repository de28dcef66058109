"""How full the influence matrix M (n x P) is: the fraction of its entries that are non-zero after
each step since the sequence start, over all of M and per parameter group, and the share of its
columns holding at most one non-zero (their own unit's row: nothing has propagated yet).

The pattern of M is a property of the model and the data, not of the learner (every RTRL learner
stores the same values in its kept columns), so a sparse learner measures it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtrl.model import BIASES, MASKED

#: Parameter groups of M's columns, for the per-group fill.
GROUPS = {"W": MASKED[:3], "R": MASKED[3:], "biases": BIASES, "thresholds": ("thr",)}


@dataclass(frozen=True)
class Fill:
    """Per step since the sequence start (T,), averaged over the sequences: ``total`` fraction of
    non-zero entries of M; ``groups`` the same per parameter group; ``single`` fraction of columns
    with at most one non-zero; ``active``: mean fraction of units in the active set per step."""

    total: np.ndarray
    groups: dict[str, np.ndarray]
    single: np.ndarray
    active: float

    @property
    def mean(self) -> float:
        return float(self.total.mean())


def influence_fill(model, xs: np.ndarray, targets: np.ndarray) -> Fill:
    """Run sparse RTRL (no weight updates) over the sequences ``xs`` (N, T, n_in) with
    ``targets`` (N, T) and measure M after every step."""
    from rtrl import make_learner

    learner = make_learner(model, "sparse_rtrl")
    lay = learner.layout
    n_seq, T = xs.shape[:2]
    total, single = np.zeros(T), np.zeros(T)
    cols = {g: np.concatenate([np.arange(lay.columns(n).start, lay.columns(n).stop) for n in names])
            for g, names in GROUPS.items()}
    groups = {g: np.zeros(T) for g in GROUPS}
    active = 0
    for seq_x, seq_t in zip(xs, targets):
        learner.reset()
        for t, (x, target) in enumerate(zip(seq_x, seq_t)):
            active += learner.step(x, int(target)).n_active
            nz = np.asarray(learner.M) != 0
            total[t] += nz.mean()
            single[t] += (nz.sum(axis=0) <= 1).mean()
            for g, c in cols.items():
                groups[g][t] += nz[:, c].mean() if c.size else 0.0
    k = max(n_seq, 1)
    return Fill(total / k, {g: v / k for g, v in groups.items()}, single / k, active / (k * T * model.n_hidden))


def checkpoints(T: int) -> list[int]:
    """Steps 1, 2, 4, 8, ... up to T, and T itself: where a fill curve is reported."""
    out, k = [], 1
    while k < T:
        out.append(k)
        k *= 2
    return out + [T]
