"""L1 tile-level discrete-event model (SimPy): one event per tile of work.

Resources: DRAM read channel, index units, PE array (with its SRAM ports and interconnect as one
compute stage), DRAM write channel. Each is a reservation-style server that keeps its next-free
time (FIFO holds: every resource serves its tiles in program order). An op is cut into tiles
(:meth:`TileEngine.tile_count`); tile j is fetched (DRAM read, landing ``latency_cycles`` later)
and decoded (index units), both issued in program order from the start of the step (unbounded
prefetch within a step), then computed in program order on the array, then written back. Each
tile's compute is one SimPy event, so the simulation clock walks the array tile by tile; a step
ends when the array and the write channel are both done (the recurrence needs s_t before step
t+1).

SRAM ports (one server per level, bank conflicts included in its time, ``accel_sim.engine.banks``)
and the interconnect are resources too. Without an operand queue (``pe_array.operand_queue_bytes:
0``) operands stream into the array as it consumes them: a tile holds the array, its ports and the
interconnect together, the array for the longest of the three (it waits for its operands: the
``sram_port`` / ``interconnect`` stalls), so a port is always free again before the array is and
only the array's next-free time needs keeping. With a queue of Q bytes the ports and interconnect
deliver tiles ahead: tile j's delivery is issued in program order once its data landed and its
indices are decoded and the queue has room for its port bytes (min(bytes, Q); bytes leave when the
array starts the tile), each port / the interconnect serves it when free; the array computes it
(array cycles only) once delivered (:mod:`accel_sim.engine.queued`).

Tiles are sized adaptively: an op that uses one resource only has nothing to overlap and is one
tile (exact); otherwise a tile is about ``engine.l1_tile_cycles`` of the op's longest stage, at
most ``engine.l1_max_tiles_per_op`` tiles. Coarse tiles only move the first tile's fill and the
last tile's drain, which L2 (one unit per cycle) bounds: L1 stays within 1 % of it.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.demand import Demand
from accel_sim.engine.timing import Timing


class TileEngine:
    fidelity = "L1"

    def __init__(self, config: HardwareConfig, timeline=None) -> None:
        self.config = config
        self.timeline = timeline
        self.timing = Timing()
        self.env = simpy.Environment()
        self.tile_cycles = config.engine.l1_tile_cycles
        self.max_tiles = config.engine.l1_max_tiles_per_op

    def tile_count(self, c: float, f: float, w: float, x: float, extra: int = 0) -> int:
        """Tiles of an op whose compute, DRAM read, DRAM write and index stages last c, f, w, x cycles."""
        if (c > 0) + (f > 0) + (w > 0) + (x > 0) + extra <= 1:
            return 1
        return min(self.max_tiles, max(1, math.ceil(max(c, f, w, x) / self.tile_cycles)))

    # ---------------------------------------------------------------------------- public

    def run(self, d: Demand) -> None:
        if d.n_ops == 0:
            return
        queued = self.config.pe_array.operand_queue_bytes > 0
        self.timing.add_busy(self.config, d, folded=not queued)
        if queued:
            from accel_sim.engine.queued import queued_steps

            proc = self.env.process(queued_steps(self, d))
        else:
            proc = self.env.process(self._steps(d))
        self.env.run(until=proc)

    def drain(self, drain_bytes: int) -> None:
        self.timing.add_drain(self.config, drain_bytes)

    def finish(self) -> Timing:
        self.timing.close_stalls()
        return self.timing

    # ---------------------------------------------------------------------------- schedule

    def _steps(self, d: Demand):
        env, t = self.env, self.timing
        timeout, stall = env.timeout, t.stall
        bw, lat = self.config.dram.bandwidth_bytes_per_cycle, float(self.config.dram.latency_cycles)
        steps = d.step.tolist()
        comp = d.compute_cycles.tolist()
        fetch = (d.dram_read_bytes / bw).tolist()
        write = (d.dram_write_bytes / bw).tolist()
        index = d.index_cycles.tolist()
        durations = []
        i, n = 0, len(steps)
        while i < n:
            step = steps[i]
            t0 = float(env.now)
            dr = ix = dw = arr = t0  # next-free times of DRAM read, index units, array, DRAM write
            first = i
            spans = []  # timeline only, per op: read / index queues before it, free times after it
            while i < n and steps[i] == step:
                c, f, w, x = comp[i], fetch[i], write[i], index[i]
                tiles = self.tile_count(c, f, w, x)
                tc, tf, tw, tx = c / tiles, f / tiles, w / tiles, x / tiles
                queued = (dr, ix)
                for _ in range(tiles):
                    ready, cause = t0, "index"
                    if f > 0:
                        dr += tf
                        ready, cause = dr + lat, "dram"
                    if x > 0:
                        ix += tx
                        if ix > ready:
                            ready, cause = ix, "index"
                    if ready > arr:
                        stall[cause] += ready - arr
                        arr = ready
                    arr += tc
                    if w > 0:
                        dw = (dw if dw > arr else arr) + tw
                    now = env.now
                    yield timeout(arr - now if arr > now else 0.0)  # the array finishes this tile
                t.tiles += tiles
                t.events += tiles
                if self.timeline is not None:
                    spans.append((*queued, arr, dr, ix, dw, c, f, x, w))
                i += 1
            end = arr if arr > dw else dw
            stall["writeback"] += end - arr
            durations.append(end - t0)
            if self.timeline is not None:
                self._timeline(d, first, step, t0, end, spans)
            t.events += 1
            yield timeout(max(end - env.now, 0.0))
        t.step_cycles.append(np.asarray(durations))
        t.cycles += float(np.sum(durations))

    def _timeline(self, d: Demand, first: int, step: int, t0: float, end: float, spans) -> None:
        """One span per op and busy resource, SRAM port spans and per-step utilisation counters."""
        tl = self.timeline
        busy = 0.0
        port_busy = dict.fromkeys(d.level_port_cycles, 0.0)
        for k, (r0, x0, a1, r1, x1, w1, c, f, x, w) in enumerate(spans):
            i = first + k
            name = d.label_names[int(d.label[i])]
            busy += float(d.array_cycles[i])
            if c > 0:
                start = a1 - c
                tl.span("pe_array", name, int(start), int(math.ceil(a1)), step)
                for lv, cycles in d.level_port_cycles.items():
                    if cycles[i] > 0:
                        port_busy[lv] += float(cycles[i])
                        tl.span(f"sram:{lv}", name, int(start), int(math.ceil(start + cycles[i])), step)
            if f > 0:
                tl.span("dram_read", name, int(max(r0, t0)), int(math.ceil(r1)), step)
            if x > 0:
                tl.span("index_units", name, int(max(x0, t0)), int(math.ceil(x1)), step)
            if w > 0:
                tl.span("dram_write", name, int(math.ceil(w1 - w)), int(math.ceil(w1)), step)
        if end > t0:
            tl.counter("pe_array_utilization", int(t0), busy / (end - t0))
            for lv, cycles in port_busy.items():
                tl.counter(f"sram:{lv}_port_utilization", int(t0), cycles / (end - t0))
        imbalance_counters(tl, d, first, first + len(spans), t0, end)


def imbalance_counters(tl, d: Demand, first: int, stop: int, t0: float, end: float) -> None:
    """Per-step counters of the work over the PEs, for ops ``first:stop`` of one step that started at
    cycle ``t0`` and ended at ``end``: ``pe_imbalance`` (busiest / mean PE MACs over the step's ops the
    mapping spreads, MAC-weighted; 1 when none), ``pe_imbalance_cycles`` (array cycles the step lost
    behind its busiest PEs) and ``pe_work_utilization`` (fraction of the step the PE array works,
    net of the PEs idling behind the busiest one: array cycles less imbalance cycles over the step)."""
    if d.pe_busiest is None:
        return
    mean = float(d.pe_mean[first:stop].sum())
    tl.counter("pe_imbalance", int(t0), float(d.pe_busiest[first:stop].sum()) / mean if mean > 0 else 1.0)
    tl.counter("pe_imbalance_cycles", int(t0), float(d.imbalance_cycles[first:stop].sum()))
    if end > t0:
        busy = float((d.array_cycles[first:stop] - d.imbalance_cycles[first:stop]).sum())
        tl.counter("pe_work_utilization", int(t0), busy / (end - t0))
