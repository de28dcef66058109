"""The shipped sparse configs state their actions and formats explicitly; the `sparsity.handling`
shorthand expands to exactly those (README, docs/hardware.md), so both spellings simulate alike."""

from __future__ import annotations

import pytest

from accel_sim import load_config, simulate_file
from accel_sim.errors import ConfigError
from tests.sim.helpers import CONFIGS, ROOT

SHORTHAND = {"sparse_skipping": "skipping", "sparse_gating": "gating"}
TRACES = sorted((ROOT / "traces").glob("*.arrows"))


@pytest.mark.parametrize("config", sorted(SHORTHAND))
@pytest.mark.parametrize("fidelity", ["L0", "L1"])
def test_explicit_actions_equal_the_shorthand(config, fidelity):
    path = CONFIGS / f"{config}.yaml"
    explicit = load_config(path)
    assert explicit.sparsity.handling == "none" and explicit.sparsity.actions  # stated, not abbreviated
    short = load_config(path, {"sparsity.actions": [], "sparsity.structured_format": None,
                               "sparsity.handling": SHORTHAND[config]})
    for trace in TRACES:
        a, b = (simulate_file(str(trace), c, fidelity).to_dict() for c in (explicit, short))
        for key in ("cycles", "energy_pj", "traffic_bytes", "memory_bytes", "accesses"):
            assert a[key] == b[key], (trace.name, key)


def test_structured_format_and_the_shorthand_exclude_each_other():
    with pytest.raises(ConfigError, match="sparsity.structured_format"):
        load_config(CONFIGS / "sparse_skipping.yaml", {"sparsity.actions": [], "sparsity.handling": "skipping"})


def test_no_shipped_config_uses_the_shorthand():
    for path in sorted(CONFIGS.glob("*.yaml")):
        assert load_config(path).sparsity.handling == "none", path.name
