"""Optimisers for online learning: SGD (optional momentum) and Adam, plus global-norm clipping.

Both work on ``dict[str, np.ndarray]`` parameter/gradient sets, never mutate the parameters they
are given (they return new arrays, so a caller can check them before use), and expose their state
as flat ``dict[str, np.ndarray]`` for snapshots and checkpoints. Arithmetic stays in the
parameters' dtype so a resumed run repeats the same operations bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPTIMIZERS = ("sgd", "adam")


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """sqrt of the sum of squares over all gradient entries (float64)."""
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())))


def clip_by_global_norm(grads: dict[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """Scale all gradients by ``min(1, max_norm / norm)``; ``max_norm <= 0`` disables clipping.

    Returns (clipped gradients, norm before clipping)."""
    norm = global_norm(grads)
    if max_norm <= 0 or not np.isfinite(norm) or norm <= max_norm:
        return grads, norm
    scale = max_norm / norm
    return {k: (g * g.dtype.type(scale)) for k, g in grads.items()}, norm


def _with_grads(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], out: dict[str, np.ndarray]):
    """Yield (key, param, grad in the param's dtype) for parameters that have a gradient; copy the
    others unchanged into ``out``."""
    for key, p in params.items():
        g = grads.get(key)
        if g is None:
            out[key] = p.copy()
        else:
            yield key, p, g.astype(p.dtype, copy=False)


@dataclass
class SGD:
    """Plain SGD, ``momentum`` in [0, 1) turns on heavy-ball momentum."""

    momentum: float = 0.0

    def __post_init__(self) -> None:
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> dict[str, np.ndarray]:
        out = {}
        for key, p, g in _with_grads(params, grads, out):
            if self.momentum:
                v = self.velocity.get(key, np.zeros_like(p))
                v = p.dtype.type(self.momentum) * v + g
                self.velocity[key] = v
                g = v
            out[key] = p - p.dtype.type(lr) * g
        return out

    def get_state(self) -> dict[str, np.ndarray]:
        return {f"velocity.{k}": v.copy() for k, v in self.velocity.items()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.velocity = {k.split(".", 1)[1]: v.copy() for k, v in state.items() if k.startswith("velocity.")}


@dataclass
class Adam:
    """Adam (Kingma & Ba 2015) with bias correction."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> dict[str, np.ndarray]:
        self.t += 1
        out = {}
        for key, p, g in _with_grads(params, grads, out):
            f = p.dtype.type
            m = f(self.beta1) * self.m.get(key, np.zeros_like(p)) + f(1 - self.beta1) * g
            v = f(self.beta2) * self.v.get(key, np.zeros_like(p)) + f(1 - self.beta2) * (g * g)
            self.m[key], self.v[key] = m, v
            m_hat = m / f(1 - self.beta1**self.t)
            v_hat = v / f(1 - self.beta2**self.t)
            out[key] = p - f(lr) * m_hat / (np.sqrt(v_hat) + f(self.eps))
        return out

    def get_state(self) -> dict[str, np.ndarray]:
        state = {"t": np.array(self.t, np.int64)}
        state.update({f"m.{k}": a.copy() for k, a in self.m.items()})
        state.update({f"v.{k}": a.copy() for k, a in self.v.items()})
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state.get("t", 0))
        self.m = {k[2:]: a.copy() for k, a in state.items() if k.startswith("m.")}
        self.v = {k[2:]: a.copy() for k, a in state.items() if k.startswith("v.")}


def make_optimizer(name: str) -> SGD | Adam:
    """``"sgd"`` or ``"adam"`` (ValueError otherwise)."""
    if name == "sgd":
        return SGD()
    if name == "adam":
        return Adam()
    raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
