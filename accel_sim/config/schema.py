"""The hardware config schema (``accel-sim/hw/1``): typed, strict, validated before anything runs.

Validate first, then build (as ZigZag does): :func:`accel_sim.config.loader.load_config` turns a
YAML file into a :class:`HardwareConfig`; every problem becomes ``FILE: field.path: problem``.
Units are in the field names: cycles, bytes, Hz, pJ, mW.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from accel_sim.config.units import Bytes, Hertz, Milliwatts, Picojoules

SCHEMA_VERSION = "accel-sim/hw/1"
TENSOR_NAMES = ("weights", "influence", "state", "gradients", "input", "activations", "history")
WORD_BYTES = {"int4": 0.5, "int8": 1, "int16": 2, "fp8": 1, "fp16": 2, "bf16": 2, "int32": 4, "fp32": 4}

Datatype = Literal["int4", "int8", "int16", "fp8", "fp16", "bf16", "int32", "fp32"]
#: Upper bounds that keep the simulator's arithmetic in range (far above any real accelerator):
#: PEs per side, MACs/PE, banks, ports, width and index units; SRAM level size; DRAM latency;
#: L2 events per op (L2 is the fine-grained reference for small traces).
MAX_UNITS = 2**20
MAX_BYTES = 2**50
MAX_CYCLES = 2**32
MAX_L2_UNITS = 2**24
TensorName = Literal["weights", "influence", "state", "gradients", "input", "activations", "history"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class PEArray(_Strict):
    """The MAC array: ``rows`` x ``cols`` PEs (or cores), each doing ``macs_per_cycle`` MACs."""

    rows: int = Field(gt=0, le=MAX_UNITS)
    cols: int = Field(gt=0, le=MAX_UNITS)
    macs_per_cycle: int = Field(default=1, gt=0, le=MAX_UNITS)
    datatype: Datatype = "int8"
    dataflow: Literal["os", "ws", "is"] = "os"
    fold_overlap: bool = False  # false: each fold pays fill+drain (SCALE-Sim); true: pipelined (ZigZag)
    mac_energy_pj: Picojoules = Field(ge=0)
    register_energy_pj: Picojoules = Field(default=0.0, ge=0)  # per PE operand-register access
    gated_mac_energy_fraction: float = Field(default=0.0, ge=0, le=1)  # of mac_energy_pj, gated zero MAC
    leakage_mw: Milliwatts = Field(default=0.0, ge=0)

    @property
    def n_pes(self) -> int:
        return self.rows * self.cols

    @property
    def word_bytes(self) -> float:
        return WORD_BYTES[self.datatype]


class SramLevel(_Strict):
    """One on-chip SRAM level. ``scope: pe_local`` means every PE has one of ``size_bytes``."""

    size_bytes: Bytes = Field(gt=0, le=MAX_BYTES)
    banks: int = Field(default=1, gt=0, le=MAX_UNITS)
    width_bytes: Bytes = Field(gt=0, le=MAX_UNITS)  # bytes per access per port
    ports: int = Field(default=1, gt=0, le=MAX_UNITS)
    read_energy_pj: Picojoules = Field(ge=0)  # per access of width_bytes
    write_energy_pj: Picojoules = Field(ge=0)
    leakage_mw: Milliwatts = Field(default=0.0, ge=0)
    scope: Literal["shared", "pe_local"] = "shared"


class Dram(_Strict):
    """Off-chip memory: one read and one write channel, each ``bandwidth_bytes_per_cycle``."""

    bandwidth_bytes_per_cycle: float = Field(gt=0)
    latency_cycles: int = Field(default=0, ge=0, le=MAX_CYCLES)
    energy_pj_per_bit: Picojoules = Field(ge=0)


class IndexUnits(_Strict):
    """Sparse-index decoders. ``count: 0`` means none: index work runs on one PE, 1 index/cycle."""

    count: int = Field(ge=0, le=MAX_UNITS)
    format: Literal["bitmap", "csr", "coo"] = "csr"
    indices_per_cycle: float = Field(gt=0)  # per unit
    energy_pj_per_index: Picojoules = Field(ge=0)


class Interconnect(_Strict):
    """Network between shared SRAM and the PEs (broadcast of operands)."""

    bytes_per_cycle: float = Field(gt=0)
    energy_pj_per_byte: Picojoules = Field(ge=0)


class Sparsity(_Strict):
    """none: zeros are fetched and multiplied; gating: fetched, multiplier gated (energy only);
    skipping: index units skip zeros (fewer cycles and fetches)."""

    handling: Literal["none", "gating", "skipping"] = "none"


class TensorPlacement(_Strict):
    """Where a named trace tensor lives and how it reaches the chip.

    ``from_dram``: its initial content comes from DRAM (compulsory load on first read).
    ``streamed``: fresh every step (read from DRAM again each step, e.g. sensor input).
    ``drain_at_end``: its final content is written back to DRAM at the end of the trace."""

    level: str
    from_dram: bool = False
    streamed: bool = False
    drain_at_end: bool = False


class GemmRoles(_Strict):
    """SRAM levels that feed the array's operand roles for GEMM/SpMM (SCALE-Sim style buffers):
    A (m x k) through ``a``, B (k x n) through ``b``, C (m x n) into ``c``."""

    a: str
    b: str
    c: str


class Mapping(_Strict):
    """How trace ops and tensors map onto the hardware."""

    tensors: dict[TensorName, TensorPlacement]
    gemm_roles: GemmRoles | None = None
    vector_lanes: int | None = Field(default=None, gt=0, le=MAX_UNITS**2)  # PEs used by element-wise ops (default all)
    event_driven: bool = False  # idle PEs are power-gated: PE leakage only while busy


class Engine(_Strict):
    """Simulation granularity (does not change the hardware)."""

    l1_tile_cycles: float = Field(default=1.0, gt=0)  # target length of one L1 tile (cycles of the op's longest stage)
    l1_max_tiles_per_op: int = Field(default=128, gt=0, le=MAX_L2_UNITS)  # L1: one SimPy event per tile
    l2_max_units_per_op: int = Field(default=512, gt=0, le=MAX_L2_UNITS)


class HardwareConfig(_Strict):
    """A whole accelerator. Build with :func:`accel_sim.load_config`."""

    schema_: Literal["accel-sim/hw/1"] = Field(alias="schema")
    name: str
    description: str = ""
    clock_hz: Hertz = Field(gt=0)
    pe_array: PEArray
    sram: dict[str, SramLevel] = Field(min_length=1)
    dram: Dram
    index_units: IndexUnits
    interconnect: Interconnect
    sparsity: Sparsity = Sparsity()
    mapping: Mapping
    engine: Engine = Engine()

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _levels_exist(self) -> "HardwareConfig":
        levels = ", ".join(self.sram)
        for tensor, place in self.mapping.tensors.items():
            if place.level not in self.sram:
                raise _FieldProblem(f"mapping.tensors.{tensor}.level",
                                    f"unknown SRAM level {place.level!r}; levels are: {levels}")
        if self.mapping.gemm_roles is not None:
            for role in ("a", "b", "c"):
                level = getattr(self.mapping.gemm_roles, role)
                if level not in self.sram:
                    raise _FieldProblem(f"mapping.gemm_roles.{role}",
                                        f"unknown SRAM level {level!r}; levels are: {levels}")
        return self

    def level_capacity_bytes(self, level: str) -> int:
        """Total bytes of a level (size x PEs for a PE-local level)."""
        spec = self.sram[level]
        return spec.size_bytes * (self.pe_array.n_pes if spec.scope == "pe_local" else 1)

    def level_bandwidth_bytes_per_cycle(self, level: str) -> float:
        spec = self.sram[level]
        per = spec.width_bytes * spec.ports * spec.banks
        return per * (self.pe_array.n_pes if spec.scope == "pe_local" else 1)

    def placement(self, tensor: str) -> TensorPlacement:
        """A tensor's placement; tensors the mapping omits live on the first SRAM level."""
        return self.mapping.tensors.get(tensor) or TensorPlacement(level=next(iter(self.sram)))

    def to_dict(self) -> dict:
        return self.model_dump(by_alias=True, mode="json")


class _FieldProblem(ValueError):
    """Raised inside validators to name the offending field (the loader reports its path)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")
