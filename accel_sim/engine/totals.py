"""Sums over all batches that do not depend on the fidelity level: energy, traffic, MACs, labels."""

from __future__ import annotations

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.demand import ENERGY_PARTS, Demand
from accel_sim.trace.schema import SetLayout, TraceHeader


class Totals:
    def __init__(self, config: HardwareConfig, header: TraceHeader) -> None:
        self.config = config
        self.labels = header.labels
        self.layout = SetLayout.of(header)
        self._activity = "fired" in self.layout.sizes and "support" in self.layout.sizes
        self.energy = {p: 0.0 for p in ENERGY_PARTS}
        self.sram_energy = {lv: 0.0 for lv in config.sram}
        self.sram_read = {lv: 0 for lv in config.sram}
        self.sram_write = {lv: 0 for lv in config.sram}
        self.dram_read = self.dram_write = self.dram_spill = self.interconnect = 0
        self.macs_effective = self.macs_executed = self.index_count = 0
        self.n_ops = 0
        n = len(self.labels)
        self.label_ops = np.zeros(n)
        self.label_macs = np.zeros(n)
        self.label_cycles = np.zeros(n)
        self.label_energy = np.zeros(n)
        self.label_dram = np.zeros(n)
        self.step_energy: list[np.ndarray] = []
        self.fired = self.support = 0
        self.n_steps = 0
        self.action_energy: dict[tuple[str, str], float] = {}
        self.accesses: dict[tuple[str, str, str], np.ndarray] = {}
        self.metadata_bytes = self.macs_gated = 0
        self.pe_busiest = self.pe_mean = self.imbalance_cycles = 0.0
        self.pe_imbalance_max = 1.0
        self.bank_conflict_cycles = 0.0

    def add(self, d: Demand) -> None:
        self.n_ops += d.n_ops
        for p in ENERGY_PARTS:
            self.energy[p] += float(d.energy[p].sum())
        for lv in self.config.sram:
            self.sram_energy[lv] += float(d.sram_energy[lv].sum())
            self.sram_read[lv] += int(d.sram_read[lv].sum())
            self.sram_write[lv] += int(d.sram_write[lv].sum())
        self.dram_read += int(d.dram_read_bytes.sum())
        self.dram_write += int(d.dram_write_bytes.sum())
        self.dram_spill += int(d.dram_spill_bytes.sum())
        self.interconnect += int(d.interconnect_bytes.sum())
        self.macs_effective += int(d.macs_effective.sum())
        self.macs_executed += int(d.macs_executed.sum())
        self.index_count += int(d.index_count.sum())
        if d.action_energy is not None:
            for key, values in d.action_energy.items():
                self.action_energy[key] = self.action_energy.get(key, 0.0) + float(np.sum(values))
            for key, values in d.accesses.items():
                self.accesses[key] = self.accesses.get(key, 0) + values
            self.metadata_bytes += int(d.metadata_bytes.sum())
            self.macs_gated += int(d.macs_gated.sum())
        if d.bank_conflict_cycles is not None:
            self.bank_conflict_cycles += float(d.bank_conflict_cycles.sum())
        if d.pe_busiest is not None:
            self.pe_busiest += float(d.pe_busiest.sum())
            self.pe_mean += float(d.pe_mean.sum())
            self.imbalance_cycles += float(d.imbalance_cycles.sum())
            on = d.pe_mean > 0
            if on.any():
                self.pe_imbalance_max = max(self.pe_imbalance_max, float((d.pe_busiest[on] / d.pe_mean[on]).max()))
        n = len(self.labels)
        lab = d.label.astype(np.int64)
        e = d.energy_total()
        self.label_ops += np.bincount(lab, minlength=n)
        self.label_macs += np.bincount(lab, d.macs_effective, n)
        self.label_cycles += np.bincount(lab, d.compute_cycles, n)
        self.label_energy += np.bincount(lab, e, n)
        self.label_dram += np.bincount(lab, d.dram_read_bytes + d.dram_write_bytes, n)
        if d.n_ops:
            new = np.ones(d.n_ops, bool)
            new[1:] = d.step[1:] != d.step[:-1]
            g = np.cumsum(new) - 1
            self.step_energy.append(np.bincount(g, e))

    def add_steps(self, set_bits: np.ndarray) -> None:
        """Count steps, fired units and active-set sizes (|fired ∪ support|) from a batch's bits."""
        self.n_steps += int(set_bits.shape[0])
        if not self._activity or not set_bits.shape[0]:
            return
        fired = self.layout.masks(set_bits, "fired")
        self.fired += int(np.count_nonzero(fired))
        self.support += int(np.count_nonzero(fired | self.layout.masks(set_bits, "support")))

    def energy_by_component(self, leakage: dict[str, float]) -> dict[str, dict[str, float]]:
        """{component: {action: pJ}}, with each component's ``leakage`` (pJ) added."""
        out: dict[str, dict[str, float]] = {}
        for (comp, action), pj in self.action_energy.items():
            out.setdefault(comp, {})[action] = pj
        for comp, pj in leakage.items():
            out.setdefault(comp, {})["leakage"] = pj
        return out

    def access_counts(self) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
        """{tensor: {level: {"read" | "write": {actual, gated, skipped}}}} (elements)."""
        out: dict = {}
        for (tensor, level, direction), v in sorted(self.accesses.items()):
            out.setdefault(tensor, {}).setdefault(level, {})[direction] = {
                state: float(x) for state, x in zip(("actual", "gated", "skipped"), np.atleast_1d(v))}
        return out

    def add_drain(self, per_level: dict[str, int]) -> int:
        """Account the final write-back (SRAM reads + DRAM writes); returns its bytes."""
        total, energy = 0, 0.0
        for lv, b in per_level.items():
            spec = self.config.sram[lv]
            self.sram_read[lv] += b
            e = -(-b // spec.width_bytes) * spec.read_energy_pj
            key = (f"sram.{lv}", "read")
            self.action_energy[key] = self.action_energy.get(key, 0.0) + e
            self.sram_energy[lv] += e
            self.energy["sram"] += e
            energy += e
            total += b
        self.dram_write += total
        self.energy["dram"] += total * 8.0 * self.config.dram.energy_pj_per_bit
        key = ("dram", "write")
        self.action_energy[key] = self.action_energy.get(key, 0.0) + total * 8.0 * self.config.dram.energy_pj_per_bit
        self.drain_bytes = total
        self.drain_energy = energy + total * 8.0 * self.config.dram.energy_pj_per_bit
        return total

    def add_rewiring(self, work) -> None:
        """Account the mask rewirings' bytes and energy (accel_sim.engine.rewiring.RewiringWork)."""
        energy = 0.0
        for direction, per_level in (("read", work.sram_read), ("write", work.sram_write)):
            for lv, b in per_level.items():
                spec = self.config.sram[lv]
                e = -(-b // spec.width_bytes) * (spec.read_energy_pj if direction == "read" else spec.write_energy_pj)
                (self.sram_read if direction == "read" else self.sram_write)[lv] += b
                key = (f"sram.{lv}", direction)
                self.action_energy[key] = self.action_energy.get(key, 0.0) + e
                self.sram_energy[lv] += e
                self.energy["sram"] += e
                energy += e
        dram = (work.dram_read + work.dram_write) * 8.0 * self.config.dram.energy_pj_per_bit
        self.dram_read += work.dram_read
        self.dram_write += work.dram_write
        self.energy["dram"] += dram
        self.rewiring = {"ops": int(work.records), "macs": 0, "compute_cycles": 0.0, "energy_pj": energy + dram,
                         "dram_bytes": int(work.dram_read + work.dram_write), "events": int(work.events)}

    def by_label(self) -> dict[str, dict[str, float]]:
        out = {}
        for i, name in enumerate(self.labels):
            if self.label_ops[i]:
                out[name] = {
                    "ops": int(self.label_ops[i]),
                    "macs": int(self.label_macs[i]),
                    "compute_cycles": float(self.label_cycles[i]),
                    "energy_pj": float(self.label_energy[i]),
                    "dram_bytes": int(self.label_dram[i]),
                }
        if getattr(self, "rewiring", None):
            out["rewiring"] = dict(self.rewiring)
        if getattr(self, "drain_bytes", 0):
            out["writeback_at_end"] = {"ops": 0, "macs": 0, "compute_cycles": 0.0,
                                       "energy_pj": float(self.drain_energy), "dram_bytes": int(self.drain_bytes)}
        return out
