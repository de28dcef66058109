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
#: Operand roles of an op (Z = A @ B, or A's elements into Z) that sparse actions can name.
ROLES = ("A", "B", "Z")
FORMAT_TYPES = ("uncompressed", "bitmap", "coo", "csr", "csc", "rle")


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
    #: partial sums stay in each PE's output register (written once per output and fold); false: every
    #: MAC reads and updates its output at the output's storage level (the first update needs no read)
    output_register: bool = True
    source: str = ""  # where the energies come from
    #: area of one MAC unit in um^2 at ``technology_nm``; None: the datatype's table value at 45 nm
    #: (accel_sim.hardware.area), scaled by (technology_nm / 45)^2
    mac_area_um2: float | None = Field(default=None, gt=0)
    #: bytes of the operand queue between the SRAM ports / interconnect and the PEs (all PEs together).
    #: 0 (default): no queue, operands stream into the array as it consumes them (a tile holds the
    #: array, its ports and the interconnect together); > 0: the ports deliver tiles ahead of the
    #: array, up to this many bytes waiting (accel_sim.engine.l1)
    operand_queue_bytes: Bytes = Field(default=0, ge=0, le=MAX_BYTES)

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
    metadata_read_energy_pj: Picojoules | None = Field(default=None, ge=0)  # per metadata word; None: read_energy_pj
    metadata_write_energy_pj: Picojoules | None = Field(default=None, ge=0)  # None: write_energy_pj
    gated_access_energy_fraction: float = Field(default=0.0, ge=0, le=1)  # of the access energy, a gated access
    metadata_width_bits: int | None = Field(default=None, gt=0, le=8 * 4096)  # one metadata access; None: the width
    area_mm2_per_mib: float | None = Field(default=None, gt=0)  # None: 6T SRAM at technology_nm (hardware.area)
    source: str = ""


class Dram(_Strict):
    """Off-chip memory: one read and one write channel, each ``bandwidth_bytes_per_cycle``."""

    bandwidth_bytes_per_cycle: float = Field(gt=0)
    latency_cycles: int = Field(default=0, ge=0, le=MAX_CYCLES)
    energy_pj_per_bit: Picojoules = Field(ge=0)
    source: str = ""


class IndexUnits(_Strict):
    """Sparse-index decoders. ``count: 0`` means none: index work runs on one PE, 1 index/cycle."""

    count: int = Field(ge=0, le=MAX_UNITS)
    format: Literal["bitmap", "csr", "coo", "csc"] = "csr"  # what `sparsity.handling: skipping` stores structured tensors in
    indices_per_cycle: float = Field(gt=0)  # per unit
    energy_pj_per_index: Picojoules = Field(ge=0)
    source: str = ""
    area_um2_per_index_per_cycle: float | None = Field(default=None, gt=0)  # None: a 32-bit comparator (hardware.area)


class Interconnect(_Strict):
    """Network between shared SRAM and the PEs (broadcast of operands)."""

    bytes_per_cycle: float = Field(gt=0)
    energy_pj_per_byte: Picojoules = Field(ge=0)
    source: str = ""


class SparseAction(_Strict):
    """Sparseloop's vocabulary: ``action`` the accesses to ``target`` (an operand role A, B or Z, a
    tensor kind, or ``compute`` for the MACs) where any tensor of ``condition_on`` (roles or kinds)
    is zero, at storage level ``level`` (any level when omitted). Gating saves the energy of those
    accesses (minus the level's residual) but no cycles; skipping saves both."""

    target: str
    action: Literal["gating", "skipping"]
    condition_on: list[str] = Field(min_length=1)
    level: str | None = None


class Sparsity(_Strict):
    """``handling`` is a shorthand for ``actions`` and ``structured_format``: none = no actions;
    gating = gate the MACs on A's and B's zeros (zeros are still fetched); skipping = skip A on B,
    B on A, Z and the MACs on A and B, and store every structured tensor in
    ``index_units.format``. Give one or the other. ``structured_format``: the format of every
    tensor whose trace declares a structure (a static pattern, per-step rows / cols) at the
    levels where its kind's mapping names no format (default: uncompressed)."""

    handling: Literal["none", "gating", "skipping"] = "none"
    actions: list[SparseAction] = Field(default_factory=list)
    structured_format: Literal["uncompressed", "bitmap", "csr", "coo", "csc"] | None = None

    def structured(self, index_format: str) -> str:
        """The format structured tensors get (the shorthand's, or ``structured_format``)."""
        if self.structured_format is not None:
            return self.structured_format
        return index_format if self.handling == "skipping" else "uncompressed"


