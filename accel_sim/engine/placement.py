"""Where tensors live: footprints per level, on-chip residency or spill, and the traffic between
levels and to DRAM that follows.

A tensor of kind K lives at the levels ``mapping.tensors.K.via + [level]`` (outer first; ops
access the innermost; unmapped kinds: the first SRAM level), stored at each in its format
(``accel_sim.hardware.formats``). Footprint at a level (bytes, hardware words) = stored entries x
word + metadata bits / 8, where the non-zeros are the pattern's entries for a tensor with a
pattern (a compact tensor's entries are all there is) and every element otherwise (dynamic zeros
are not known ahead). Each level keeps its tensors smallest-first while they fit (capacity =
size, times the PE count for a PE-local level); the rest are *not resident* there.

Traffic, per op and tensor, from the accesses at the innermost level outwards, level by level:
a level the tensor is resident at passes on only its compulsory fill — the first ``footprint``
bytes read, per step when ``streamed`` — and only for tensors that come from DRAM
(``from_dram``); a level it is not resident at stages everything (reads and writes pass through
to the next level out, and are written / read there as fills / drains). Past the outermost level
is DRAM; a tensor not resident at its outermost level *spills*. ``drain_at_end`` tensors are
written back once at the end (what was written, at most their footprint).
"""

from __future__ import annotations

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.hardware.actions import storage_format
from accel_sim.hardware.formats import rle_padding, stored
from accel_sim.trace.header import TraceHeader, static_entries


