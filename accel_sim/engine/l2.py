"""L2 fine-grained discrete-event model (SimPy): the reference L1 is checked against.

Every op is cut into many small units (one per cycle of its longest stage, at most
``engine.l2_max_units_per_op``), and each resource is a SimPy process that serves its units one
after another: a DRAM reader (transfer, then the data lands ``latency_cycles`` later), the index
units, the PE array (waits for a unit's data and indices, computes, in program order) and a DRAM
writer. Every unit is a handful of SimPy events; a step ends when all four processes are done.
It uses events, not the closed forms of L1, so the two are independent implementations of one
machine; they differ only in granularity (first-tile fill and last-tile drain).

With an operand queue (``pe_array.operand_queue_bytes`` > 0) a deliverer process issues each unit
once its data and indices are there and a ``simpy.Container`` of the queue's bytes takes its port
bytes; each SRAM level's port and the interconnect are ``simpy.Resource`` servers it requests (FIFO);
the array waits for the unit's delivery, takes its bytes out of the container and computes.
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
        queued = self.config.pe_array.operand_queue_bytes > 0
        self.timing.add_busy(self.config, d, folded=not queued)
        bw = self.config.dram.bandwidth_bytes_per_cycle
        steps = d.step.tolist()
        ops = list(zip(d.compute_cycles.tolist(), (d.dram_read_bytes / bw).tolist(),
                       (d.dram_write_bytes / bw).tolist(), d.index_cycles.tolist(), d.array_cycles.tolist()))
        if queued:
            servers = [d.level_port_cycles[lv] for lv in d.level_port_cycles] + [d.interconnect_cycles]
            deliver = np.stack(servers, axis=1).tolist()
            nbytes = d.port_bytes.tolist()
            ops = [(a, f, w, x, dv, b) for (c, f, w, x, a), dv, b in zip(ops, deliver, nbytes)]
        durations = []
        i, n = 0, len(steps)
        while i < n:
            j = i
            while j < n and steps[j] == steps[i]:
                j += 1
            start = self.env.now
            body = self._step_queued(ops[i:j]) if queued else self._step(ops[i:j])
            self.env.run(until=self.env.process(body))
            durations.append(self.env.now - start)
            if self.timeline is not None:
                self.timeline.span("step", f"step {steps[i]}", int(start), int(np.ceil(self.env.now)), steps[i])
            i = j
        self.timing.step_cycles.append(np.asarray(durations, dtype=np.float64))
        self.timing.cycles = float(self.env.now)

    def _units(self, *stages) -> int:
        longest = max(stages)
        return max(1, min(self.max_units, math.ceil(longest))) if longest > 0 else 1

    def _step(self, ops):
        env, lat = self.env, float(self.config.dram.latency_cycles)
        plan = [(self._units(c, f, w, x), c, f, w, x, a) for c, f, w, x, a in ops]
        arrived, decoded = _input_events(env, plan)
        computed = [[env.event() for _ in range(u)] for u, *_ in plan]
        land = _land(env)

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

    def _step_queued(self, ops):
        env, lat = self.env, float(self.config.dram.latency_cycles)
        cap = float(self.config.pe_array.operand_queue_bytes)
        n_servers = len(ops[0][4])
        causes = ["sram_port"] * (n_servers - 1) + ["interconnect"]
        servers = [simpy.Resource(env, capacity=1) for _ in range(n_servers)]
        queue = simpy.Container(env, capacity=cap, init=0)
        plan = [(self._units(a, f, w, x, *dv), a, f, w, x, dv, b) for a, f, w, x, dv, b in ops]
        arrived, decoded = _input_events(env, plan)
        delivered = [[None] * u for u, *_ in plan]
        issued = [[env.event() for _ in range(u)] for u, *_ in plan]
        computed = [[env.event() for _ in range(u)] for u, *_ in plan]
        land = _land(env)

        def reader():
            for k, (u, a, f, w, x, dv, b) in enumerate(plan):
                if f > 0:
                    for j in range(u):
                        yield env.timeout(f / u)
                        env.process(land(lat, arrived[k][j]))

        def indexer():
            for k, (u, a, f, w, x, dv, b) in enumerate(plan):
                if x > 0:
                    for j in range(u):
                        yield env.timeout(x / u)
                        decoded[k][j].succeed()

        def serve(server, cycles):
            with server.request() as req:
                yield req
                yield env.timeout(cycles)

        def deliverer():
            for k, (u, a, f, w, x, dv, b) in enumerate(plan):
                take = _grid(min(b / u, cap))
                for j in range(u):
                    yield arrived[k][j] & decoded[k][j]
                    if take > 0:
                        full_from = env.now
                        yield queue.put(take)
                        self.timing.queue_full_cycles += env.now - full_from
                        self.timing.queue_peak_bytes = max(self.timing.queue_peak_bytes, queue.level)
                    jobs = [env.process(serve(servers[s], v / u)) for s, v in enumerate(dv) if v > 0]
                    delivered[k][j] = simpy.AllOf(env, jobs)
                    issued[k][j].succeed()
                    self.timing.events += 2 + 2 * len(jobs)

        def array():
            stall = self.timing.stall
            for k, (u, a, f, w, x, dv, b) in enumerate(plan):
                take = _grid(min(b / u, cap))
                slowest = max(range(n_servers), key=lambda s: dv[s])
                for j in range(u):
                    idle_from = env.now
                    yield issued[k][j]
                    front = env.now
                    yield delivered[k][j]
                    if front > idle_from:
                        stall["dram" if f > 0 else "index"] += front - idle_from
                    if env.now > front:
                        stall[causes[slowest]] += env.now - front
                    if take > 0:
                        yield queue.get(take)
                    if a > 0:
                        yield env.timeout(a / u)
                    computed[k][j].succeed()
                    self.timing.events += 1

        def writer():
            for k, (u, a, f, w, x, dv, b) in enumerate(plan):
                if w > 0:
                    for j in range(u):
                        yield computed[k][j]
                        yield env.timeout(w / u)

        procs = [env.process(p()) for p in (reader, indexer, deliverer, array, writer)]
        yield procs[3]
        array_end = env.now
        yield simpy.AllOf(env, procs)
        self.timing.stall["writeback"] += env.now - array_end

    def drain(self, drain_bytes: int) -> None:
        self.timing.add_drain(self.config, drain_bytes)

    def finish(self) -> Timing:
        self.timing.close_stalls()
        return self.timing


def _input_events(env, plan) -> tuple[list, list]:
    """Per op of ``plan`` (entries ``(units, _, dram fetch, _, index work, ...)``) and unit: the
    events 'its data arrived' and 'its indices are decoded', already fired where there is no DRAM
    fetch / nothing to decode."""
    arrived = [[env.event() for _ in range(u)] for u, *_ in plan]
    decoded = [[env.event() for _ in range(u)] for u, *_ in plan]
    for k, (u, _c, f, _w, x, *_rest) in enumerate(plan):
        for j in range(u):
            if f <= 0:
                arrived[k][j].succeed()
            if x <= 0:
                decoded[k][j].succeed()
    return arrived, decoded


def _land(env):
    """A process factory: fire ``event`` after ``delay`` cycles."""
    def land(delay, event):
        yield env.timeout(delay)
        event.succeed()
    return land


def _grid(nbytes: float) -> float:
    """Queue bytes on a 2^-20 grid, so that the queue's level adds up exactly (float sums of
    dyadic fractions) and a unit's bytes always leave the queue as they came in."""
    return math.floor(nbytes * 2**20) / 2**20
