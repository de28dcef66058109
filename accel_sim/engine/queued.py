"""L1's schedule with an operand queue (``pe_array.operand_queue_bytes`` = Q > 0) between the SRAM
ports / interconnect and the PE array; see :mod:`accel_sim.engine.l1` for the machine.

Per tile j of an op cut into T tiles (stage times / T each), in program order: DRAM read and index
units as without a queue (ready_j = max(landed, decoded)); delivery issue_j = max(issue_{j-1},
ready_j, the time the queue has room for b_j = min(port bytes / T, Q)); every SRAM level the op
uses and the interconnect serve the tile when free (s = max(free, issue_j), busy its share);
delivered_j = the last of them; the array starts at max(array free, delivered_j) (the tile's bytes
leave the queue), busy array cycles / T; the write channel as without a queue. Reservation-style
servers, one SimPy event per tile: the clock walks the array. A tile of more bytes than fit the
queue would serialise delivery and compute where finer units overlap them, so a queued op's tiles
hold at most 1 / QUEUE_SHARE of the queue (up to QUEUE_SHARE times ``l1_max_tiles_per_op``).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from accel_sim.engine.demand import Demand


QUEUE_SHARE = 8  # L1 cuts a queued op into tiles of at most 1/8 of the queue (up to 8x its tile limit)


def queued_steps(engine, d: Demand):
    env, t = engine.env, engine.timing
    timeout, stall = env.timeout, t.stall
    cfg = engine.config
    cap = float(cfg.pe_array.operand_queue_bytes)
    bw, lat = cfg.dram.bandwidth_bytes_per_cycle, float(cfg.dram.latency_cycles)
    steps = d.step.tolist()
    arr_c = d.array_cycles.tolist()
    fetch = (d.dram_read_bytes / bw).tolist()
    write = (d.dram_write_bytes / bw).tolist()
    index = d.index_cycles.tolist()
    levels = list(d.level_port_cycles)
    servers = [d.level_port_cycles[lv] for lv in levels] + [d.interconnect_cycles]
    deliver = np.stack(servers, axis=1).tolist() if servers else [[] for _ in steps]
    causes = ["sram_port"] * len(levels) + ["interconnect"]
    nbytes = (d.port_bytes if d.port_bytes is not None else np.zeros(len(steps))).tolist()
    durations = []
    i, n = 0, len(steps)
    while i < n:
        step = steps[i]
        t0 = float(env.now)
        first = i
        dr = ix = dw = arr = issue = t0
        free = [t0] * len(servers)
        pending: deque = deque()  # (array start, bytes) of delivered tiles, oldest first
        held = 0.0  # bytes of ``pending``
        while i < n and steps[i] == step:
            a, f, w, x, dv = arr_c[i], fetch[i], write[i], index[i], deliver[i]
            used = [k for k, v in enumerate(dv) if v > 0]
            longest = max(a, *dv) if dv else a  # the delivery stages are as long as the array's
            tiles = engine.tile_count(longest, f, w, x, extra=len(used))
            if nbytes[i] > 0 and tiles > 1:  # a tile holds a fraction of the queue, or run-ahead is lost
                tiles = max(tiles, min(math.ceil(QUEUE_SHARE * nbytes[i] / cap), QUEUE_SHARE * engine.max_tiles))
            ta, tf, tw, tx = a / tiles, f / tiles, w / tiles, x / tiles
            b = _grid(min(nbytes[i] / tiles, cap))
            for _ in range(tiles):
                ready, cause = t0, "index"
                if f > 0:
                    dr += tf
                    ready, cause = dr + lat, "dram"
                if x > 0:
                    ix += tx
                    if ix > ready:
                        ready, cause = ix, "index"
                if ready > issue:
                    issue = ready
                front, front_cause = issue, cause
                while pending and pending[0][0] <= issue:  # started by the array: gone from the queue
                    held -= pending.popleft()[1]
                room = issue
                while pending and held + b > cap:  # wait for the oldest tiles to leave the queue
                    s_old, b_old = pending.popleft()
                    held -= b_old
                    if s_old > room:
                        room = s_old
                t.queue_full_cycles += room - issue
                issue = room
                delivered, cause = issue, "sram_port"
                for k in used:
                    s = free[k] if free[k] > issue else issue
                    free[k] = s + dv[k] / tiles
                    if free[k] > delivered:
                        delivered, cause = free[k], causes[k]
                start = delivered if delivered > arr else arr
                if start > arr:  # waiting for data / indices, then for the queue and the ports
                    waited = (front if front < start else start) - arr
                    if waited > 0:
                        stall[front_cause] += waited
                        stall[cause] += start - front
                    else:
                        stall[cause] += start - arr
                arr = start + ta
                if b > 0:
                    pending.append((start, b))
                    held += b
                    if held > t.queue_peak_bytes:
                        t.queue_peak_bytes = held
                if w > 0:
                    dw = (dw if dw > arr else arr) + tw
                now = env.now
                yield timeout(arr - now if arr > now else 0.0)
            t.tiles += tiles
            t.events += tiles
            i += 1
        end = max(arr, dw, *free)
        stall["writeback"] += end - arr
        durations.append(end - t0)
        if engine.timeline is not None:
            from accel_sim.engine.l1 import imbalance_counters

            engine.timeline.span("step", f"step {step}", int(t0), int(np.ceil(end)), step)
            imbalance_counters(engine.timeline, d, first, i, t0, end)
        t.events += 1
        yield timeout(max(end - env.now, 0.0))
    t.step_cycles.append(np.asarray(durations))
    t.cycles += float(np.sum(durations))


def _grid(nbytes: float) -> float:
    """Queue bytes on a 2^-20 grid (as L2 keeps them: exact sums)."""
    return math.floor(nbytes * 2**20) / 2**20
