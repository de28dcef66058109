"""An independent implementation of docs/model.md §1 for the tests: a plain loop over the equations,
sharing no code with ``rtrl``. Its gradient is taken by central finite differences of a
"surrogate forward" whose value equals the EGRU's and whose derivative is the pseudo-derivative:
H(v) is replaced by H(v0) + h(v) - h(v0), with v0 the unperturbed run's value and h' = dH/dv."""

from __future__ import annotations

import numpy as np


def _h(v, gamma, eps):
    """Antiderivative of gamma * max(0, 1 - |v|/eps) with h(0) = 0."""
    inside = np.abs(v) <= eps
    return np.where(inside, gamma * (v - np.sign(v) * v * v / (2 * eps)), gamma * np.sign(v) * eps / 2)


def loss(params, xs, targets, gamma, eps, v0=None):
    """Summed cross-entropy. With ``v0`` (T+1, n) the surrogate forward; returns (loss, v list)."""
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    n = params["b_u"].shape[0]
    s = np.zeros(n)
    vs = [s - params["thr"]]
    total = 0.0

    def step_fn(s, t):
        v = s - params["thr"]
        o = (v > 0).astype(float) if v0 is None else (v0[t] > 0) + _h(v, gamma, eps) - _h(v0[t], gamma, eps)
        return o

    for t, (x, target) in enumerate(zip(xs, targets)):
        o = step_fn(s, t)
        y, c = o * s, s - o * params["thr"]
        u = sig(params["W_u"] @ x + params["R_u"] @ y + params["b_u"])
        r = sig(params["W_r"] @ x + params["R_r"] @ y + params["b_r"])
        z = np.tanh(params["W_z"] @ x + r * (params["R_z"] @ y + params["b_rz"]) + params["b_z"])
        s = u * c + (1 - u) * z
        vs.append(s - params["thr"])
        if target >= 0:
            o_new = step_fn(s, t + 1)
            logits = params["W_o"] @ (o_new * s) + params["b_o"]
            logits = logits - logits.max()
            total += np.log(np.exp(logits).sum()) - logits[target]
    return total, np.array(vs)


def finite_difference_grads(params, xs, targets, gamma, eps, h=1e-6):
    """Central differences of the surrogate forward with respect to every parameter entry."""
    params = {k: np.array(v, np.float64) for k, v in params.items()}
    _, v0 = loss(params, xs, targets, gamma, eps)
    grads = {}
    for name, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + h
            up, _ = loss(params, xs, targets, gamma, eps, v0)
            value[idx] = old - h
            down, _ = loss(params, xs, targets, gamma, eps, v0)
            value[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads[name] = g
    return grads