class StorageFormat(_Strict):
    """How a tensor is stored at one level: ``uncompressed`` (every element), ``bitmap`` (one
    bit per element + the non-zeros), ``coo`` (each non-zero's row and column), ``csr`` / ``csc``
    (each non-zero's column / row + one offset per row / column), ``rle`` (each stored entry's run
    of preceding zeros in ``run_bits`` bits; a longer run forces padding zero entries). A plain
    string names the type."""

    type: Literal["uncompressed", "bitmap", "coo", "csr", "csc", "rle"]
    run_bits: int | None = Field(default=None, gt=0, le=32)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value):
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _run_bits(self) -> "StorageFormat":
        if (self.type == "rle") != (self.run_bits is not None):
            raise ValueError("run_bits is given exactly for type rle")
        return self


class TensorPlacement(_Strict):
    """Where a named trace tensor lives and how it reaches the chip.

    ``from_dram``: its initial content comes from DRAM (compulsory load on first read).
    ``streamed``: fresh every step (read from DRAM again each step, e.g. sensor input).
    ``drain_at_end``: its final content is written back to DRAM at the end of the trace."""

    level: str
    from_dram: bool = False
    streamed: bool = False
    drain_at_end: bool = False
    #: outer on-chip levels it passes through on the way to ``level`` (outer first); levels not
    #: listed are bypassed. ``from_dram`` / ``streamed`` then load the outermost one.
    via: list[str] = Field(default_factory=list)
    #: storage format per level (levels of ``via`` and ``level``); unlisted: uncompressed
    formats: dict[str, StorageFormat] = Field(default_factory=dict)

    @property
    def levels(self) -> list[str]:
        """The on-chip levels it lives at, outer first (ops access the last)."""
        return [*self.via, self.level]


class GemmRoles(_Strict):
    """SRAM levels that feed the array's operand roles for GEMM/SpMM (SCALE-Sim style buffers):
    A (m x k) through ``a``, B (k x n) through ``b``, C (m x n) into ``c``."""

    a: str
    b: str
    c: str


Distribution = Literal["auto", "balanced", "rows_interleaved", "rows_blocked", "cols_interleaved", "cols_blocked"]


class Mapping(_Strict):
    """How trace ops and tensors map onto the hardware. ``distribution``: how a matmul that skips
    zeros spreads its work over the PEs — its output's rows or columns, interleaved (line i on PE
    i mod PEs) or in blocks, ``auto`` (the output's longer side, interleaved) or ``balanced`` (an
    ideal even split) — by op label or op kind, else ``default``; the busiest PE sets the op's
    array time."""

    tensors: dict[TensorName, TensorPlacement]
    distribution: dict[str, Distribution] = Field(default_factory=lambda: {"default": "auto"})
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
    technology_nm: float = Field(default=45.0, gt=0, le=1000)  # process node of the area model
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
            for i, level in enumerate(place.via):
                if level not in self.sram:
                    raise _FieldProblem(f"mapping.tensors.{tensor}.via.{i}",
                                        f"unknown SRAM level {level!r}; levels are: {levels}")
            if len(set(place.levels)) != len(place.levels):
                raise _FieldProblem(f"mapping.tensors.{tensor}.via", "a level is listed twice on the way in")
            for level in place.formats:
                if level not in place.levels:
                    raise _FieldProblem(f"mapping.tensors.{tensor}.formats.{level}",
                                        f"{level!r} is not one of this tensor's levels ({', '.join(place.levels)})")
        names = set(ROLES) | set(TENSOR_NAMES)
        if self.sparsity.actions and self.sparsity.handling != "none":
            raise _FieldProblem("sparsity.actions", "give either sparsity.handling (a shorthand) or sparsity.actions, "
                                f"not both (handling is {self.sparsity.handling!r})")
        if self.sparsity.structured_format is not None and self.sparsity.handling != "none":
            raise _FieldProblem("sparsity.structured_format", "give either sparsity.handling (a shorthand) or "
                                f"sparsity.structured_format, not both (handling is {self.sparsity.handling!r})")
        for i, act in enumerate(self.sparsity.actions):
            where = f"sparsity.actions.{i}"
            if act.target not in names | {"compute"}:
                raise _FieldProblem(f"{where}.target", f"unknown tensor {act.target!r}; use an operand role "
                                    f"(A, B, Z), a tensor kind ({', '.join(TENSOR_NAMES)}) or compute")
            for j, cond in enumerate(act.condition_on):
                if cond not in names:
                    raise _FieldProblem(f"{where}.condition_on.{j}", f"unknown tensor {cond!r}; use an operand role "
                                        f"(A, B, Z) or a tensor kind ({', '.join(TENSOR_NAMES)})")
                if cond == act.target:
                    raise _FieldProblem(f"{where}.condition_on.{j}", f"{cond!r} is conditioned on itself")
            if act.level is not None and act.level not in self.sram:
                raise _FieldProblem(f"{where}.level", f"unknown SRAM level {act.level!r}; levels are: {levels}")
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

    def distribution_for(self, label: str, kind: str) -> str:
        """The work distribution of an op with this label and kind."""
        d = self.mapping.distribution
        return d.get(label) or d.get(kind) or d.get("default", "auto")

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
