"""Emit operation records (DESIGN §5) from the learners' code paths.

Learners call :func:`emit` only inside ``if self.recorder is not None`` blocks, so a run without
a recorder does no recording work at all.
"""

from __future__ import annotations

from accel_sim.trace.schema import Label, OpKind, OpRecord, Recorder

#: Multiplies per unit spent in rtrl.cell.gates (gate products and local derivatives).
GATE_MACS_PER_UNIT = 12
INDEX_BYTES = 4  # int32 indices


def emit(
    recorder: Recorder,
    step: int,
    kind: OpKind,
    label: Label,
    *,
    m: int = 1,
    k: int = 1,
    n: int = 1,
    nnz: int = 0,
    macs: int = 0,
    index_count: int = 0,
    read: dict[str, int] | None = None,
    written: dict[str, int] | None = None,
) -> None:
    """One operation record (counts are Python ints; byte counts of 0 are left out)."""
    recorder.op(OpRecord(step, _VALUES[kind], _VALUES[label], m, k, n, nnz, macs, index_count,
                         _nonzero(read) if read else {}, _nonzero(written) if written else {}))


#: Enum member -> its string (a dict lookup is ~4x cheaper than ``.value``; emit runs ~10x a step).
_VALUES = {member: member.value for enum in (OpKind, Label) for member in enum}


def _nonzero(nbytes: dict[str, int]) -> dict[str, int]:
    """``nbytes`` without its zero entries (the caller's fresh dict itself when it has none)."""
    return nbytes if 0 not in nbytes.values() else {key: v for key, v in nbytes.items() if v}
