"""A tiny stand-in model and learner with the rtrl online interface, for trainer tests.

FakeModel: softmax regression ``logits = W x + b`` plus a masked matrix ``R`` (gradient = x-driven)
and thresholds ``thr`` that get a large gradient, so clamping and masking are exercised.
FakeLearner: accumulates exact gradients; ``inject`` maps a learner step count to a fault:
"nan_loss", "inf_grad", "spike" (loss x1000) or "nan_logits".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Out:
    loss: float
    logits: np.ndarray
    n_fired: int
    n_support: int
    n_active: int = 0


class FakeModel:
    def __init__(self, n_in=3, n_out=2, n_hidden=4, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.n_in, self.n_out, self.n_hidden, self.dtype = n_in, n_out, n_hidden, np.dtype(dtype)
        self.masks = {"R": rng.random((n_hidden, n_in)) < 0.5}
        self.params = {
            "W": rng.normal(0, 0.1, (n_out, n_in)).astype(dtype),
            "b": np.zeros(n_out, dtype),
            "R": np.where(self.masks["R"], rng.normal(0, 0.1, (n_hidden, n_in)), 0).astype(dtype),
            "thr": np.full(n_hidden, 0.5, dtype),
        }

    def set_params(self, new):
        assert set(new) == set(self.params)
        for k, v in new.items():
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{k} contains NaN or inf")
            if k in self.masks and np.any(v[~self.masks[k]] != 0):
                raise ValueError(f"{k} non-zero at masked entry")
        self.params = {k: np.array(v, self.dtype) for k, v in new.items()}


class FakeLearner:
    def __init__(self, model: FakeModel, inject: dict[int, str] | None = None, thr_push: float = 5.0):
        self.model, self.inject, self.thr_push = model, dict(inject or {}), thr_push
        self.recorder = None
        self.ops = {"weight_update": 7}  # the id the trainer records its update under
        self.t = 0
        self.reset()

    def reset(self):
        self.s = np.zeros(self.model.n_in, self.model.dtype)
        self.zero_grad()

    def zero_grad(self):
        self.g = {k: np.zeros_like(v) for k, v in self.model.params.items()}

    def step(self, x, target=-1):
        p = self.model.params
        fault = self.inject.get(self.t)
        if self.recorder is not None:
            self.recorder.begin_step(self.t, {"fired": np.arange(1, dtype=np.int32), "support": np.arange(2, dtype=np.int32)})
        x = np.asarray(x, self.model.dtype)
        self.s = (0.5 * self.s + x).astype(self.model.dtype)
        logits = p["W"] @ self.s + p["b"]
        loss = 0.0
        if target >= 0:
            z = logits - logits.max()
            prob = np.exp(z) / np.exp(z).sum()
            loss = float(-np.log(prob[target]))
            d = prob.copy()
            d[target] -= 1.0
            self.g["W"] += np.outer(d, self.s).astype(self.model.dtype)
            self.g["b"] += d.astype(self.model.dtype)
            self.g["R"] += np.where(self.model.masks["R"], float(d.sum() + 0.1), 0).astype(self.model.dtype)
            self.g["thr"] += self.model.dtype.type(self.thr_push)
        if fault == "nan_loss":
            loss = float("nan")
        elif fault == "spike":
            loss = 1000.0 * (loss + 1.0)
        elif fault == "inf_grad":
            self.g["W"][0, 0] = np.inf
        elif fault == "nan_logits":
            logits = logits * np.nan
        if self.recorder is not None:
            self.recorder.end_step()
        self.t += 1
        return Out(loss, logits, n_fired=int(self.t % 3), n_support=int(self.t % 4), n_active=max(int(self.t % 3), int(self.t % 4)))

    def grads(self):
        return {k: v.copy() for k, v in self.g.items()}

    def state_bytes(self):
        return int(self.s.nbytes)

    def get_state(self):
        return {"s": self.s.copy(), **{f"g.{k}": v.copy() for k, v in self.g.items()}}

    def set_state(self, state):
        self.s = state["s"].copy()
        self.g = {k[2:]: v.copy() for k, v in state.items() if k.startswith("g.")}


def toy_dataset(n=24, n_steps=5, n_in=3, seed=0):
    """Label = sign of the mean of feature 0, at the last step."""
    from rtrl.tasks.dataset import last_step_targets, make_dataset

    rng = np.random.default_rng(seed)
    xs = rng.normal(0, 1, (n, n_steps, n_in))
    labels = (xs[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    return make_dataset(xs, last_step_targets(labels, n_steps))
