"""Helpers for the codesign tests: small synthetic sweep specs (closed-form evaluator)."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_spec(folder: Path, name: str = "syn", work_ms: float = 0.0, **overrides) -> Path:
    for cfg in ("alpha.yaml", "beta_skipping.yaml"):
        (folder / cfg).write_text("# placeholder base config for the synthetic evaluator\n")
    spec = {
        "schema": "accel-sim/sweep/1",
        "name": name,
        "evaluator": {"kind": "synthetic", "work_ms": work_ms},
        "model": {"method": ["sparse_rtrl", "dense_rtrl", "bptt"], "n_hidden": [16, 32], "weight_density": [0.1, 0.5]},
        "hardware": {"configs": ["alpha.yaml", "beta_skipping.yaml"], "set": {"pe_array.rows": [8, 16]}},
    }
    spec.update(overrides)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
