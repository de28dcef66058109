"""Result-row columns derived from one simulation and its config, defined once for ``simulate``,
the sweep rows (and so the CSV) and the report.

* **Learning state** (:func:`learning_state`): the tensors of kind ``influence`` (RTRL's influence
  matrix) or ``history`` (BPTT's saved window), as the *simulated config* stores them: stored
  entries x the config's datatype plus format metadata, at each tensor's innermost level
  (``memory_bytes.learning_state`` of the simulator's result). This is the one learning-state size
  the toolkit reports; the learner's own copy on the host (numpy, float64/float32) is a different
  number and travels as ``host_learning_state_bytes``.
* **Verdict** (:meth:`LearningState.verdict`): the learning state *fits on chip* when every one of
  its tensors is resident at its outermost level (the simulator's placement: each level keeps its
  tensors smallest-first while they fit), else it *spills to DRAM*.
* **Memory per level** (``sram.<level>.*``): each level's capacity (``size_bytes``, times the PE
  count for a PE-local level), the bytes resident there and the learning state's bytes there.
* **Hardware summary** (:func:`config_columns`): PEs, MAC lanes, datatype, clock, technology node,
  each level's size / banks / width, DRAM, index units, formats and sparse actions.
* **Area and power** (``area_mm2``, ``power_mw`` ...): the simulator's ``area_mm2`` (mm² at the
  config's node) and ``power_mw`` (mW).
* **Stalls and utilisation** (``stall_cycles.<cause>``: array idle cycles by cause over the
  trace; ``utilization.<resource>``: busy fraction of the trace's cycles; ``pe_imbalance``: busiest
  / mean PE over the ops the mapping spreads, MAC-weighted, and ``pe_imbalance_worst_op``).
* **Real-time rates**: ``sustained_steps_per_s`` = 1 / mean latency per step (inputs buffered);
  ``realtime_steps_per_s`` = clock / the slowest step's cycles: the highest input rate at which
  every step, its learning work included, finishes before the next input arrives.

Units: bytes, mm², mW, seconds, steps per second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LEARNING_STATE_KINDS = ("influence", "history")
FITS, SPILLS = "fits on chip", "spills to DRAM"


@dataclass(frozen=True)
class TensorLevel:
    """One learning-state tensor at one level: bytes stored there, the level's capacity (bytes),
    whether the tensor is resident there."""

    tensor: str
    level: str
    bytes: int
    capacity_bytes: int
    resident: bool


@dataclass(frozen=True)
class LearningState:
    """The learning state of one simulation: ``bytes`` (at the innermost levels), ``fits``
    (resident at every tensor's outermost level), ``levels`` (outer first per tensor)."""

    bytes: int
    fits: bool
    tensors: tuple[str, ...]
    levels: tuple[TensorLevel, ...]

    @property
    def verdict(self) -> str:
        return FITS if self.fits else SPILLS

    def level_names(self) -> list[str]:
        out: list[str] = []
        for tl in self.levels:
            if tl.level not in out:
                out.append(tl.level)
        return out


def learning_state(result: dict[str, Any], kinds: dict[str, str] | None = None) -> LearningState:
    """The learning state of a simulator result (``SimResult.to_dict()``). ``kinds``: {tensor
    name: kind} from the trace header; without it the tensors named ``influence`` / ``history``."""
    memory = result.get("memory_bytes", {})
    by_level: dict[str, dict[str, int]] = memory.get("footprint_by_level", {})
    capacity: dict[str, int] = memory.get("capacity", {})
    spilled = set(result.get("spilled_tensors", []))
    if kinds is None:
        names = [n for n in by_level if n in LEARNING_STATE_KINDS]
    else:
        names = [n for n, k in kinds.items() if k in LEARNING_STATE_KINDS and n in by_level]
    levels = []
    for name in names:
        for level, size in by_level[name].items():  # outer first (the placement's chain order)
            levels.append(TensorLevel(name, level, int(size), int(capacity.get(level, 0)), name not in spilled))
    total = memory.get("learning_state")
    if total is None:
        total = sum(list(by_level[n].values())[-1] for n in names)
    return LearningState(int(total), not (spilled & set(names)), tuple(names), tuple(levels))


def trace_kinds(trace_path: str) -> dict[str, str]:
    """{tensor name: kind} of a trace file's declared tensors."""
    from accel_sim.trace.io import TraceReader

    return {t.name: t.kind for t in TraceReader(trace_path).header.tensors}


def memory_columns(result: dict[str, Any], kinds: dict[str, str] | None = None) -> dict[str, Any]:
    """Learning-state size, level(s), verdict and the ``sram.<level>.*`` memory columns."""
    ls = learning_state(result, kinds)
    memory = result.get("memory_bytes", {})
    row: dict[str, Any] = {
        "learning_state_bytes": ls.bytes,
        "learning_state_levels": " > ".join(ls.level_names()),
        "learning_state_fits_on_chip": int(ls.fits),
        "influence_fits_on_chip": int(ls.fits),  # the former name of the same verdict
        "spilled_tensors": " ".join(sorted(result.get("spilled_tensors", []))),
    }
    for level, cap in memory.get("capacity", {}).items():
        row[f"sram.{level}.capacity_bytes"] = int(cap)
        row[f"sram.{level}.resident_bytes"] = int(memory.get("resident", {}).get(level, 0))
        row[f"sram.{level}.learning_state_bytes"] = sum(tl.bytes for tl in ls.levels if tl.level == level)
    row["sram_capacity_bytes"] = int(sum(memory.get("capacity", {}).values()))
    return row


def result_columns(result: dict[str, Any], steps: int | None = None) -> dict[str, Any]:
    """Area (mm²), power (mW), stalls by cause, utilisation by resource and the real-time rates
    (steps/s) of a simulator result; ``steps``: input steps the rates count (default: the result's
    steps)."""
    row: dict[str, Any] = {}
    area = result.get("area_mm2") or {}
    if "total" in area:
        row["area_mm2"] = float(area["total"])
        row.update({f"area_mm2.{k}": float(v) for k, v in area.items() if k != "total"})
    power = result.get("power_mw") or {}
    for key, col in (("average", "power_mw"), ("peak", "power_peak_mw"), ("static", "power_static_mw"),
                     ("dynamic", "power_dynamic_mw")):
        if key in power:
            row[col] = float(power[key])
    for cause, value in (result.get("stall_cycles") or {}).items():
        if isinstance(value, (int, float)):
            row[f"stall_cycles.{cause}"] = float(value)
    for resource, value in (result.get("utilization") or {}).items():
        if isinstance(value, (int, float)):
            row[f"utilization.{resource}"] = float(value)
    workload = result.get("workload") or {}
    for key in ("pe_imbalance", "pe_imbalance_worst_op", "imbalance_cycles", "bank_conflict_cycles",
                "operand_queue_peak_bytes", "operand_queue_full_cycles"):
        if isinstance(workload.get(key), (int, float)):
            row[key] = float(workload[key])
    steps = max(int(steps or result.get("n_steps") or 0), 1)
    seconds = float(result.get("seconds") or 0.0)
    row.update(rate_columns(seconds / steps, _worst_step_seconds(result, seconds / steps)))
    return row


def _worst_step_seconds(result: dict[str, Any], mean_s: float) -> float:
    cycles, seconds = result.get("cycles") or 0, result.get("seconds") or 0.0
    worst = (result.get("per_step") or {}).get("max_cycles")
    if worst is None or not cycles:
        return mean_s
    return max(float(worst) * float(seconds) / float(cycles), mean_s)


def rate_columns(mean_step_s: float, worst_step_s: float) -> dict[str, float]:
    """``worst_step_latency_s`` and the two rates (steps/s; inf for a zero latency)."""
    return {
        "worst_step_latency_s": float(worst_step_s),
        "sustained_steps_per_s": 1.0 / mean_step_s if mean_step_s > 0 else float("inf"),
        "realtime_steps_per_s": 1.0 / worst_step_s if worst_step_s > 0 else float("inf"),
    }


def _fmt_action(a: Any) -> str:
    where = f" at {a.level}" if getattr(a, "level", None) else ""
    return f"{a.target} {a.action} on {'+'.join(a.condition_on)}{where}"


def config_columns(config: Any) -> dict[str, Any]:
    """The hardware summary of a ``HardwareConfig`` as flat columns (Hz, bytes, nm, pJ/bit)."""
    from accel_sim.hardware.actions import expanded_actions

    pe = config.pe_array
    row: dict[str, Any] = {
        "pes": int(pe.n_pes),
        "pe_rows": int(pe.rows),
        "pe_cols": int(pe.cols),
        "macs_per_cycle": int(pe.n_pes * pe.macs_per_cycle),
        "datatype": pe.datatype,
        "dataflow": pe.dataflow,
        "clock_hz": float(config.clock_hz),
        "technology_nm": float(config.technology_nm),
        "dram_bytes_per_cycle": float(config.dram.bandwidth_bytes_per_cycle),
        "dram_pj_per_bit": float(config.dram.energy_pj_per_bit),
        "index_units": int(config.index_units.count),
        "index_per_cycle": float(config.index_units.count * config.index_units.indices_per_cycle),
        "sparse_actions": "; ".join(_fmt_action(a) for a in expanded_actions(config)) or "none",
    }
    formats = []
    for kind, place in config.mapping.tensors.items():
        for level, fmt in place.formats.items():
            formats.append(f"{kind}@{level}: {fmt.type}")
    structured = config.sparsity.structured(config.index_units.format)
    if structured != "uncompressed":
        formats.append(f"structured tensors: {structured}")
    row["formats"] = "; ".join(formats) or "uncompressed"
    row["tensor_levels"] = "; ".join(f"{kind}: {' > '.join(place.levels)}" for kind, place in config.mapping.tensors.items())
    for name, lv in config.sram.items():
        row[f"sram.{name}.size_bytes"] = int(lv.size_bytes)
        row[f"sram.{name}.banks"] = int(lv.banks)
        row[f"sram.{name}.width_bytes"] = int(lv.width_bytes)
        row[f"sram.{name}.scope"] = lv.scope
        row[f"sram.{name}.capacity_bytes"] = int(config.level_capacity_bytes(name))
    return row
