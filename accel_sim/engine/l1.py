"""L1 tile-level discrete-event model with reservation-style servers (DESIGN §6).

Resources: DRAM read channel, index units, PE array (with its SRAM ports and interconnect as one
compute stage), DRAM write channel. Each keeps its next-free time. An op is cut into T equal tiles
(T = its longest stage / ``engine.l1_tile_cycles``); tile i is fetched (DRAM read + latency, index
decode, both issued in program order from the start of the step: unbounded prefetch within a
step), then computed in program order on the array, then written back. Steps are sequential
(the recurrence needs s_t before step t+1).

With equal tiles the T-tile schedule has a closed form, so an op costs O(1) however many tiles
it has: tile readiness r_j is a max of linear functions of j, hence the array's finish time
max(P + T c, r_0 + T c, r_{T-1} + c) and the write channel's finish max(W + T w, A_0 + T w,
A_{T-1} + w) are attained at the first or last tile (P, W: when the array / write channel come
free; c, w: per-tile compute and write cycles). :meth:`TileEngine.op_schedule_explicit` computes
the same tile by tile; tests hold the two together, and L2 checks both.
SimPy carries the step clock (one event per step); tiles are reservations, not SimPy events.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.demand import Demand
from accel_sim.engine.timing import Timing
from accel_sim.trace.schema import LABELS


class TileEngine:
    fidelity = "L1"

    def __init__(self, config: HardwareConfig, timeline=None) -> None:
        self.config = config
        self.timeline = timeline
        self.timing = Timing()
        self.env = simpy.Environment()
        self.tile_cycles = config.engine.l1_tile_cycles

    # ---------------------------------------------------------------------------- public

    def run(self, d: Demand) -> None:
        if d.n_ops == 0:
            return
        self.timing.add_busy(self.config, d)
        proc = self.env.process(self._steps(d))
        self.env.run(until=proc)

    def drain(self, drain_bytes: int) -> None:
        self.timing.add_drain(self.config, drain_bytes)

    def finish(self) -> Timing:
        self.timing.close_stalls()
        return self.timing

    # ---------------------------------------------------------------------------- schedule

    def _steps(self, d: Demand):
        cfg, t = self.config, self.timing
        bw, lat = cfg.dram.bandwidth_bytes_per_cycle, float(cfg.dram.latency_cycles)
        steps = d.step.tolist()
        comp = d.compute_cycles.tolist()
        arr = d.array_cycles.tolist()
        fetch = (d.dram_read_bytes / bw).tolist()
        write = (d.dram_write_bytes / bw).tolist()
        index = d.index_cycles.tolist()
        labels = d.label.tolist()
        durations = []
        i, n = 0, len(steps)
        stall = t.stall
        tl = self.timeline
        # Timeline only: each SRAM level's port cycles per op (its accesses overlap the compute stage).
        port_cycles = {} if tl is None else {lv: c.tolist() for lv, c in d.level_port_cycles.items()}
        while i < n:
            step = steps[i]
            t0 = float(self.env.now)
            dr_free = ix_free = dw_free = arr_free = t0
            busy = 0.0
            port_busy = dict.fromkeys(port_cycles, 0.0)
            while i < n and steps[i] == step:
                c, f, w, x = comp[i], fetch[i], write[i], index[i]
                longest = max(c, f, w, x)
                tiles = max(1, math.ceil(longest / self.tile_cycles)) if longest > 0 else 1
                t.tiles += tiles
                t.events += (c > 0) + (f > 0) + (w > 0) + (x > 0)
                if f > 0:
                    d0 = dr_free if dr_free > t0 else t0
                    a0, a_last = d0 + f / tiles + lat, d0 + f + lat
                    dr_free = d0 + f
                else:
                    a0 = a_last = t0
                if x > 0:
                    i0 = ix_free if ix_free > t0 else t0
                    b0, b_last = i0 + x / tiles, i0 + x
                    ix_free = i0 + x
                else:
                    b0 = b_last = t0
                r0 = a0 if a0 > b0 else b0
                r_last = a_last if a_last > b_last else b_last
                p = arr_free
                if c > 0:
                    tc = c / tiles
                    first_end = (p if p > r0 else r0) + tc
                    arr_free = max(p + c, r0 + c, r_last + tc)
                    wait = arr_free - p - c
                else:
                    first_end = p if p > r0 else r0
                    arr_free = p if p > r_last else r_last
                    wait = arr_free - p
                if wait > 0:
                    stall["dram" if (f > 0 and a_last >= b_last) else "index"] += wait
                busy += arr[i]
                if w > 0:
                    w0 = dw_free if dw_free > t0 else t0
                    w_start = max(w0, first_end)
                    dw_free = max(w0 + w, first_end + w, arr_free + w / tiles)
                if tl is not None:
                    name = LABELS[labels[i]]
                    if c > 0:
                        tl.span("pe_array", name, int(arr_free - c), int(math.ceil(arr_free)), step)
                        for lv, cycles in port_cycles.items():
                            if cycles[i] > 0:
                                port_busy[lv] += cycles[i]
                                tl.span(f"sram:{lv}", name, int(arr_free - c), int(math.ceil(arr_free - c + cycles[i])), step)
                    if f > 0:
                        tl.span("dram_read", name, int(d0), int(math.ceil(dr_free)), step)
                    if x > 0:
                        tl.span("index_units", name, int(i0), int(math.ceil(ix_free)), step)
                    if w > 0:
                        tl.span("dram_write", name, int(w_start), int(math.ceil(dw_free)), step)
                i += 1
            end = arr_free if arr_free > dw_free else dw_free
            stall["writeback"] += end - arr_free
            durations.append(end - t0)
            if tl is not None and end > t0:
                tl.counter("pe_array_utilization", int(t0), busy / (end - t0))
                for lv, cycles in port_busy.items():
                    tl.counter(f"sram:{lv}_port_utilization", int(t0), cycles / (end - t0))
            t.events += 1
            yield self.env.timeout(end - t0)
        t.step_cycles.append(np.asarray(durations))
        t.cycles = float(self.env.now)

    @staticmethod
    def op_schedule_explicit(t0, p, dr_free, ix_free, dw_free, c, f, w, x, lat, tiles):
        """Tile-by-tile reference of one op's schedule (tests): returns (array_free, dram_read_free,
        index_free, dram_write_free)."""
        tc, tf, tw, tx = c / tiles, f / tiles, w / tiles, x / tiles
        arr = p
        for _ in range(tiles):
            ready = t0
            if f > 0:
                dr_free = max(dr_free, t0) + tf
                ready = max(ready, dr_free + lat)
            if x > 0:
                ix_free = max(ix_free, t0) + tx
                ready = max(ready, ix_free)
            arr = max(arr, ready) + tc
            if w > 0:
                dw_free = max(dw_free, t0, arr) + tw
        return arr, dr_free, ix_free, dw_free
