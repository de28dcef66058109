"""Emit a learner's records (trace ``rtrl-trace/2``): the step's index sets and one op record per
declared op (``rtrl.trace_decl``), carrying the learner's own counts.

Learners call these only inside ``if self.recorder is not None`` blocks, so a run without a
recorder does no recording work at all.
"""

from __future__ import annotations

import numpy as np

from accel_sim.trace.schema import OpRecord, Recorder
from rtrl.backend import to_host
from rtrl.cell import Events

#: Multiplies per unit spent in rtrl.cell.gates (gate products and local derivatives).
GATE_MACS_PER_UNIT = 12


def emit(recorder: Recorder, step: int, op: int, macs: int = 0, nnz: int = 0) -> None:
    """One op record: ``op`` is the declared op's id (``rtrl.trace_decl.op_ids``); ``macs`` /
    ``nnz``: the multiply-accumulates and sparse-operand non-zeros this code path did."""
    recorder.op(OpRecord(step, op, macs, nnz))


def step_sets(x, prev: Events, new: Events | None = None, **extra) -> dict[str, np.ndarray]:
    """The per-step index sets of ``rtrl.trace_decl`` as host bool masks: of the previous state
    ``prev`` (fired, support), the input ``x`` (input_nz) and, if given, the new state ``new``."""
    sets = {"fired": to_host(prev.o) != 0, "support": to_host(prev.dH) != 0, "input_nz": to_host(x) != 0}
    if new is not None:
        sets["fired_out"] = to_host(new.o) != 0
        sets["support_out"] = to_host(new.dH) != 0
    sets.update(extra)
    return sets
