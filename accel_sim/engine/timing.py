"""What every fidelity level reports about time: per-step cycles, busy cycles per resource and
stall cycles by cause. Shared by L0, L1 and L2 so their results are comparable."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from accel_sim.config.schema import HardwareConfig

RESOURCES = ("pe_array", "compute_stage", "dram_read", "dram_write", "index_units", "interconnect")
STALLS = ("dram", "index", "sram_port", "interconnect", "writeback", "imbalance", "rewiring")


@dataclass
class Timing:
    """Cycles are float clock cycles. ``step_cycles``: one entry per step with ops, in order.
    ``stall``: cycles the PE array sat idle (or was held up by ports) by cause; busy['pe_array'] +
    sum(stall) = cycles. ``events``: SimPy events processed (L1: one per tile and one
    per step; ``tiles``: L1's tiles; L2: every unit's events; L0: 0)."""

    cycles: float = 0.0
    step_cycles: list[np.ndarray] = field(default_factory=list)
    busy: dict[str, float] = field(default_factory=lambda: {r: 0.0 for r in RESOURCES})
    stall: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STALLS})
    events: int = 0
    tiles: int = 0
    queue_peak_bytes: float = 0.0  # most bytes waiting in the operand queue (0 without one)
    queue_full_cycles: float = 0.0  # cycles tile deliveries waited for room in the operand queue

    def steps(self) -> np.ndarray:
        return np.concatenate(self.step_cycles) if self.step_cycles else np.zeros(0)

    def add_busy(self, config: HardwareConfig, d, folded: bool = True) -> None:
        """Add a batch's resource demand (identical at every fidelity). ``folded``: the array waits
        out each op's port / interconnect time beyond its own (no operand queue): those stalls are
        the demand's; with a queue the engine attributes them."""
        bw = config.dram.bandwidth_bytes_per_cycle
        imbalance = 0.0 if d.imbalance_cycles is None else float(d.imbalance_cycles.sum())
        self.busy["pe_array"] += float(d.array_cycles.sum()) - imbalance  # PEs idle behind the busiest one
        self.stall["imbalance"] += imbalance
        self.busy["compute_stage"] += float(d.compute_cycles.sum())
        self.busy["dram_read"] += float(d.dram_read_bytes.sum()) / bw
        self.busy["dram_write"] += float(d.dram_write_bytes.sum()) / bw
        self.busy["index_units"] += float(d.index_cycles.sum())
        self.busy["interconnect"] += float(d.interconnect_cycles.sum())
        if not folded:
            return
        extra = d.compute_cycles - d.array_cycles
        port_bound = d.sram_port_cycles >= d.interconnect_cycles
        self.stall["sram_port"] += float(extra[port_bound].sum())
        self.stall["interconnect"] += float(extra[~port_bound].sum())

    def add_drain(self, config: HardwareConfig, drain_bytes: int) -> None:
        """Write-back of drained tensors after the last step: DRAM write channel only."""
        t = drain_bytes / config.dram.bandwidth_bytes_per_cycle
        self.cycles += t
        self.busy["dram_write"] += t
        self.stall["writeback"] += t

    def add_rewiring(self, cycles: float) -> None:
        """Mask rewirings (accel_sim.engine.rewiring): done while the pipeline is drained."""
        self.cycles += cycles
        self.stall["rewiring"] += cycles

    def close_stalls(self) -> None:
        """Put any idle time not attributed yet (rounding, zero-compute ops) under 'dram'."""
        missing = self.cycles - self.busy["pe_array"] - sum(self.stall.values())
        if missing > 1e-6 * max(1.0, self.cycles):
            self.stall["dram"] += missing


def step_groups(step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ops in step order: (group index per op, number of groups)."""
    n = step.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), 0
    new = np.ones(n, bool)
    new[1:] = step[1:] != step[:-1]
    g = np.cumsum(new) - 1
    return g, int(g[-1]) + 1
