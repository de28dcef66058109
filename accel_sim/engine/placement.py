"""Where tensors live: footprints, on-chip residency or spill, and the DRAM traffic that follows.

Footprint (bytes, hardware words) of each declared tensor = the elements it stores x the
hardware word: a ``compact`` tensor stores its pattern's entries; a tensor with a pattern stores
its non-zeros on hardware that skips zeros (``sparsity.handling: skipping``) and every element
otherwise; any other tensor stores its whole shape. A tensor lives at the SRAM level its kind is
mapped to (``mapping.tensors``; unmapped kinds: the first level). Each level keeps its tensors
smallest-first while they fit (capacity = size, times the PE count for a PE-local level); the
rest *spill*: every byte read or written goes to DRAM, every step.

DRAM traffic per op and tensor: spilled -> all reads and writes; resident ``from_dram`` -> the
first ``footprint`` bytes read (compulsory load), per step when ``streamed``; resident otherwise
-> none. ``drain_at_end`` tensors are written back once at the end (what was written, at most
their footprint).
"""

from __future__ import annotations

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.trace.header import TraceHeader


def stored_elements(header: TraceHeader, tensor, skipping: bool) -> int:
    """Elements ``tensor`` (a header Tensor) occupies in memory on this kind of hardware."""
    if tensor.pattern is not None and (tensor.compact or skipping):
        return header.patterns[tensor.pattern].nnz
    return tensor.elements


class Placement:
    """Residency of the trace's tensors on one config, and the write-back state carried across
    batches. Tensors are referred to by their index in ``header.tensors``."""

    def __init__(self, config: HardwareConfig, header: TraceHeader) -> None:
        self.config = config
        self.header = header
        skipping = config.sparsity.handling == "skipping"
        wb = config.pe_array.word_bytes
        self.names = tuple(t.name for t in header.tensors)
        self.kinds = tuple(t.kind for t in header.tensors)
        self.place = tuple(config.placement(kind) for kind in self.kinds)
        self.footprint = np.array([int(round(stored_elements(header, t, skipping) * wb)) for t in header.tensors],
                                  np.int64)
        self.spilled = self._decide_spill()
        self.loaded = np.zeros(len(self.names), np.int64)  # compulsory bytes already loaded (non-streamed)
        self.written_total = np.zeros(len(self.names), np.int64)
        #: tensors whose traffic reaches DRAM (the demand passes their per-op bytes)
        self.dram_tensors = tuple(i for i, p in enumerate(self.place)
                                  if i in self.spilled or p.from_dram or p.streamed or p.drain_at_end)
        #: per tensor: its position in ``dram_tensors`` (-1: its traffic stays on chip)
        self.dram_slot = np.full(len(self.names), -1, np.int64)
        self.dram_slot[list(self.dram_tensors)] = np.arange(len(self.dram_tensors))

    def _decide_spill(self) -> set[int]:
        spilled = set()
        for level in self.config.sram:
            capacity = self.config.level_capacity_bytes(level)
            here = sorted((int(self.footprint[i]), i) for i, p in enumerate(self.place) if p.level == level)
            used = 0
            for size, i in here:
                if used + size <= capacity:
                    used += size
                else:
                    spilled.add(i)
        return spilled

    @property
    def spilled_names(self) -> list[str]:
        return sorted(self.names[i] for i in self.spilled)

    def footprint_by_name(self) -> dict[str, int]:
        return {name: int(b) for name, b in zip(self.names, self.footprint)}

    def footprint_of_kind(self, kind: str) -> int:
        return int(sum(int(b) for k, b in zip(self.kinds, self.footprint) if k == kind))

    def kind_spilled(self, kind: str) -> bool:
        return any(self.kinds[i] == kind for i in self.spilled)

    def resident_bytes(self) -> dict[str, int]:
        """Bytes each SRAM level holds (resident tensors' footprints)."""
        out = {level: 0 for level in self.config.sram}
        for i, p in enumerate(self.place):
            if i not in self.spilled:
                out[p.level] += int(self.footprint[i])
        return out

    # ------------------------------------------------------------------ DRAM traffic

    def dram_traffic(self, step: np.ndarray, reads: dict[int, np.ndarray], writes: dict[int, np.ndarray]):
        """Per-op DRAM bytes for one batch from the per-op bytes of the ``dram_tensors``: returns
        (read, write, spill, fill_by_level, drain_by_level), arrays of int64 (fill = SRAM writes of
        data arriving from DRAM, drain = SRAM reads of data leaving for DRAM)."""
        n = step.shape[0]
        dram_r, dram_w, spill = (np.zeros(n, np.int64) for _ in range(3))
        fill = {lv: np.zeros(n, np.int64) for lv in self.config.sram}
        drain = {lv: np.zeros(n, np.int64) for lv in self.config.sram}
        group_start = None
        for t in self.dram_tensors:
            place = self.place[t]
            r, w = reads[t], writes[t]
            self.written_total[t] += int(w.sum())
            spilled = t in self.spilled
            if not spilled and not place.streamed and (not place.from_dram or self.loaded[t] >= self.footprint[t]):
                continue  # resident: drained at the end only, or already loaded
            if not (r.any() or w.any()):
                continue
            if spilled:
                got_r, got_w = r, w
                spill += r + w
            elif place.streamed:
                if group_start is None:
                    group_start = _group_starts(step)
                got_r, got_w = _per_step_first(r, int(self.footprint[t]), group_start), w
            elif place.from_dram:
                before = int(self.loaded[t])
                loaded = np.minimum(before + np.cumsum(r), max(int(self.footprint[t]), before))
                got_r = np.diff(loaded, prepend=before)
                self.loaded[t] = int(loaded[-1]) if n else before
                got_w = np.zeros(n, np.int64)
            else:
                continue
            dram_r += got_r
            dram_w += got_w
            fill[place.level] += got_r
            drain[place.level] += got_w
        return dram_r, dram_w, spill, fill, drain

    def drain_at_end(self) -> dict[str, int]:
        """Bytes per level written back to DRAM after the last step (resident drained tensors)."""
        out: dict[str, int] = {}
        for t, place in enumerate(self.place):
            if place.drain_at_end and t not in self.spilled and not place.streamed and self.written_total[t]:
                out[place.level] = out.get(place.level, 0) + int(min(self.written_total[t], self.footprint[t]))
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
