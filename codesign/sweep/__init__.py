"""Co-design sweeps: validated spec → points → executor (local processes or Dask) → result store."""

from codesign.sweep.executor import SweepSummary, run_sweep
from codesign.sweep.points import HardwarePoint, ModelPoint, SweepPoint, expand
from codesign.sweep.spec import SweepSpec, load_spec, parse_spec

__all__ = ["HardwarePoint", "ModelPoint", "SweepPoint", "SweepSpec", "SweepSummary", "expand", "load_spec",
           "parse_spec", "run_sweep"]
