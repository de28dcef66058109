"""L0 analytic: each step lasts as long as its busiest resource (numpy over whole batches).

step cycles = max(sum of compute stages, DRAM read bytes / bandwidth + latency (if any read),
DRAM write bytes / bandwidth, index-unit cycles). Every schedule must give each resource its
work and the last read its latency, so L0 is a lower bound of L1/L2; it equals them when one
resource does all the work of a step (nothing to overlap, nothing contends). With an operand queue
(``pe_array.operand_queue_bytes`` > 0) the ports and interconnect run ahead of the array, so the
compute stages no longer add up: the sum of array cycles, each SRAM level's port cycles and the
interconnect's enter the max one by one instead.
"""

from __future__ import annotations

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.demand import Demand
from accel_sim.engine.timing import Timing, step_groups


class AnalyticEngine:
    fidelity = "L0"

    def __init__(self, config: HardwareConfig, timeline=None) -> None:
        self.config = config
        self.timing = Timing()
        self.timeline = timeline

    def run(self, d: Demand) -> None:
        g, n_groups = step_groups(d.step)
        if n_groups == 0:
            return
        cfg, t = self.config, self.timing
        bw, lat = cfg.dram.bandwidth_bytes_per_cycle, cfg.dram.latency_cycles
        queued = cfg.pe_array.operand_queue_bytes > 0
        comp = np.bincount(g, d.array_cycles if queued else d.compute_cycles, n_groups)
        reads = np.bincount(g, d.dram_read_bytes, n_groups)
        fetch = reads / bw + np.where(reads > 0, lat, 0)
        write = np.bincount(g, d.dram_write_bytes, n_groups) / bw
        index = np.bincount(g, d.index_cycles, n_groups)
        steps = np.maximum(np.maximum(comp, fetch), np.maximum(write, index))
        if queued:  # each port and the interconnect serve their own sums
            ports = [np.bincount(g, v, n_groups) for v in d.level_port_cycles.values()]
            port = np.max(ports, axis=0) if ports else np.zeros(n_groups)
            ic = np.bincount(g, d.interconnect_cycles, n_groups)
            steps = np.maximum(steps, np.maximum(port, ic))
        t.step_cycles.append(steps)
        if self.timeline is not None:
            starts = t.cycles + np.concatenate([[0.0], np.cumsum(steps)[:-1]])
            ids = d.step[np.searchsorted(g, np.arange(n_groups))]
            for s0, dur, sid in zip(starts.tolist(), steps.tolist(), ids.tolist()):
                self.timeline.span("step", f"step {sid}", int(s0), int(np.ceil(s0 + dur)), sid)
        t.cycles += float(steps.sum())
        t.add_busy(cfg, d, folded=not queued)
        idle = steps - comp
        bounds, causes = [fetch, index, write], ["dram", "index", "writeback"]
        if queued:
            bounds, causes = bounds + [port, ic], causes + ["sram_port", "interconnect"]
        bound = np.argmax(np.stack(bounds), axis=0)
        for code, cause in enumerate(causes):
            t.stall[cause] += float(idle[bound == code].sum())

    def drain(self, drain_bytes: int) -> None:
        self.timing.add_drain(self.config, drain_bytes)

    def finish(self) -> Timing:
        self.timing.close_stalls()
        return self.timing
