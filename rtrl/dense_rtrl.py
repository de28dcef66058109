"""Dense RTRL: the full n x P influence matrix over every parameter, masked ones included.

The baseline sparse RTRL is measured against: per step it forms the whole Jacobian J (n x n)
and computes M <- J M + Mbar with a dense matrix product (n^2 P multiply-accumulates).
Written against the model's array module (numpy or CuPy). Its layout does not depend on the masks;
a rewiring inside a sequence (``Learner.rewired``) zeroes the grown weights' columns (they exist
from then on) and keeps the dropped ones' as masked-out entries.
"""

from __future__ import annotations

import numpy as np

from rtrl.cell import (
    Events, bias_coefficients, dense_preactivations, gates, input_coefficients, recurrent_coefficients,
)
from rtrl.layout import InfluenceLayout
from rtrl.learner import InfluenceLearner, StepOutput
from rtrl.model import BIASES, INPUT_WEIGHTS, RECURRENT_WEIGHTS
from rtrl.recording import emit


class DenseRTRL(InfluenceLearner):
    method = "dense_rtrl"

    def __init__(self, model, recorder=None) -> None:
        self._units = model.xp.arange(model.n_hidden)
        super().__init__(model, InfluenceLayout(model, masked_only=False), recorder)

    def _step(self, x: np.ndarray, target: int, prev: Events) -> StepOutput:
        p, lay, units, xp = self.model.params, self.layout, self._units, self.xp
        wx, ry = dense_preactivations(p, x, prev.y)
        g = gates(p, wx, ry, prev)
        rc = recurrent_coefficients(g)
        G = rc[0][:, None] * p["R_u"] + rc[1][:, None] * p["R_r"] + rc[2][:, None] * p["R_z"]
        J = G * prev.dy[None, :]
        J[units, units] += g.diag
        M = J @ self.M
        # immediate influence: column (i, j) of a weight group touches row i only
        rows = units[:, None]
        for coef, names, src in ((input_coefficients(g), INPUT_WEIGHTS, x), (rc, RECURRENT_WEIGHTS, prev.y)):
            for gi, name in enumerate(names):
                cols = lay.start[name] + rows * src.size + xp.arange(src.size)[None, :]
                M[rows, cols] += coef[gi][:, None] * src[None, :]
        for gi, name in enumerate(BIASES):
            M[units, lay.start[name] + units] += bias_coefficients(g)[gi]
        thr_cols = lay.columns("thr")
        M[:, thr_cols] += G * prev.dy_thr[None, :]
        M[units, lay.start["thr"] + units] += g.u * prev.dc_thr
        self.M = M
        self.s = g.s
        ev, res = self._readout(g.s, target)
        if res.dl_ds is not None:
            self._grad += res.dl_ds @ M
        if self.recorder is not None:
            self._begin_record(x, prev, ev)
            self._emit(target)
        return StepOutput(res.loss, res.logits, 0, 0)

    def _emit(self, target: int) -> None:
        """Every op over every unit and parameter (the zeros it multiplies are declared structure)."""
        rec, t, ops = self.recorder, self.t, self.ops
        n, n_in, P = self.model.n_hidden, self.model.n_in, self.layout.n_columns
        self._emit_dense_forward()
        emit(rec, t, ops["jacobian_build"], 4 * n * n)
        emit(rec, t, ops["influence_update"], n * n * P)
        scattered = 3 * n * n_in + 3 * n * n + 4 * n + n * n + n
        emit(rec, t, ops["immediate_scatter"], scattered, scattered)
        self._emit_readout(target)
        if target >= 0:
            emit(rec, t, ops["contraction"], n * P)

