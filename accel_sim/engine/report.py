"""Assemble a :class:`~accel_sim.result.SimResult` from timing, totals and placement."""

from __future__ import annotations

import math

import numpy as np

from accel_sim.hardware.area import area_mm2
from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.placement import Placement
from accel_sim.engine.timing import Timing
from accel_sim.engine.totals import Totals
from accel_sim.result import SimResult
from accel_sim.trace.schema import TraceHeader

PJ_PER_MW_SECOND = 1e9  # 1 mW for 1 s = 1 mJ = 1e9 pJ


def build_result(config: HardwareConfig, header: TraceHeader, fidelity: str, timing: Timing,
                 totals: Totals, placement: Placement, peak: dict[str, int], wall_seconds: float) -> SimResult:
    cycles = int(math.ceil(timing.cycles - 1e-6)) if timing.cycles > 0 else 0
    seconds = timing.cycles / config.clock_hz
    pe = config.pe_array
    pe_busy_fraction = timing.busy["pe_array"] / timing.cycles if timing.cycles else 0.0
    pe_leak_mw = pe.leakage_mw * (pe_busy_fraction if config.mapping.event_driven else 1.0)
    leak_mw = pe_leak_mw + sum(s.leakage_mw for s in config.sram.values())
    energy = dict(totals.energy)
    energy["leakage"] = leak_mw * seconds * PJ_PER_MW_SECOND
    energy["total"] = sum(energy.values())
    energy = {"total": energy.pop("total"), **energy}
    sram_by_level = dict(totals.sram_energy)
    leakage_by = {"pe_array": pe_leak_mw * seconds * PJ_PER_MW_SECOND}
    leakage_by.update({f"sram.{lv}": spec.leakage_mw * seconds * PJ_PER_MW_SECOND for lv, spec in config.sram.items()})
    by_component = totals.energy_by_component(leakage_by)

    steps = timing.steps()
    step_energy = np.concatenate(totals.step_energy) if totals.step_energy else np.zeros(0)
    per_step = {"steps_with_ops": int(steps.size)}
    if steps.size:
        per_step.update({
            "mean_cycles": float(steps.mean()), "p50_cycles": float(np.percentile(steps, 50)),
            "p95_cycles": float(np.percentile(steps, 95)), "max_cycles": float(steps.max()),
            "mean_energy_pj": float(step_energy.mean()) + energy["leakage"] / steps.size,
        })

    influence = placement.footprint_of_kind("influence")
    history = placement.footprint_of_kind("history")
    capacity = {lv: config.level_capacity_bytes(lv) for lv in config.sram}
    influence_on_chip = influence > 0 and not placement.kind_spilled("influence")
    memory = {
        "capacity": capacity,
        "resident": placement.resident_bytes(),
        "peak_resident": peak,
        "footprint": placement.footprint_by_name(),
        "footprint_by_level": placement.footprint_by_level(),
        "influence": int(influence),
        "history": int(history),
        "learning_state": int(influence + history),
        "on_chip_total": int(sum(capacity.values())),
        "dram_spill_traffic": int(totals.dram_spill),
        "influence_fits_on_chip": bool(influence_on_chip),
        "learning_state_fits_on_chip": bool(not placement.kind_spilled("influence")
                                            and not placement.kind_spilled("history")),
    }
    util = {r: (b / timing.cycles if timing.cycles else 0.0) for r, b in timing.busy.items()}
    average_mw = energy["total"] / seconds / PJ_PER_MW_SECOND if seconds else 0.0
    peak_mw = average_mw
    if steps.size and step_energy.size == steps.size:
        step_seconds = steps / config.clock_hz
        with np.errstate(divide="ignore", invalid="ignore"):
            per_step_mw = np.where(step_seconds > 0, step_energy / np.maximum(step_seconds, 1e-300), 0.0) / PJ_PER_MW_SECOND
        peak_mw = max(average_mw, float(per_step_mw.max()) + leak_mw)
    power = {"average": average_mw, "peak": peak_mw, "static": leak_mw, "dynamic": max(average_mw - leak_mw, 0.0)}
    lanes = pe.n_pes * pe.macs_per_cycle
    util["pe"] = totals.macs_effective / (timing.cycles * lanes) if timing.cycles else 0.0  # MAC-busy PE fraction

    n = header.n_hidden
    workload = {
        "effective_macs": totals.macs_effective,
        "executed_macs": totals.macs_executed,
        "gated_macs": totals.macs_gated,
        "metadata_bytes": totals.metadata_bytes,
        "index_count": totals.index_count,
        "activation_sparsity": (1.0 - totals.fired / (totals.n_steps * n)) if totals.n_steps and n else 0.0,
        "active_set_fraction": (totals.support / (totals.n_steps * n)) if totals.n_steps and n else 0.0,
        "connection_sparsity": 1.0 - float(header.weight_density),
        "footprint_bytes": int(placement.footprint.sum()),
        "influence_columns": int(header.n_influence_columns),
        # ops spread over the PEs by the mapping: busiest PE / even split, MAC-weighted and worst op
        "pe_imbalance": totals.pe_busiest / totals.pe_mean if totals.pe_mean else 1.0,
        "pe_imbalance_worst_op": totals.pe_imbalance_max,
        "imbalance_cycles": totals.imbalance_cycles,
        # compute-stage cycles SRAM bank conflicts add (gathered rows / scattered columns on few banks)
        "bank_conflict_cycles": totals.bank_conflict_cycles,
        # the operand queue (pe_array.operand_queue_bytes; 0 without one): most bytes waiting in it,
        # and cycles tile deliveries waited for room in it (L1 / L2; L0 has no schedule: 0)
        "operand_queue_bytes": int(config.pe_array.operand_queue_bytes),
        "operand_queue_peak_bytes": float(timing.queue_peak_bytes),
        "operand_queue_full_cycles": float(timing.queue_full_cycles),
    }
    return SimResult(
        config_name=config.name, fidelity=fidelity, method=header.method,
        n_steps=totals.n_steps, n_ops=totals.n_ops, cycles=cycles,
        compute_cycles=int(round(timing.busy["pe_array"])), seconds=seconds,
        energy_pj={**energy, "sram_by_level": sram_by_level, "by_component": by_component},
        traffic_bytes={"dram_read": totals.dram_read, "dram_write": totals.dram_write,
                       "dram_spill": totals.dram_spill,
                       "sram_read": dict(totals.sram_read), "sram_write": dict(totals.sram_write),
                       "interconnect": totals.interconnect},
        memory_bytes=memory,
        influence_on_chip=bool(influence_on_chip),
        spilled_tensors=placement.spilled_names,
        utilization=util,
        stall_cycles={k: float(v) for k, v in timing.stall.items()},
        by_label=totals.by_label(), per_step=per_step, workload=workload,
        accesses=totals.access_counts(), power_mw=power, area_mm2=area_mm2(config),
        simulation={"events": timing.events, "tiles": timing.tiles, "wall_seconds": wall_seconds},
    )
