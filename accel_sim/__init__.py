"""Discrete-event accelerator model that replays operation traces (never imports ``rtrl``).

    from accel_sim import load_config, simulate, simulate_file
    cfg = load_config("hw_configs/sparse_skipping.yaml", ["pe_array.rows=32"])
    result = simulate_file("traces/sparse_rtrl_h16.arrows", cfg, fidelity="L1")   # -> SimResult

Exports are loaded lazily so that importing ``accel_sim.trace`` (e.g. from ``rtrl``) pulls in
neither pydantic nor simpy.
"""

from __future__ import annotations

_EXPORTS = {
    "load_config": "accel_sim.config.loader",
    "validate_config": "accel_sim.config.loader",
    "HardwareConfig": "accel_sim.config.schema",
    "simulate": "accel_sim.engine.run",
    "simulate_file": "accel_sim.engine.run",
    "SimResult": "accel_sim.result",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'accel_sim' has no attribute {name!r}")
