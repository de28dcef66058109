"""Backpropagation through time: the reference gradient. Stores the history of the sequence
and differentiates backwards through it when ``grads()`` is asked for.

Online use is truncated BPTT: ``zero_grad()`` drops the stored history, so later gradients do
not flow back past that point. Written against the model's array module (numpy or CuPy).

Rewiring inside the stored history (``rewired``): every stored step keeps the parameters it ran
with (a shallow copy of ``model.params``: the model replaces arrays, never edits them), so the backward
pass goes through the switched graph, and a grown weight's gradient sums only the steps from its
rewiring on (it did not exist before; its column in RTRL starts at zero there). Every other
entry, masked-out ones included (``grads(masked=False)``), sums every stored step, as dense RTRL's
columns do; dropped weights are masked out by ``grads()`` and at the next update.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtrl.cell import Events, Gates, dense_preactivations, events, gates
from rtrl.learner import Learner, StepOutput
from rtrl.model import INPUT_WEIGHTS, MASKED, RECURRENT_PATH, RECURRENT_WEIGHTS
from rtrl.recording import GATE_MACS_PER_UNIT, emit, step_sets


@dataclass(frozen=True, slots=True)
class _Saved:
    """What BPTT keeps per step: input (n_in,), previous state (n,), gates, dL_t/ds_t or None,
    and the parameters in force (a shallow copy of the model's dict: the arrays are shared)."""

    x: np.ndarray
    s_prev: np.ndarray
    gates: Gates
    dl_ds: np.ndarray | None
    params: dict

    @property
    def nbytes(self) -> int:
        arrays = [self.x, self.s_prev, *(getattr(self.gates, f) for f in Gates.__slots__)]
        if self.dl_ds is not None:
            arrays.append(self.dl_ds)
        return sum(a.nbytes for a in arrays)


class BPTT(Learner):
    method = "bptt"

    def _reset_learning_state(self) -> None:
        self.history: list[_Saved] = []
        self._switches: list[tuple[int, list]] = []  # (first stored step after a rewiring, its edits)

    def _zero_recurrent_grads(self) -> None:
        self.history = []
        self._switches = []

    def rewired(self, edits) -> "BPTT":
        """This learner, which needs no mask structure: it notes where the masks changed, so that
        the weights ``edits`` added count only from the next stored step on (module docstring)."""
        if self.history:
            self._switches.append((len(self.history), list(edits)))
        return self

    def _step(self, x: np.ndarray, target: int, prev: Events) -> StepOutput:
        p = self.model.params
        wx, ry = dense_preactivations(p, x, prev.y)
        g = gates(p, wx, ry, prev)
        ev, res = self._readout(g.s, target)
        self.history.append(_Saved(x, self.s, g, res.dl_ds, dict(p)))
        self.s = g.s
        if self.recorder is not None:
            self._begin_record(x, prev, ev, history_row=np.array([len(self.history) - 1]))
            self._emit_forward(target)
        return StepOutput(res.loss, res.logits, 0, 0)

    def _emit_forward(self, target: int) -> None:
        self._emit_dense_forward()
        self._emit_readout(target)
        emit(self.recorder, self.t, self.ops["history_write"])

    def _recurrent_grads(self) -> dict[str, np.ndarray]:
        model, xp = self.model, self.xp
        grads = {name: xp.zeros_like(model.params[name]) for name in RECURRENT_PATH}
        ds = xp.zeros(model.n_hidden, model.dtype)
        switches, counting = list(self._switches), None  # counting[name]: entries that existed at ``slot``
        for slot in range(len(self.history) - 1, -1, -1):
            saved = self.history[slot]
            p = saved.params  # the weights this step ran with
            while switches and slot < switches[-1][0]:  # before a rewiring: its grown weights did not exist
                counting = counting if counting is not None else {k: np.ones(model.masks[k].shape, bool) for k in MASKED}
                for edit in switches.pop()[1]:
                    counting[edit.name].reshape(-1)[edit.added] = False
                device = {k: xp.asarray(v) for k, v in counting.items()}
            prev = events(saved.s_prev, p["thr"], *model.pseudo_derivative)
            if self.recorder is not None:
                self._emit_backward_step(slot, saved.x, prev)
            g = saved.gates
            if saved.dl_ds is not None:
                ds = ds + saved.dl_ds
            g_u, g_r, g_z = ds * g.d_u, ds * g.d_r, ds * g.d_z
            g_rz = g_z * g.r
            for names, gvecs, src in ((INPUT_WEIGHTS, (g_u, g_r, g_z), saved.x), (RECURRENT_WEIGHTS, (g_u, g_r, g_rz), prev.y)):
                for name, gvec in zip(names, gvecs):
                    outer = xp.outer(gvec, src)
                    grads[name] += outer if counting is None else xp.where(device[name], outer, 0)
            for name, gvec in zip(("b_u", "b_r", "b_z", "b_rz"), (g_u, g_r, g_z, g_rz)):
                grads[name] += gvec
            dy = p["R_u"].T @ g_u + p["R_r"].T @ g_r + p["R_z"].T @ g_rz
            dc = ds * g.u
            grads["thr"] += dy * prev.dy_thr + dc * prev.dc_thr
            ds = dy * prev.dy + dc * prev.dc
        return grads

    def _emit_backward_step(self, slot: int, x, prev) -> None:
        """The backward pass over stored step ``slot`` as one trace step of its own, with that
        step's index sets (its events, its input, its history slot)."""
        rec, t, ops = self.recorder, self.t, self.ops
        n, n_in = self.model.n_hidden, self.model.n_in
        rec.begin_step(t, step_sets(x, prev, history_row=np.array([slot])))
        emit(rec, t, ops["backward_deltas"], GATE_MACS_PER_UNIT * n)
        emit(rec, t, ops["backward_recurrent"], 3 * n * n)
        emit(rec, t, ops["backward_grad_input"], 3 * n * n_in)
        emit(rec, t, ops["backward_grad_recurrent"], 3 * n * n)
        emit(rec, t, ops["backward_grad_bias"], 5 * n)
        rec.end_step()
        self.t += 1

    def state_bytes(self) -> int:
        return int(sum(s.nbytes for s in self.history))

    def get_state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError("BPTT state is its history; checkpoint at sequence boundaries instead")

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError("BPTT state is its history; checkpoint at sequence boundaries instead")