def footprint_bytes(config: HardwareConfig, header: TraceHeader, tensor_index: int, level: str) -> int:
    """Bytes tensor ``tensor_index`` occupies at ``level`` in its format there."""
    t = header.tensors[tensor_index]
    fmt = storage_format(config, header, tensor_index, level)
    rows, cols = t.shape
    entries_at = static_entries(header, t)
    nnz = rows * cols if entries_at is None else int(entries_at[0].size)
    padding = 0
    if fmt.type == "rle" and entries_at is not None:
        padding = rle_padding(entries_at[0] * cols + entries_at[1], fmt.run_bits)
    if fmt.type == "uncompressed":
        entries, meta = (nnz if t.compact else rows * cols), 0
    else:
        s = stored(fmt.type, rows, cols, nnz, padding, fmt.run_bits)
        entries, meta = s.entries, s.metadata_bits
    return int(round(entries * config.pe_array.word_bytes)) + -(-meta // 8)


class Placement:
    """Residency of the trace's tensors on one config, and the state carried across batches
    (compulsory loads done, bytes written). Tensors are referred to by their index in
    ``header.tensors``; a tensor's levels are ``chain[t]`` (outer first)."""

    def __init__(self, config: HardwareConfig, header: TraceHeader) -> None:
        self.config = config
        self.header = header
        n = len(header.tensors)
        self.names = tuple(t.name for t in header.tensors)
        self.kinds = tuple(t.kind for t in header.tensors)
        self.place = tuple(config.placement(kind) for kind in self.kinds)
        self.chain = tuple(tuple(p.levels) for p in self.place)
        #: footprint[t][level] in bytes
        self.footprints = [{lv: footprint_bytes(config, header, t, lv) for lv in self.chain[t]} for t in range(n)]
        self.resident = self._decide_residency()  # set of (tensor, level)
        self.spilled = {t for t in range(n) if (t, self.chain[t][0]) not in self.resident}
        self.loaded: dict[tuple[int, str], int] = {}  # compulsory bytes already loaded, per (tensor, level)
        self.written_total = np.zeros(n, np.int64)
        #: tensors whose traffic leaves their innermost level (the demand passes their per-op bytes)
        self.moving = tuple(t for t in range(n) if self._moves(t))

    def _moves(self, t: int) -> bool:
        p = self.place[t]
        if p.from_dram or p.streamed or p.drain_at_end:
            return True
        return any((t, lv) not in self.resident for lv in self.chain[t])

    def _decide_residency(self) -> set[tuple[int, str]]:
        resident = set()
        for level in self.config.sram:
            capacity = self.config.level_capacity_bytes(level)
            here = sorted((self.footprints[t][level], t) for t in range(len(self.names)) if level in self.chain[t])
            used = 0
            for size, t in here:
                if used + size <= capacity:
                    used += size
                    resident.add((t, level))
        return resident

    @property
    def footprint(self) -> np.ndarray:
        """(tensors,) bytes at each tensor's innermost level."""
        return np.array([self.footprints[t][self.chain[t][-1]] for t in range(len(self.names))], np.int64)

    @property
    def spilled_names(self) -> list[str]:
        return sorted(self.names[i] for i in self.spilled)

    def footprint_by_name(self) -> dict[str, int]:
        return {name: int(b) for name, b in zip(self.names, self.footprint)}

    def footprint_by_level(self) -> dict[str, dict[str, int]]:
        """{tensor name: {level: bytes}} for every level each tensor lives at."""
        return {self.names[t]: dict(self.footprints[t]) for t in range(len(self.names))}

    def footprint_of_kind(self, kind: str) -> int:
        return int(sum(int(b) for k, b in zip(self.kinds, self.footprint) if k == kind))

    def kind_spilled(self, kind: str) -> bool:
        return any(self.kinds[i] == kind for i in self.spilled)

    def resident_bytes(self) -> dict[str, int]:
        """Bytes each SRAM level holds (its resident tensors' footprints there)."""
        out = {level: 0 for level in self.config.sram}
        for t, level in self.resident:
            out[level] += self.footprints[t][level]
        return out

    # ------------------------------------------------------------------ traffic

    def traffic(self, step: np.ndarray, reads: dict[int, np.ndarray], writes: dict[int, np.ndarray]):
        """Per-op traffic beyond the innermost accesses, from the per-op bytes read / written at
        each ``moving`` tensor's innermost level: returns (dram read, dram write, spill,
        {level: extra SRAM bytes read}, {level: extra SRAM bytes written}), int64 arrays
        (writes at a level = fills arriving there, reads = drains leaving it)."""
        n = step.shape[0]
        dram_r, dram_w, spill = (np.zeros(n, np.int64) for _ in range(3))
        lv_r = {lv: np.zeros(n, np.int64) for lv in self.config.sram}
        lv_w = {lv: np.zeros(n, np.int64) for lv in self.config.sram}
        group_start = None
        for t in self.moving:
            place, chain = self.place[t], self.chain[t]
            cur_r, cur_w = reads[t], writes[t]
            self.written_total[t] += int(cur_w.sum())
            for depth in range(len(chain) - 1, -1, -1):
                level = chain[depth]
                if not (cur_r.any() or cur_w.any()):
                    break
                if (t, level) in self.resident:
                    if not (place.from_dram or place.streamed):
                        cur_r = cur_w = None
                        break
                    footprint = self.footprints[t][level]
                    if place.streamed:
                        if group_start is None:
                            group_start = _group_starts(step)
                        pulled = _per_step_first(cur_r, footprint, group_start)
                    else:
                        before = self.loaded.get((t, level), 0)
                        if before >= footprint:
                            cur_r = cur_w = None
                            break
                        loaded = np.minimum(before + np.cumsum(cur_r), max(footprint, before))
                        pulled = np.diff(loaded, prepend=before)
                        self.loaded[(t, level)] = int(loaded[-1]) if n else before
                    cur_r, cur_w = pulled, np.zeros(n, np.int64)
                elif depth == 0:
                    spill += cur_r + cur_w
                lv_w[level] += cur_r  # data arriving from further out fills this level
                lv_r[level] += cur_w  # data leaving for further out drains it
                if depth > 0:
                    outer = chain[depth - 1]
                    lv_r[outer] += cur_r
                    lv_w[outer] += cur_w
            else:
                dram_r += cur_r
                dram_w += cur_w
        return dram_r, dram_w, spill, lv_r, lv_w

    def drain_at_end(self) -> dict[str, int]:
        """Bytes per level written back to DRAM after the last step (resident drained tensors,
        read at their outermost level)."""
        out: dict[str, int] = {}
        for t, place in enumerate(self.place):
            outer = self.chain[t][0]
            if place.drain_at_end and t not in self.spilled and not place.streamed and self.written_total[t]:
                out[outer] = out.get(outer, 0) + int(min(self.written_total[t], self.footprints[t][outer]))
        return out


def _group_starts(step: np.ndarray) -> np.ndarray:
    """Index of the first op of each op's step (ops are in step order)."""
    n = step.shape[0]
    is_start = np.ones(n, bool)
    is_start[1:] = step[1:] != step[:-1]
    return np.maximum.accumulate(np.where(is_start, np.arange(n), 0))


def _per_step_first(r: np.ndarray, footprint: int, group_start: np.ndarray) -> np.ndarray:
    """Bytes of ``r`` that are the first ``footprint`` bytes read within their step."""
    cs = np.cumsum(r)
    base = (cs - r)[group_start]
    within = cs - base
    return np.minimum(within, footprint) - np.minimum(within - r, footprint)
