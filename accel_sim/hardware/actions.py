"""Per-tensor sparse actions and storage formats, resolved for each op of a trace (a static plan).

A hardware config states, in Sparseloop's vocabulary, which accesses are gated or skipped on which
tensors' zeros (``sparsity.actions``, or the ``sparsity.handling`` shorthand) and how each tensor
is stored at each level (``mapping.tensors.<kind>.formats``). For every declared op this module
works out, per operand part: its tensor's innermost level (a GEMM operand's ``mapping.gemm_roles``
level where the mapping names one) and format there, and the roles (A, B,
Z) whose zeros skip or gate its accesses — its own role too when the format is compressed (a
compressed tensor's zeros are never fetched); and for the op's MACs, the roles whose zeros skip or
gate them (every action on one of its operands conditions the MACs too).

Shorthand expansions (``sparsity.handling``): ``none``: no actions; ``gating``: the MACs are gated
on A's and B's zeros (operands are still fetched); ``skipping``: A is skipped on B's zeros, B on
A's, Z and the MACs on both, and every tensor with a declared structure (pattern or restrictions)
is stored in ``index_units.format`` at its levels (``sparsity.structured_format`` says the same
explicitly).
"""

from __future__ import annotations

from dataclasses import dataclass

from accel_sim.config.schema import HardwareConfig, SparseAction, StorageFormat
from accel_sim.trace.header import MATMUL_KINDS, TraceHeader
from accel_sim.trace.work import ROLE_A, ROLE_B, ROLE_Z

ROLE_NAMES = {"A": ROLE_A, "B": ROLE_B, "Z": ROLE_Z}


def expanded_actions(config: HardwareConfig) -> list[SparseAction]:
    """The config's actions, with the ``handling`` shorthand expanded."""
    handling = config.sparsity.handling
    if handling == "gating":
        return [SparseAction(target="compute", action="gating", condition_on=["A", "B"])]
    if handling == "skipping":
        return [SparseAction(target="A", action="skipping", condition_on=["B"]),
                SparseAction(target="B", action="skipping", condition_on=["A"]),
                SparseAction(target="Z", action="skipping", condition_on=["A", "B"]),
                SparseAction(target="compute", action="skipping", condition_on=["A", "B"])]
    return list(config.sparsity.actions)


def storage_format(config: HardwareConfig, header: TraceHeader, tensor_index: int, level: str) -> StorageFormat:
    """The format tensor ``tensor_index`` is stored in at ``level``."""
    t = header.tensors[tensor_index]
    place = config.placement(t.kind)
    if level in place.formats:
        return place.formats[level]
    structured = t.pattern is not None or t.rows is not None or t.cols is not None
    if structured:
        return StorageFormat(type=config.sparsity.structured(config.index_units.format))
    return StorageFormat(type="uncompressed")


@dataclass(frozen=True)
class PartPlan:
    """One operand part: ``level`` (innermost, where the op accesses it), ``fmt`` there, and the
    roles whose zeros skip / gate its accesses."""

    tensor: int
    role: int
    level: str
    fmt: StorageFormat
    skip: frozenset[int]
    gate: frozenset[int]

    @property
    def compressed(self) -> bool:
        return self.fmt.type != "uncompressed"


@dataclass(frozen=True)
class OpPlan:
    """The parts of one declared op (in ``accel_sim.trace.work`` order: a, b, z) and the roles
    whose zeros skip / gate its MACs."""

    parts: tuple[PartPlan, ...]
    compute_skip: frozenset[int]
    compute_gate: frozenset[int]


def _roles(tokens: list[str], kinds_by_role: dict[int, set[str]]) -> set[int]:
    out = set()
    for token in tokens:
        if token in ROLE_NAMES:
            out.add(ROLE_NAMES[token])
        else:
            out |= {role for role, kinds in kinds_by_role.items() if token in kinds}
    return out


def plan(config: HardwareConfig, header: TraceHeader) -> list[OpPlan]:
    """One :class:`OpPlan` per declared op of ``header``."""
    actions = expanded_actions(config)
    index = {t.name: i for i, t in enumerate(header.tensors)}
    gemm_roles = config.mapping.gemm_roles
    plans = []
    for op in header.ops:
        parts = [(role, p) for role, group in ((ROLE_A, op.a), (ROLE_B, op.b), (ROLE_Z, op.z)) for p in group]
        kinds_by_role: dict[int, set[str]] = {}
        for role, p in parts:
            kinds_by_role.setdefault(role, set()).add(header.tensor(p.tensor).kind)
        compute = {"skipping": set(), "gating": set()}
        part_plans = []
        for role, p in parts:
            t = index[p.tensor]
            kind = header.tensors[t].kind
            level = config.placement(kind).level
            if gemm_roles is not None and op.kind in MATMUL_KINDS:  # the mapping names each GEMM operand's level
                level = getattr(gemm_roles, "abc"[role])
            fmt = storage_format(config, header, t, level)
            conds = {"skipping": set(), "gating": set()}
            for act in actions:
                if act.target == "compute":
                    continue
                hits = act.target == "ABZ"[role] or act.target == kind
                if hits and (act.level is None or act.level == level):
                    roles = _roles(act.condition_on, kinds_by_role) - {role}
                    conds[act.action] |= roles
                    compute[act.action] |= roles
            if fmt.type != "uncompressed":
                conds["skipping"].add(role)
            part_plans.append(PartPlan(t, role, level, fmt, frozenset(conds["skipping"]),
                                       frozenset(conds["gating"] - conds["skipping"])))
        for act in actions:
            if act.target == "compute":
                compute[act.action] |= _roles(act.condition_on, kinds_by_role)
        plans.append(OpPlan(tuple(part_plans), frozenset(compute["skipping"]),
                            frozenset(compute["gating"] - compute["skipping"])))
    return plans
