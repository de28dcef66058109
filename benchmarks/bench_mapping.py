"""Work distribution over the PEs (mapping.distribution): a sparse-RTRL trace recorded from the
learner (n_hidden 128, weight density 0.1, 200 steps) on sparse_skipping with each mapping — PE
imbalance (busiest / mean PE, MAC-weighted over the spread ops, and the worst op), cycles, the
imbalance stall, and the speed-up over the dense array (no sparse actions, nothing compressed) left after
imbalance. L0 (the array time is the same at every fidelity). Writes its RESULTS.md section."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accel_sim import load_config, simulate  # noqa: E402
from benchmarks._results import write_section  # noqa: E402
from benchmarks.bench_simulator import recorded_trace  # noqa: E402

MAPPINGS = ("balanced", "auto", "rows_interleaved", "rows_blocked", "cols_interleaved", "cols_blocked")


def main() -> None:
    header, chunks = recorded_trace()
    steps = 200
    chunks = [c for c in chunks if int(c.step_ids[0]) < steps]  # the recorded 200 steps, once
    path = ROOT / "hw_configs" / "sparse_skipping.yaml"
    dense = simulate(header, chunks, load_config(path, {"sparsity.actions": [], "sparsity.structured_format": None}), "L0")
    rows = []
    for how in MAPPINGS:
        r = simulate(header, chunks, load_config(path, {"mapping.distribution": {"default": how}}), "L0")
        w = r.workload
        rows.append(f"| `{how}` | {w['pe_imbalance']:.2f} | {w['pe_imbalance_worst_op']:.1f} | {r.cycles:,} | "
                    f"{r.stall_cycles['imbalance'] / r.cycles:.1%} | {dense.cycles / r.cycles:.2f}x |")
    md = ("## Work distribution over the PEs (`benchmarks/bench_mapping.py`)\n\n"
          f"Sparse RTRL recorded from the learner (n_hidden 128, weight density 0.1, {steps} steps) on "
          "`sparse_skipping` (256 PEs), L0, with each `mapping.distribution` default. Imbalance: busiest PE / "
          "mean PE over the matmuls that skip zeros (MAC-weighted; worst single op). Speed-up: over the same "
          f"array without sparse actions or compression (`sparsity.actions: []`, {dense.cycles:,} cycles).\n\n"
          "| mapping | imbalance | worst op | cycles | imbalance stall | speed-up over dense |\n"
          "|---|---|---|---|---|---|\n" + "\n".join(rows))
    print(md)
    write_section("mapping", md)


if __name__ == "__main__":
    main()
