"""Record the trainer's own weight update inside the learner's step of the operation trace.

The learner calls ``begin_step`` / ``op`` / ``end_step`` around its work. :class:`StepRecorder`
forwards everything but holds back ``end_step`` until the trainer has had the chance to add its
weight-update op, so that op lands in the step that triggered it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from accel_sim.trace.schema import OpRecord, record_rows
from rtrl.model import INPUT_WEIGHTS, RECURRENT_WEIGHTS


class StepRecorder:
    """A Recorder wrapping ``inner``; call :meth:`close_step` after the trainer's own ops."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.step = -1
        self._open = False

    def begin_step(self, step: int, sets: Mapping[str, np.ndarray]) -> None:
        self.close_step()
        self.step = int(step)
        self._open = True
        self.inner.begin_step(step, sets)

    def op(self, record: OpRecord) -> None:
        self.inner.op(record)

    def op_rows(self, rows: np.ndarray) -> None:
        record_rows(self.inner, rows)

    def end_step(self) -> None:
        pass  # deferred to close_step

    def close_step(self) -> None:
        if self._open:
            self._open = False
            self.inner.end_step()

    def mask_changes(self, model, edits) -> None:
        """A rewiring (``rtrl.rewire`` edits) as mask-change records of the trace's declared
        patterns (``W_in``: W_u, W_r, W_z stacked; ``R``: R_u, R_r, R_z stacked; ``G``: their union,
        when it changes; flat row-major positions), taking effect from the next step (the rewiring follows the current step,
        inside a sequence or at its end)."""
        record = getattr(self.inner, "mask_change", None)
        if record is None:
            return
        by_name = {e.name: e for e in edits}
        for pattern, names in (("W_in", INPUT_WEIGHTS), ("R", RECURRENT_WEIGHTS)):
            removed, added = [], []
            for g, name in enumerate(names):
                offset = g * model.masks[name].size
                removed.append(by_name[name].removed + offset)
                added.append(by_name[name].added + offset)
            record(self.step + 1, pattern, np.concatenate(removed), np.concatenate(added))
        old_g, new_g = _union_before(model, by_name), _union(model.masks)  # ``G``: the recurrent masks' union
        gone, joined = np.flatnonzero(old_g & ~new_g), np.flatnonzero(new_g & ~old_g)
        if gone.size or joined.size:
            record(self.step + 1, "G", gone, joined)

    def weight_update(self, op: int, n_updated: int) -> None:
        """The trainer's update of ``n_updated`` parameters, as the learner's declared op ``op``
        (its ``weight_update``); macs = parameters updated."""
        self.inner.op(OpRecord(self.step, int(op), int(n_updated), 0))


def _union(masks: dict[str, np.ndarray]) -> np.ndarray:
    """(n * n,) flat union of the recurrent masks (the pattern ``G``)."""
    return np.logical_or.reduce([np.asarray(masks[name]).ravel() for name in RECURRENT_WEIGHTS])


def _union_before(model, by_name: dict) -> np.ndarray:
    """The union of the recurrent masks before the edits ``by_name`` (name -> edit) were applied."""
    before = {}
    for name in RECURRENT_WEIGHTS:
        mask = np.asarray(model.masks[name]).ravel().copy()
        mask[by_name[name].added] = False
        mask[by_name[name].removed] = True
        before[name] = mask
    return _union(before)


def n_updated_params(params: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> int:
    """Parameters a weight update touches: unmasked entries of masked matrices, all others."""
    return sum(int(masks[k].sum()) if k in masks else int(v.size) for k, v in params.items())
