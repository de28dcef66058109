"""A closed-form stand-in for training and simulation, for testing and benchmarking the sweep
machinery (executor, store, reports) without running the learner or the simulator.

Results are deterministic functions of the point; ``work_ms`` burns that much CPU time (not wall time) per
hardware point so parallel speed-up can be measured. Its "trace" is a small JSON file, so trace reuse
across hardware points is exercised the same way as with the real pipeline.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from pathlib import Path
from typing import Any

from codesign.columns import rate_columns
from codesign.sweep.points import HardwarePoint, ModelPoint

LABELS = ("influence_sparse_update", "gradient_contraction", "immediate_scatter", "gates")


def _unit_hash(text: str) -> float:
    return (zlib.crc32(text.encode()) % 10_000) / 10_000.0


def model_result(point: ModelPoint, trace_path: Path) -> dict[str, Any]:
    """Fake KPIs for one model point, and a tiny JSON trace at ``trace_path``."""
    n, rho = point.n_hidden, point.weight_density
    alpha = min(1.0, 0.05 + 0.5 * (1.0 - point.threshold_mean))
    method_factor = {"sparse_rtrl": alpha * rho * rho, "dense_rtrl": 1.0, "bptt": 1.0 / n}[point.method]
    macs = int(3 * n**4 * method_factor * 8 * point.trace_sequences)
    state = 3 * rho * n**3 * 4 if point.method == "sparse_rtrl" else 3 * n**3 * 4
    if point.method == "bptt":
        state = 8 * n * 4 * 4
    result = {
        "test_accuracy": round(0.6 + 0.35 * (1 - math.exp(-n / 48)) - 0.05 * (1 - rho), 6),
        "train_loss": round(1.0 / (1 + n * rho), 6),
        "activity_fired": round(alpha, 6),
        "activity_support": round(min(1.0, alpha * 1.5), 6),
        "activity_active": round(min(1.0, alpha * 1.5), 6),
        **({} if point.method == "bptt" else {"influence_fill_mean": round(alpha * rho, 6),
                                               "influence_fill_end": round(min(1.0, 2 * alpha * rho), 6)}),
        "learning_state_bytes": int(state),
        "bptt_state_bytes": int(8 * n * 4 * 4),
        "parameter_count": int(3 * rho * n * (n + 8)),
        "trace_steps": 8 * point.trace_sequences,
        "trace_input_steps": 8 * point.trace_sequences,
        "trace_samples": point.trace_sequences,
        "trace_macs": macs,
        "trained_sequences": point.epochs * (point.train_sequences or 1000),
        "host_step_time_ms": round(macs / 8e6, 6),
    }
    trace_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = trace_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"synthetic_trace": point.params(), "macs": macs}))
    tmp.replace(trace_path)
    return result


def hardware_result(model: dict[str, Any], hw: HardwarePoint, trace_path: Path, work_ms: float) -> dict[str, Any]:
    """Fake simulator numbers for one hardware point replaying the model's trace."""
    trace = json.loads(Path(trace_path).read_text())  # read the shared trace, as the real path does
    end = time.process_time() + work_ms / 1000.0
    spin = 0
    while time.process_time() < end:  # burn this much CPU time (results do not depend on it)
        spin += 1
    scale = 1.0
    for _key, value in hw.overrides:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            scale *= float(value) ** 0.5
    pes = 64.0 * (1.0 + _unit_hash(hw.config)) * scale
    macs = trace["macs"]
    cycles = int(macs / pes) + 100
    steps = model["trace_steps"]
    mac_pj = macs * 0.3 * (0.5 if "skip" in hw.config else 1.0)
    sram_pj = macs * 0.5 * (1.0 + _unit_hash(hw.config + "s"))
    capacity = int(2**16 * (1 + int(4 * _unit_hash(hw.config + "c"))) * scale)
    dram_pj = 0.0 if model["learning_state_bytes"] <= capacity else model["learning_state_bytes"] * 8 * 20.0 * steps
    energy = {"mac": mac_pj, "sram": sram_pj, "dram": dram_pj, "index": 0.02 * macs, "interconnect": 0.01 * macs,
              "leakage": 1.0 * cycles}
    total = sum(energy.values())
    seconds = cycles / 1e9
    row = {
        "cycles": cycles,
        "seconds": seconds,
        "cycles_per_step": cycles / steps,
        "latency_per_step_s": seconds / steps,
        "energy_pj": total,
        "energy_per_step_pj": total / steps,
        "energy_per_sample_pj": total / model["trace_samples"],
        "dram_bytes": int(dram_pj / 20.0),
        "dram_bytes_per_step": int(dram_pj / 20.0) / steps,
        "sram_capacity_bytes": capacity,
        "learning_state_bytes": int(model["learning_state_bytes"]),
        "learning_state_levels": "global_buffer",
        "learning_state_fits_on_chip": int(model["learning_state_bytes"] <= capacity),
        "influence_fits_on_chip": int(model["learning_state_bytes"] <= capacity),
        "sram.global_buffer.capacity_bytes": capacity,
        "sram.global_buffer.learning_state_bytes": int(model["learning_state_bytes"]),
        "area_mm2": round(pes * 0.01 + capacity / 2**20, 6),
        "power_mw": total / seconds * 1e-9 if seconds else 0.0,
        "pe_utilization": min(1.0, macs / (pes * cycles)),
        "stall_cycles": 100,
    }
    row.update(rate_columns(seconds / steps, 1.5 * seconds / steps))
    row.update({f"energy_pj_{k}": v for k, v in energy.items()})
    shares = [0.5, 0.3, 0.15, 0.05]
    row.update({f"label_energy_pj_{lbl}": total * s for lbl, s in zip(LABELS, shares)})
    return row
