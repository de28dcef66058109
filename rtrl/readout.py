"""Linear readout with softmax cross-entropy: loss and its local gradients."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtrl.backend import array_module
from rtrl.cell import Events


@dataclass(frozen=True, slots=True)
class ReadoutResult:
    """``loss`` (nats, 0 without target), ``logits`` (n_out,), ``dl_ds`` (n,) = dL_t/ds_t,
    ``dl_thr`` (n,) direct threshold gradient through y_t, ``dW_o`` (n_out, n), ``db_o`` (n_out,).
    Arrays live on the model's device (numpy or CuPy); ``loss`` is a Python float."""

    loss: float
    logits: np.ndarray
    dl_ds: np.ndarray | None
    dl_thr: np.ndarray | None
    dW_o: np.ndarray | None
    db_o: np.ndarray | None


def readout(params: dict, ev: Events, target: int) -> ReadoutResult:
    logits = params["W_o"] @ ev.y + params["b_o"]
    if target < 0:
        return ReadoutResult(0.0, logits, None, None, None, None)
    xp = array_module(logits)
    shifted = logits - logits.max()
    log_z = xp.log(xp.exp(shifted).sum())
    loss = float(log_z - shifted[target])
    g = xp.exp(shifted - log_z)
    g[target] -= 1.0
    dl_dy = params["W_o"].T @ g
    return ReadoutResult(loss, logits, dl_dy * ev.dy, dl_dy * ev.dy_thr, xp.outer(g, ev.y), g)
