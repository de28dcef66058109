"""L2 fine-grained discrete-event model (SimPy): the reference L1 is checked against.

Every op is cut into many small units (one per cycle of its longest stage, at most
``engine.l2_max_units_per_op``), and each resource is a SimPy process that serves its units one
after another: a DRAM reader (transfer, then the data lands ``latency_cycles`` later), the index
units, the PE array (waits for a unit's data and indices, computes, in program order) and a DRAM
writer. Every unit is a handful of SimPy events; a step ends when all four processes are done.
It uses events, not the closed forms of L1, so the two are independent implementations of one
machine; they differ only in granularity (first-tile fill and last-tile drain).
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.demand import Demand
from accel_sim.engine.timing import Timing


class FineEngine:
    fidelity = "L2"

    def __init__(self, config: HardwareConfig, timeline=None) -> None:
        self.config = config
        self.timeline = timeline
        self.timing = Timing()
        self.env = simpy.Environment()
        self.max_units = config.engine.l2_max_units_per_op

    def run(self, d: Demand) -> None:
        if d.n_ops == 0:
            return
        self.timing.add_busy(self.config, d)
        bw = self.config.dram.bandwidth_bytes_per_cycle
        steps = d.step.tolist()
        ops = list(zip(d.compute_cycles.tolist(), (d.dram_read_bytes / bw).tolist(),
                       (d.dram_write_bytes / bw).tolist(), d.index_cycles.tolist(), d.array_cycles.tolist()))
        durations = []
        i, n = 0, len(steps)
        while i < n:
            j = i
            while j < n and steps[j] == steps[i]:
                j += 1
            start = self.env.now
            self.env.run(until=self.env.process(self._step(ops[i:j])))
            durations.append(self.env.now - start)
            if self.timeline is not None:
                self.timeline.span("step", f"step {steps[i]}", int(start), int(np.ceil(self.env.now)), steps[i])
            i = j
        self.timing.step_cycles.append(np.asarray(durations, dtype=np.float64))
        self.timing.cycles = float(self.env.now)

    def _units(self, c, f, w, x) -> int:
        longest = max(c, f, w, x)
        return max(1, min(self.max_units, math.ceil(longest))) if longest > 0 else 1

    def _step(self, ops):
        env, lat = self.env, float(self.config.dram.latency_cycles)
        plan = [(self._units(c, f, w, x), c, f, w, x, a) for c, f, w, x, a in ops]
        arrived = [[env.event() for _ in range(u)] for u, *_ in plan]
        decoded = [[env.event() for _ in range(u)] for u, *_ in plan]
        computed = [[env.event() for _ in range(u)] for u, *_ in plan]
        for k, (u, c, f, w, x, a) in enumerate(plan):  # data already on chip / nothing to decode
            for j in range(u):
                if f <= 0:
                    arrived[k][j].succeed()
                if x <= 0:
                    decoded[k][j].succeed()

        def land(delay, event):
            yield env.timeout(delay)
            event.succeed()

        def reader():
            for k, (u, c, f, w, x, a) in enumerate(plan):
                if f > 0:
                    for j in range(u):
                        yield env.timeout(f / u)
                        env.process(land(lat, arrived[k][j]))
                        self.timing.events += 2

        def indexer():
            for k, (u, c, f, w, x, a) in enumerate(plan):
                if x > 0:
                    for j in range(u):
                        yield env.timeout(x / u)
                        decoded[k][j].succeed()
                        self.timing.events += 1

        def array():
            stall = self.timing.stall
            for k, (u, c, f, w, x, a) in enumerate(plan):
                for j in range(u):
                    idle_from = env.now
                    yield arrived[k][j] & decoded[k][j]
                    waited = env.now - idle_from
                    if waited > 0:
                        stall["dram" if f > 0 else "index"] += waited
                    if c > 0:
                        yield env.timeout(c / u)
                    computed[k][j].succeed()
                    self.timing.events += 1

        def writer():
            for k, (u, c, f, w, x, a) in enumerate(plan):
                if w > 0:
                    for j in range(u):
                        yield computed[k][j]
                        yield env.timeout(w / u)
                        self.timing.events += 1

        procs = [env.process(p()) for p in (reader, indexer, array, writer)]
        array_done = procs[2]
        yield array_done
        array_end = env.now
        yield simpy.AllOf(env, procs)
        self.timing.stall["writeback"] += env.now - array_end

    def drain(self, drain_bytes: int) -> None:
        self.timing.add_drain(self.config, drain_bytes)

    def finish(self) -> Timing:
        self.timing.close_stalls()
        return self.timing
