"""Exact RTRL for the event-based GRU (numpy only).

    from rtrl import EGRU, gradients, make_learner
"""

from __future__ import annotations

import numpy as np

from rtrl.bptt import BPTT
from rtrl.dense_rtrl import DenseRTRL
from rtrl.learner import Learner, StepOutput
from rtrl.model import EGRU, PARAM_NAMES
from rtrl.sparse_rtrl import SparseRTRL

LEARNERS: dict[str, type[Learner]] = {"sparse_rtrl": SparseRTRL, "dense_rtrl": DenseRTRL, "bptt": BPTT}
METHODS = tuple(LEARNERS)

__all__ = ["EGRU", "BPTT", "DenseRTRL", "SparseRTRL", "Learner", "StepOutput", "METHODS",
           "PARAM_NAMES", "make_learner", "gradients"]


def make_learner(model: EGRU, method: str = "sparse_rtrl", recorder=None) -> Learner:
    """A learner of ``method`` (one of METHODS) for ``model``; ``recorder`` receives op records."""
    if method not in LEARNERS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return LEARNERS[method](model, recorder=recorder)


def gradients(model: EGRU, xs: np.ndarray, targets: np.ndarray, method: str = "sparse_rtrl",
              recorder=None) -> tuple[float, dict[str, np.ndarray]]:
    """Summed cross-entropy over one sequence and its gradient.

    ``xs`` (T, n_in), ``targets`` (T,) ints with -1 for steps without loss. Returns
    ``(loss, grads)`` with ``grads`` keyed like ``model.params``; masked entries are 0.
    """
    learner = make_learner(model, method, recorder)
    xs, targets = model.check_sequence(xs, targets)
    for x, target in zip(xs, targets):
        learner.step(x, int(target))
    return learner.loss_sum, learner.grads()
