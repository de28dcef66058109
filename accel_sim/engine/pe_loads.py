"""The work of each PE in a run's heaviest steps (``simulate(..., pe_loads=k)``).

A matmul that skips zeros is spread over the PEs by ``mapping.distribution`` and takes its busiest
PE's time (``accel_sim.trace.spread``); the run's results keep only that busiest load. This keeps,
for the ``k`` steps with the most PE-array cycles among the steps with such ops, every spread op's
MACs on each PE (from the trace's patterns in force at that step and the step's index sets):
:class:`StepLoads` of :class:`OpLoads`. Units: MACs (per PE) and clock cycles.

Each op's loads add up to the MAC pairs the mapping spreads (those where the skipped operands are
both non-zero: its effectual MACs when both are skipped; a scaled op's scale pass, spread evenly,
and diagonal extras aside) and their max is the op's busiest PE (``Demand.pe_busiest``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_sim.engine.demand import Costing, Demand
from accel_sim.engine.timing import step_groups


@dataclass(frozen=True)
class OpLoads:
    """One spread op of a step: declared op ``op`` and its ``label``, ``loads`` (PEs,) MACs on each
    PE, ``macs`` their sum and ``busiest`` their max (the op's array time follows it)."""

    op: str
    label: str
    loads: np.ndarray
    macs: float
    busiest: float

    def to_json(self) -> dict:
        return {"op": self.op, "label": self.label, "macs": self.macs, "busiest": self.busiest,
                "loads": self.loads.tolist()}


@dataclass(frozen=True)
class StepLoads:
    """One of the heaviest steps: trace ``step``, its PE-array cycles (``array_cycles``, all its ops)
    and its spread ops' per-PE loads (``ops``)."""

    step: int
    array_cycles: float
    ops: tuple[OpLoads, ...]

    @property
    def loads(self) -> np.ndarray:
        """(PEs,) MACs on each PE over the step's spread ops."""
        return np.sum([o.loads for o in self.ops], axis=0)

    @property
    def imbalance(self) -> float:
        """Busiest over mean PE, MAC-weighted over the step's spread ops (the timeline's
        ``pe_imbalance``; 1 = even)."""
        mean = sum(o.macs / o.loads.size for o in self.ops)
        return sum(o.busiest for o in self.ops) / mean if mean > 0 else 1.0

    def to_json(self) -> dict:
        return {"step": self.step, "array_cycles": self.array_cycles, "imbalance": self.imbalance,
                "loads": self.loads.tolist(), "ops": [o.to_json() for o in self.ops]}


class HeaviestSteps:
    """Keeps the ``k`` heaviest steps' :class:`StepLoads` over the batches of a run (:meth:`add`
    each batch after costing it, with the patterns it was costed on; :attr:`steps` at the end,
    heaviest first, ties in step order)."""

    def __init__(self, k: int, costing: Costing) -> None:
        self.k, self.costing = int(k), costing
        self.steps: list[StepLoads] = []

    def add(self, step_ids: np.ndarray, set_bits: np.ndarray, ops: dict[str, np.ndarray], d: Demand) -> None:
        spread = d.pe_busiest > 0 if d.pe_busiest is not None else np.zeros(d.n_ops, bool)
        if self.k <= 0 or not spread.any():
            return
        g, n = step_groups(d.step)
        cycles = np.bincount(g, d.array_cycles, n)
        has = np.bincount(g, spread, n) > 0
        first = np.searchsorted(g, np.arange(n))
        floor = self.steps[-1].array_cycles if len(self.steps) >= self.k else -np.inf
        order = [i for i in np.argsort(-cycles, kind="stable") if has[i] and cycles[i] > floor][:self.k]
        if not order:
            return
        chosen = np.isin(g, order) & spread
        rows = np.flatnonzero(chosen)
        loads = self.costing.work.pe_loads(step_ids, set_bits, {c: v[rows] for c, v in ops.items()},
                                           self.costing.spread)
        names, labels = self.costing.header.ops, d.label_names
        per_step: dict[int, list[OpLoads]] = {}
        for j, row in enumerate(rows.tolist()):
            pe = loads[j]
            per_step.setdefault(int(g[row]), []).append(OpLoads(
                names[int(ops["op"][row])].name, labels[int(d.label[row])], pe, float(pe.sum()), float(pe.max())))
        new = [StepLoads(int(d.step[first[i]]), float(cycles[i]), tuple(per_step[i])) for i in order]
        self.steps = sorted(self.steps + new, key=lambda s: (-s.array_cycles, s.step))[:self.k]
