"""What all learners share: the online interface (reset / step / grads), state and loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_sim.trace.schema import Recorder
from rtrl.backend import to_host
from rtrl.cell import Events, events
from rtrl.layout import InfluenceLayout
from rtrl.model import EGRU
from rtrl.readout import ReadoutResult, readout
from rtrl.recording import GATE_MACS_PER_UNIT, emit, step_sets
from rtrl.trace_decl import OPS, op_ids


@dataclass(frozen=True, slots=True)
class StepOutput:
    """Result of one online step: ``loss`` (nats; 0 when the target is -1), ``logits`` (n_out,),
    ``n_fired`` / ``n_support``: units of the previous state that fired / lie in the
    pseudo-derivative support; ``n_active``: units in their union, the step's active set A
    (a unit can fire outside the support, so n_active <= n_fired + n_support). On the GPU
    ``logits`` is a CuPy array (``rtrl.backend.to_host`` copies it to numpy)."""

    loss: float
    logits: np.ndarray
    n_fired: int
    n_support: int
    n_active: int = 0


class Learner:
    """Base of the three learners. Subclasses implement ``_step`` and ``_recurrent_grads``.

    Online use: ``reset()`` at a sequence start, ``step(x_t, target_t)`` per time step,
    ``grads()`` for the gradient of the loss summed since the last ``reset``/``zero_grad``.
    Parameters are read from ``model.params`` at every step, so ``model.set_params`` between
    steps takes effect immediately (the learning state is kept, as online RTRL does).

    The learner runs on the model's device (``model.xp``): on the GPU its state and the arrays
    ``grads()`` returns are CuPy arrays; ``get_state`` / ``set_state`` exchange numpy arrays.
    Recorded operations are identical on both devices (counts are taken from index-array sizes).
    """

    method = ""

    def __init__(self, model: EGRU, recorder: Recorder | None = None) -> None:
        self.model = model
        self.recorder = recorder
        self.xp = model.xp
        self.t = 0  # steps taken since construction (the trace's step index)
        self.itemsize = model.dtype.itemsize
        self.ops = op_ids(self.method) if self.method in OPS else {}  # op name -> the id its trace rows carry
        self.reset()

    # -- online interface -------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new sequence: s_0 = 0, learning state and gradients cleared."""
        self.s = self.xp.zeros(self.model.n_hidden, self.model.dtype)
        self._reset_learning_state()
        self.zero_grad()

    def zero_grad(self) -> None:
        n, xp = self.model.n_hidden, self.xp
        self.loss_sum = 0.0
        self._thr_direct = xp.zeros(n, self.model.dtype)
        self._dW_o = xp.zeros_like(self.model.params["W_o"])
        self._db_o = xp.zeros_like(self.model.params["b_o"])
        self._zero_recurrent_grads()

    def step(self, x: np.ndarray, target: int = -1) -> StepOutput:
        """Advance one step with input ``x`` (n_in,) and ``target`` (int, -1 for none)."""
        x, target = self._checked_input(x, target)
        x = self.xp.asarray(x)
        prev = events(self.s, self.model.params["thr"], *self.model.pseudo_derivative)
        xp = self.xp
        fired, support = prev.o != 0, prev.dH != 0
        n_fired, n_support = int(xp.count_nonzero(fired)), int(xp.count_nonzero(support))  # before any heavy GPU work
        n_active = int(xp.count_nonzero(fired | support))
        out = self._step(x, target, prev)  # opens the step record (``_begin_record``) when recording
        if self.recorder is not None:
            self.recorder.end_step()
        return self._advance(out.loss, out.logits, n_fired, n_support, n_active)

    def rebuilt(self) -> "Learner":
        """A fresh learner of the same kind and options for the model's current masks, with the
        learning state started over, as at ``reset`` (restoring a snapshot's or checkpoint's
        masks; ``rewired`` keeps the state instead)."""
        fresh = type(self)(self.model, recorder=self.recorder, **self._options())
        fresh.t = self.t  # step ids keep counting (trace records stay in order)
        return fresh

    def rewired(self, edits) -> "Learner":
        """A learner for the model's new masks (``rtrl.rewire.rewire`` has just applied ``edits``,
        a list of ``MaskEdit``) that carries this one's state across the change, at any step of a
        sequence: s, the loss and readout sums, and the learning state, so that the gradient is
        BPTT's through the switched graph (a grown weight exists from now on). Subclasses say how."""
        raise NotImplementedError(f"{type(self).__name__} cannot carry its state across a mask change")

    def _carry_common(self, fresh: "Learner") -> None:
        """Copy the state every learner keeps (s, loss sum, readout and direct-threshold sums) to ``fresh``."""
        fresh.s = self.s.copy()
        fresh.loss_sum = self.loss_sum
        fresh._thr_direct, fresh._dW_o, fresh._db_o = (a.copy() for a in (self._thr_direct, self._dW_o, self._db_o))

    def _options(self) -> dict:
        return {}

    #: Whether ``grads(masked=False)`` holds the gradient of masked-out weights too (as if they
    #: existed at value 0): dense RTRL and BPTT compute it, sparse RTRL has no column for them.
    has_dense_gradient = True

    def grads(self, masked: bool = True) -> dict[str, np.ndarray]:
        """Gradient of the summed loss since the last reset/zero_grad; masked entries are 0 unless
        ``masked`` is False (see ``has_dense_gradient``). Arrays on the model's device (CuPy
        arrays on the GPU)."""
        grads = self._recurrent_grads()
        grads["thr"] = grads["thr"] + self._thr_direct
        grads["W_o"] = self._dW_o.copy()
        grads["b_o"] = self._db_o.copy()
        if masked:
            for name, mask in self.model.device_masks.items():
                grads[name] = self.xp.where(mask, grads[name], 0).astype(self.model.dtype)
        return grads

    # -- shared pieces ----------------------------------------------------------------------
    def _advance(self, loss: float, logits: np.ndarray, n_fired: int, n_support: int, n_active: int) -> StepOutput:
        """Close a step: count it, add its loss, and describe it."""
        self.t += 1
        self.loss_sum += loss
        return StepOutput(loss, logits, n_fired, n_support, n_active)

    def _checked_input(self, x, target) -> tuple[np.ndarray, int]:
        """``x`` as a host array of the model's dtype and ``target`` as an int, after checking
        shape, finiteness and range (ValueError)."""
        model = self.model
        x = to_host(x).astype(model.dtype, copy=False)
        if x.shape != (model.n_in,):
            raise ValueError(f"x must have shape ({model.n_in},), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x contains NaN or inf")
        return x, self._checked_target(target)

    def _checked_target(self, target) -> int:
        """``target`` as an int in [-1, n_out) (ValueError otherwise)."""
        target = int(target)
        if not -1 <= target < self.model.n_out:
            raise ValueError(f"target must lie in [-1, {self.model.n_out}), got {target}")
        return target

    def _readout(self, s: np.ndarray, target: int) -> tuple[Events, ReadoutResult]:
        model = self.model
        ev = events(s, model.params["thr"], *model.pseudo_derivative)
        res = readout(model.params, ev, target)
        if res.dl_ds is not None:
            self._thr_direct += res.dl_thr
            self._dW_o += res.dW_o
            self._db_o += res.db_o
        return ev, res

    def _begin_record(self, x, prev: Events, new: Events | None, **extra) -> None:
        """Open this step's record with its index sets (``rtrl.trace_decl``)."""
        self.recorder.begin_step(self.t, step_sets(x, prev, new, **extra))

    def _emit_readout(self, target: int) -> None:
        """The readout (computed densely): logits; with a target also g y^T and W_o^T g."""
        rec, t, ops = self.recorder, self.t, self.ops
        macs = self.model.n_out * self.model.n_hidden
        emit(rec, t, ops["readout"], macs)
        if target >= 0:
            emit(rec, t, ops["readout_grad"], macs)
            emit(rec, t, ops["readout_backprop"], macs)

    def _emit_dense_forward(self) -> None:
        """The forward ops of the dense learners (BPTT, dense RTRL): every unit, every weight."""
        rec, t, ops = self.recorder, self.t, self.ops
        n, n_in = self.model.n_hidden, self.model.n_in
        emit(rec, t, ops["active_set"], 2 * n)
        emit(rec, t, ops["input_projection"], 3 * n * n_in)
        emit(rec, t, ops["recurrent_product"], 3 * n * n)
        emit(rec, t, ops["gates"], GATE_MACS_PER_UNIT * self.model.n_hidden)

    def _common_state(self) -> dict[str, np.ndarray]:
        """Host (numpy) copies of the state every learner keeps."""
        return {"thr_direct": host_copy(self._thr_direct), "dW_o": host_copy(self._dW_o),
                "db_o": host_copy(self._db_o), "loss_sum": np.array(self.loss_sum), "t": np.array(self.t)}

    def _set_common_state(self, state: dict[str, np.ndarray]) -> None:
        n, n_out = self.model.n_hidden, self.model.n_out
        self._thr_direct, self._dW_o, self._db_o = (
            self._checked(state, k, shape) for k, shape in (("thr_direct", (n,)), ("dW_o", (n_out, n)), ("db_o", (n_out,)))
        )
        self.loss_sum, self.t = float(self._checked(state, "loss_sum", ())), int(self._checked(state, "t", ()))

    def _checked(self, state: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """``state[key]`` as a fresh device array, after checking it exists, has ``shape`` and is finite."""
        if key not in state:
            raise ValueError(f"learner state: missing {key!r}")
        value = state[key]
        if tuple(value.shape) != shape:
            raise ValueError(f"learner state: {key} has shape {tuple(value.shape)}, expected {shape}")
        if not bool(self.xp.all(self.xp.isfinite(self.xp.asarray(value, float)))):
            raise ValueError(f"learner state: {key} contains NaN or inf")
        return self._device_copy(value)

    def _device_copy(self, a) -> np.ndarray:
        """A fresh copy of ``a`` (numpy or CuPy) on the model's device, in the model's dtype."""
        return self.xp.array(to_host(a) if self.xp is np else a, self.model.dtype)

    # -- subclass hooks ---------------------------------------------------------------------
    def _reset_learning_state(self) -> None:
        raise NotImplementedError

    def _zero_recurrent_grads(self) -> None:
        raise NotImplementedError

    def _step(self, x: np.ndarray, target: int, prev: Events) -> StepOutput:
        raise NotImplementedError

    def _recurrent_grads(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def state_bytes(self) -> int:
        """Bytes of the learning state as stored (influence matrix, or BPTT's history)."""
        raise NotImplementedError

    def get_state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def host_copy(a) -> np.ndarray:
    """A numpy copy of ``a`` (numpy or CuPy)."""
    return np.array(to_host(a), copy=True)


class InfluenceLearner(Learner):
    """An RTRL learner: carries the influence matrix ``M`` (n_hidden x P, P = ``layout.n_columns``)
    and the gradient vector (P,) of the recurrent-path parameters."""

    def __init__(self, model: EGRU, layout: InfluenceLayout, recorder: Recorder | None = None) -> None:
        self.layout = layout
        super().__init__(model, recorder)

    def _reset_learning_state(self) -> None:
        self.M = self.xp.zeros((self.model.n_hidden, self.layout.n_columns), self.model.dtype)

    def _zero_recurrent_grads(self) -> None:
        self._grad = self.xp.zeros(self.layout.n_columns, self.model.dtype)

    def _recurrent_grads(self) -> dict[str, np.ndarray]:
        return self.layout.unflatten(self._grad)

    def rewired(self, edits) -> "InfluenceLearner":
        """A learner for the model's new masks with M (n x P_new) and the gradient vector (P_new,)
        remapped column by column (``rtrl.rewire.column_sources``): surviving weights, biases and
        thresholds keep their values, grown weights start at zero (their influence and gradient
        really are zero when they join), and the columns of dropped weights are discarded where
        the new layout has none (sparse RTRL; dense RTRL keeps them, as masked-out entries, and
        their accumulated gradient is masked out at the next update like any masked entry)."""
        from rtrl.rewire import column_sources

        fresh = self.rebuilt()  # M and the gradient vector zero, in the new layout
        source = column_sources(self.layout, fresh.layout, edits)
        to = np.flatnonzero(source >= 0)
        frm = source[to]
        if self.xp is not np:
            to, frm = self.xp.asarray(to), self.xp.asarray(frm)
        fresh.M[:, to] = self.M[:, frm]
        fresh._grad[to] = self._grad[frm]
        self._carry_common(fresh)
        fresh._influence_changed()
        return fresh

    def _influence_changed(self) -> None:
        """Hook: M was set from outside (``set_state``, ``rewired``); sparse RTRL re-derives its reached columns."""

    def state_bytes(self) -> int:
        return int(self.M.nbytes)

    def get_state(self) -> dict[str, np.ndarray]:
        return {"s": host_copy(self.s), "influence": host_copy(self.M), "grad": host_copy(self._grad),
                **self._common_state()}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        n, P = self.model.n_hidden, self.layout.n_columns
        self.s, self.M, self._grad = (
            self._checked(state, k, shape) for k, shape in (("s", (n,)), ("influence", (n, P)), ("grad", (P,)))
        )
        self._set_common_state(state)
        self._influence_changed()
