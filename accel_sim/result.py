"""Simulation results: one typed record, rendered to JSON (schema ``accel-sim/result/3``) or a
flat CSV row. Units are in the key names (cycles, seconds, bytes, pJ)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

RESULT_SCHEMA = "accel-sim/result/3"


@dataclass
class SimResult:
    """Everything one simulation reports.

    ``cycles``: end-to-end cycles; ``compute_cycles``: PE-array busy cycles (for one dense GEMM,
    the systolic closed form); ``energy_pj``: by component plus ``total``; ``traffic_bytes``: DRAM
    and per-SRAM-level bytes; ``memory_bytes``: capacities, resident bytes, tensor footprints;
    ``utilization``: busy fraction per resource; ``stall_cycles``: array idle cycles by cause;
    ``by_label``: per RTRL label; ``per_step``: latency and energy distribution over steps;
    ``workload``: NeuroBench-style workload metrics and RTRL op counts; ``energy_pj["by_component"]``:
    {component: {action: pJ}} (the components' table times their action counts, leakage included);
    ``accesses``: {tensor: {level: {read | write | metadata_read | metadata_write: {actual, gated,
    skipped}}}} in elements (metadata: words);
    ``power_mw``: average, peak (busiest step), static (leakage) and dynamic; ``area_mm2``: by
    component and total (``accel_sim.hardware.area``); ``heaviest_steps``: the per-PE loads of the
    heaviest steps (``accel_sim.engine.pe_loads.StepLoads``) when ``simulate(..., pe_loads=k)``
    asked for them (not part of the JSON / CSV)."""

    config_name: str
    fidelity: str
    method: str
    n_steps: int
    n_ops: int
    cycles: int
    compute_cycles: int
    seconds: float
    energy_pj: dict[str, float]
    traffic_bytes: dict[str, object]
    memory_bytes: dict[str, object]
    influence_on_chip: bool
    spilled_tensors: list[str]
    utilization: dict[str, float]
    stall_cycles: dict[str, float]
    by_label: dict[str, dict[str, float]]
    per_step: dict[str, float]
    workload: dict[str, float]
    simulation: dict[str, float] = field(default_factory=dict)
    accesses: dict[str, object] = field(default_factory=dict)
    power_mw: dict[str, float] = field(default_factory=dict)
    area_mm2: dict[str, float] = field(default_factory=dict)
    heaviest_steps: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "schema": RESULT_SCHEMA,
            "config": self.config_name,
            "fidelity": self.fidelity,
            "method": self.method,
            "n_steps": self.n_steps,
            "n_ops": self.n_ops,
            "cycles": self.cycles,
            "compute_cycles": self.compute_cycles,
            "seconds": self.seconds,
            "energy_pj": dict(self.energy_pj),
            "traffic_bytes": self.traffic_bytes,
            "memory_bytes": self.memory_bytes,
            "influence_on_chip": self.influence_on_chip,
            "spilled_tensors": list(self.spilled_tensors),
            "utilization": dict(self.utilization),
            "stall_cycles": dict(self.stall_cycles),
            "by_label": self.by_label,
            "per_step": dict(self.per_step),
            "workload": dict(self.workload),
            "simulation": dict(self.simulation),
            "accesses": self.accesses,
            "power_mw": dict(self.power_mw),
            "area_mm2": dict(self.area_mm2),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def to_csv_row(self) -> dict[str, object]:
        """Flat ``{dotted.key: scalar}`` (lists joined with ';')."""
        flat: dict[str, object] = {}

        def walk(prefix: str, value: object) -> None:
            if isinstance(value, dict):
                for key, sub in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), sub)
            elif isinstance(value, list):
                flat[prefix] = ";".join(str(v) for v in value)
            else:
                flat[prefix] = value

        walk("", self.to_dict())
        return flat

    def to_csv(self) -> str:
        row = self.to_csv_row()
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
        return out.getvalue()
