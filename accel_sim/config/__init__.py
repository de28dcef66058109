"""Hardware configs: schema (``schema``), YAML loading with overrides (``loader``), units."""

from accel_sim.config.loader import load_config, validate_config
from accel_sim.config.schema import SCHEMA_VERSION, HardwareConfig

__all__ = ["HardwareConfig", "SCHEMA_VERSION", "load_config", "validate_config"]
