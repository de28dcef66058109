"""The worked example in traces/README.md runs as written, and the simulator's effectual MACs for
it equal the example's own count (the kept weights whose input is non-zero)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "traces" / "README.md"


def test_worked_example_runs_and_counts_effectual_macs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if "fc_layer" in b)
    root = README.parents[1]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hw_configs").symlink_to(root / "hw_configs")
    script = tmp_path / "example.py"
    script.write_text(example)
    scope = runpy.run_path(str(script))
    cycles, effectual, executed = (int(v) for v in capsys.readouterr().out.split())
    assert (tmp_path / "fc.arrows").exists() and cycles > 0
    from accel_sim.trace.io import read_trace

    trace = read_trace(tmp_path / "fc.arrows")
    learner_macs = sum(int(c.ops["macs"].sum()) for c in trace.chunks)
    assert effectual == learner_macs == executed  # skipping hardware runs only the effectual MACs
    assert effectual < scope["steps"] * int(scope["mask"].sum())  # the input zeros were visible
