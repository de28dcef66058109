"""Area of a config's components in mm², from cited per-component tables at 45 nm scaled to the
config's ``technology_nm`` by (node / 45)² (ideal area scaling; SRAM scales worse below ~16 nm,
so give ``area_mm2_per_mib`` for such nodes). Interconnect wires and DRAM (off chip) are not counted.

* PE array: PEs x MACs per cycle x one MAC unit (multiplier + accumulator adder). At 45 nm,
  Horowitz, "Computing's energy problem", ISSCC 2014: 8-bit multiply 282 um², 32-bit multiply
  3495 um², 8-bit add 36 um², 32-bit add 137 um², fp16 add 1360 um², fp16 multiply 1640 um²,
  fp32 add 4184 um², fp32 multiply 7700 um². Integer MACs accumulate in 32 bits; int4, int16 and
  fp8 multipliers are interpolated (multiplier area ~ bits²).
* SRAM: 6T cell 0.346 um² at 45 nm (Mistry et al., IEDM 2007) over a 70 % array efficiency (the
  rest: decoders, sense amplifiers) = 0.494 um² per bit = 4.15 mm² per MiB.
* Index units: one 32-bit comparator (137 um², the 32-bit adder above) per index decoded per cycle.
"""

from __future__ import annotations

from accel_sim.config.schema import HardwareConfig

REFERENCE_NM = 45.0
#: um² of one MAC unit at 45 nm by datatype (multiplier + accumulator adder)
MAC_AREA_UM2 = {
    "int4": 282 / 4 + 137, "int8": 282 + 137, "int16": 282 * 4 + 137, "int32": 3495 + 137,
    "fp8": 1640 / 4 + 1360 / 2, "fp16": 1640 + 1360, "bf16": 1640 + 1360, "fp32": 7700 + 4184,
}
SRAM_MM2_PER_MIB = 0.346 / 0.70 * 8 * 2**20 / 1e6  # 4.15 mm² per MiB at 45 nm
COMPARATOR_UM2 = 137.0


def _scale(config: HardwareConfig) -> float:
    return (config.technology_nm / REFERENCE_NM) ** 2


def area_mm2(config: HardwareConfig) -> dict[str, float]:
    """{component: mm²} for the PE array, each SRAM level and the index units, plus ``total``."""
    scale, pe = _scale(config), config.pe_array
    mac = pe.mac_area_um2 if pe.mac_area_um2 is not None else MAC_AREA_UM2[pe.datatype] * scale
    out = {"pe_array": pe.n_pes * pe.macs_per_cycle * mac / 1e6}
    for name, lv in config.sram.items():
        per_mib = lv.area_mm2_per_mib if lv.area_mm2_per_mib is not None else SRAM_MM2_PER_MIB * scale
        out[f"sram.{name}"] = config.level_capacity_bytes(name) / 2**20 * per_mib
    iu = config.index_units
    per_index = iu.area_um2_per_index_per_cycle
    per_index = COMPARATOR_UM2 * scale if per_index is None else per_index
    out["index_units"] = iu.count * iu.indices_per_cycle * per_index / 1e6
    out["total"] = sum(out.values())
    return out
