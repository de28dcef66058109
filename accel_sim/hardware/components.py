"""The hardware as component objects, built from a validated :class:`HardwareConfig` (validator ->
factory -> components, as ZigZag does). Each component owns its actions and their energies; the
costing multiplies action counts by these energies, and ``accel-sim ert`` prints the same table.

Components and actions (energies in pJ per action):

* ``pe_array``: ``mac`` (one multiply-accumulate), ``gated_mac`` (a MAC whose operand is zero and
  whose multiplier is gated), ``register`` (one PE operand-register access), ``leakage`` (per cycle);
* ``sram.<level>``: ``read`` / ``write`` (one access of the level's width), ``metadata_read`` /
  ``metadata_write`` (one metadata access of ``metadata_width_bits``, default the level's width), ``gated_read`` / ``gated_write`` (a gated access: its
  residual), ``leakage`` (per cycle);
* ``dram``: ``read`` / ``write`` (per bit);
* ``index_units``: ``decode`` (one index);
* ``interconnect``: ``transfer`` (one byte to or from a shared level).

A new component is a :class:`Component` with its own actions, built in :func:`build_components`;
the costing charges whatever counts it is given for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accel_sim.config.schema import HardwareConfig

PJ_PER_MW_CYCLE = 1e9  # 1 mW for one cycle at clock f Hz = 1e9 / f pJ


@dataclass(frozen=True)
class Component:
    """One hardware component: ``actions`` maps an action to (pJ per action, unit of one action)."""

    name: str
    actions: dict[str, tuple[float, str]]
    source: str = ""
    leakage_mw: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    def energy_pj(self, action: str) -> float:
        return self.actions[action][0]


@dataclass(frozen=True)
class Hardware:
    """All components of one config, in a fixed order."""

    config: HardwareConfig
    components: dict[str, Component]

    def ert(self) -> list[tuple[str, str, float, str, str]]:
        """The energy reference table: (component, action, pJ, unit, source) rows."""
        return [(c.name, action, pj, unit, c.source) for c in self.components.values()
                for action, (pj, unit) in c.actions.items()]

    def __getitem__(self, name: str) -> Component:
        return self.components[name]


def build_components(config: HardwareConfig) -> Hardware:
    pe, cycle = config.pe_array, PJ_PER_MW_CYCLE / config.clock_hz
    comps = [Component("pe_array", {
        "mac": (pe.mac_energy_pj, "MAC"),
        "gated_mac": (pe.mac_energy_pj * pe.gated_mac_energy_fraction, "gated MAC"),
        "register": (pe.register_energy_pj, "operand-register access"),
        "leakage": (pe.leakage_mw * cycle, "cycle"),
    }, pe.source, pe.leakage_mw)]
    for name, lv in config.sram.items():
        meta_r = lv.read_energy_pj if lv.metadata_read_energy_pj is None else lv.metadata_read_energy_pj
        meta_w = lv.write_energy_pj if lv.metadata_write_energy_pj is None else lv.metadata_write_energy_pj
        access = f"access of {lv.width_bytes} B"
        meta_access = f"metadata access of {lv.metadata_width_bits or 8 * lv.width_bytes} bit"
        comps.append(Component(f"sram.{name}", {
            "read": (lv.read_energy_pj, access),
            "write": (lv.write_energy_pj, access),
            "metadata_read": (meta_r, meta_access),
            "metadata_write": (meta_w, meta_access),
            "gated_read": (lv.read_energy_pj * lv.gated_access_energy_fraction, "gated access"),
            "gated_write": (lv.write_energy_pj * lv.gated_access_energy_fraction, "gated access"),
            "leakage": (lv.leakage_mw * cycle, "cycle"),
        }, lv.source, lv.leakage_mw, {"level": name}))
    comps.append(Component("dram", {"read": (config.dram.energy_pj_per_bit, "bit"),
                                    "write": (config.dram.energy_pj_per_bit, "bit")}, config.dram.source))
    iu = config.index_units
    comps.append(Component("index_units", {"decode": (iu.energy_pj_per_index if iu.count else pe.mac_energy_pj,
                                                      "index" if iu.count else "index (on a PE)")}, iu.source))
    comps.append(Component("interconnect", {"transfer": (config.interconnect.energy_pj_per_byte, "byte")},
                           config.interconnect.source))
    return Hardware(config, {c.name: c for c in comps})
