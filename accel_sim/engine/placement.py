"""Where tensors live: footprints, on-chip residency or spill, and the DRAM traffic that follows.

Footprint (bytes, hardware words): the influence matrix is ``n_hidden x n_influence_columns``
words (header); weights and gradients follow the header's mask counts; every tensor is at least
the largest amount one op touches; ``history`` (BPTT) is the largest running balance of bytes
written minus bytes read. Each SRAM level keeps its tensors smallest-first while they fit
(capacity = size, times the PE count for a PE-local level); the rest *spill*: every byte read
or written goes to DRAM, every step.

DRAM traffic per op and tensor: spilled -> all reads and writes; resident ``from_dram`` -> the
first ``footprint`` bytes read (compulsory load), per step when ``streamed``; resident otherwise
-> none. ``drain_at_end`` tensors are written back once at the end.
"""

from __future__ import annotations

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.trace.schema import TENSORS, TraceHeader


def trace_word_bytes(header: TraceHeader) -> float:
    try:
        return float(np.dtype(header.dtype).itemsize)
    except TypeError:
        return 4.0


class Placement:
    """Residency state carried across chunks. Byte arrays are hardware bytes (trace bytes scaled
    by ``word_scale`` = hardware word / trace word)."""

    def __init__(self, config: HardwareConfig, header: TraceHeader) -> None:
        self.config = config
        self.word_scale = config.pe_array.word_bytes / trace_word_bytes(header)
        wb = config.pe_array.word_bytes
        self.footprint = {t: 0 for t in TENSORS}
        self.footprint["influence"] = int(header.n_hidden * header.n_influence_columns * wb)
        if header.method != "synthetic":
            n, n_out = header.n_hidden, header.n_out
            masked = sum(sum(v) for v in header.mask_nnz_per_row.values())
            params = masked + 5 * n + n_out * n + n_out
            self.footprint["weights"] = self.footprint["gradients"] = int(params * wb)
        self.loaded = {t: 0 for t in TENSORS}  # compulsory bytes already loaded (non-streamed)
        self.written_total = {t: 0 for t in TENSORS}
        self._history_balance = 0
        self.spilled: set[str] = set()

    # ------------------------------------------------------------------ footprints and residency

    def observe(self, reads: dict[str, np.ndarray], writes: dict[str, np.ndarray]) -> None:
        """Grow footprints from one batch (hardware bytes per op) and recompute residency."""
        for t in TENSORS:
            r, w = reads[t], writes[t]
            if r.size:
                self.footprint[t] = max(self.footprint[t], int(r.max()), int(w.max()))
            self.written_total[t] += int(w.sum())
        if reads["history"].size:
            balance = self._history_balance + np.cumsum(writes["history"] - reads["history"])
            self.footprint["history"] = max(self.footprint["history"], int(balance.max()))
            self._history_balance = int(balance[-1])
        self._decide_spill()

    def _decide_spill(self) -> None:
        spilled = set()
        for level in self.config.sram:
            capacity = self.config.level_capacity_bytes(level)
            here = sorted((self.footprint[t], t) for t in TENSORS if self.config.placement(t).level == level)
            used = 0
            for size, t in here:
                if used + size <= capacity:
                    used += size
                else:
                    spilled.add(t)
        self.spilled = spilled

    def resident_bytes(self) -> dict[str, int]:
        """Bytes each SRAM level holds (resident tensors' footprints)."""
        out = {level: 0 for level in self.config.sram}
        for t in TENSORS:
            if t not in self.spilled:
                out[self.config.placement(t).level] += self.footprint[t]
        return out

    # ------------------------------------------------------------------ DRAM traffic

    def dram_traffic(self, step: np.ndarray, reads: dict[str, np.ndarray], writes: dict[str, np.ndarray]):
        """Per-op DRAM bytes for one batch: returns (read, write, spill, fill_by_level, drain_by_level),
        arrays of int64 (fill = SRAM writes of data arriving from DRAM, drain = SRAM reads of data
        leaving for DRAM)."""
        n = step.shape[0]
        dram_r, dram_w, spill = (np.zeros(n, np.int64) for _ in range(3))
        fill = {lv: np.zeros(n, np.int64) for lv in self.config.sram}
        drain = {lv: np.zeros(n, np.int64) for lv in self.config.sram}
        group_start = None
        for t in TENSORS:
            place = self.config.placement(t)
            r, w = reads[t], writes[t]
            if not (r.any() or w.any()):
                continue
            if t in self.spilled:
                got_r, got_w = r, w
                spill += r + w
            elif place.streamed:
                if group_start is None:
                    group_start = _group_starts(step)
                got_r, got_w = _per_step_first(r, self.footprint[t], group_start), w
            elif place.from_dram:
                before = self.loaded[t]
                loaded = np.minimum(before + np.cumsum(r), max(self.footprint[t], before))
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
        for t in TENSORS:
            place = self.config.placement(t)
            if place.drain_at_end and t not in self.spilled and not place.streamed and self.written_total[t]:
                out[place.level] = out.get(place.level, 0) + min(self.written_total[t], self.footprint[t])
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
