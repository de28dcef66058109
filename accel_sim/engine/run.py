"""``simulate``: stream a trace through costing (demand) and one engine (L0 | L1 | L2)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.demand import Costing
from accel_sim.engine.l0 import AnalyticEngine
from accel_sim.engine.l1 import TileEngine
from accel_sim.engine.l2 import FineEngine
from accel_sim.engine.pe_loads import HeaviestSteps
from accel_sim.engine.placement import Placement
from accel_sim.engine.report import build_result
from accel_sim.engine.rewiring import rewiring_work
from accel_sim.engine.totals import Totals
from accel_sim.errors import InputError
from accel_sim.result import SimResult
from accel_sim.trace.masks import MaskSchedule
from accel_sim.trace.schema import SetLayout, TraceChunk, TraceHeader

ENGINES = {"L0": AnalyticEngine, "L1": TileEngine, "L2": FineEngine}
BATCH_OPS = 65536  # ops costed per numpy pass: per-call overheads amortise; bounds the arrays of a batch


class Batch(NamedTuple):
    """Whole consecutive steps of a trace: ``step_ids`` (steps,), ``set_bits`` (steps, stride) and
    the op columns ``ops`` (see ``accel_sim.trace.schema.TraceChunk``)."""

    step_ids: np.ndarray
    set_bits: np.ndarray
    ops: dict[str, np.ndarray]

    @property
    def n_ops(self) -> int:
        return int(self.ops["step"].shape[0])


def simulate(header: TraceHeader, chunks: Iterable[TraceChunk], config: HardwareConfig,
             fidelity: str = "L1", timeline=None, progress: Callable[[int, int], None] | None = None,
             pe_loads: int = 0) -> SimResult:
    """Replay a trace on ``config`` at ``fidelity`` (L0 analytic, L1 tile-level, L2 fine-grained).
    ``timeline``: optional collector with ``span(track, name, start_cycle, end_cycle, step)`` and
    ``counter(track, cycle, value)`` (L1 only). ``progress(steps_done, ops_done)`` is called after
    each batch of whole steps. Mask-change records apply from their step on (the ops after a
    rewiring are costed on the changed patterns, ``accel_sim.trace.masks``) and each rewiring
    is costed itself (``accel_sim.engine.rewiring``); an impossible record raises
    ``MaskChangeError``. ``pe_loads``: keep the per-PE work of the ``pe_loads`` heaviest steps
    (``SimResult.heaviest_steps``, ``accel_sim.engine.pe_loads``)."""
    if fidelity not in ENGINES:
        raise InputError(f"unknown fidelity {fidelity!r}; choose one of {', '.join(ENGINES)}")
    try:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            result = _simulate(header, chunks, config, fidelity, timeline, progress, pe_loads)
    except OverflowError as exc:
        raise InputError(f"simulation on config {config.name!r} overflows ({exc}): check the config's "
                         "bandwidths and rates and the trace's counts") from None
    numbers = [result.seconds, *(v for v in result.energy_pj.values() if isinstance(v, float))]
    if not all(math.isfinite(v) for v in numbers) or result.cycles >= 2**63:
        raise InputError(f"simulation on config {config.name!r} gives non-finite cycles or energy: check the "
                         "config's bandwidths, rates and energies")
    return result


def _simulate(header: TraceHeader, chunks: Iterable[TraceChunk], config: HardwareConfig,
              fidelity: str, timeline, progress, pe_loads: int = 0) -> SimResult:
    wall = time.perf_counter()
    engine = ENGINES[fidelity](config, timeline)
    placement = Placement(config, header)
    costing = Costing(config, header)
    totals = Totals(config, header)
    heaviest = HeaviestSteps(pe_loads, costing) if pe_loads > 0 else None
    layout = SetLayout.of(header)
    schedule = MaskSchedule()  # mask-change records (rewiring): applied from their step on, costed at the end
    for batch in _batches(chunks, layout, schedule):
        for segment, due in _segments(batch, schedule):
            costing.apply(due)
            totals.add_steps(segment.set_bits)
            if segment.n_ops:
                demand = costing.demand(segment.step_ids, segment.set_bits, segment.ops, placement)
                totals.add(demand)
                engine.run(demand)
                if heaviest is not None:  # on the patterns this segment was costed on
                    heaviest.add(segment.step_ids, segment.set_bits, segment.ops, demand)
        if progress is not None:  # steps without ops count too
            progress(totals.n_steps, totals.n_ops)
    costing.apply(schedule.rest())  # records after the last step change nothing, but must be valid
    changes = schedule.records
    peak = placement.resident_bytes()  # footprints are declared: what each level holds is fixed
    if timeline is not None:
        for level, resident in peak.items():
            timeline.counter(f"sram:{level}_occupancy_bytes", 0, resident)
    drained = totals.add_drain(placement.drain_at_end())
    engine.drain(drained)
    if changes:
        work = rewiring_work(config, header, placement, changes)
        totals.add_rewiring(work)
        engine.timing.add_rewiring(work.cycles(config))
    timing = engine.finish()
    result = build_result(config, header, fidelity, timing, totals, placement, peak,
                          wall_seconds=time.perf_counter() - wall)
    if heaviest is not None:
        result.heaviest_steps = heaviest.steps
    return result


def simulate_file(path, config: HardwareConfig, fidelity: str = "L1", timeline=None,
                  progress: Callable[[int, int], None] | None = None, pe_loads: int = 0) -> SimResult:
    """Simulate the trace file at ``path`` (read chunk by chunk); see :func:`simulate`."""
    from accel_sim.trace.io import TraceReader

    reader = TraceReader(path)
    try:
        return simulate(reader.header, reader.chunks(), config, fidelity, timeline, progress, pe_loads)
    except InputError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise InputError(f"{path}: {exc}") from None


def _segments(batch: Batch, schedule: MaskSchedule) -> Iterator[tuple[Batch, list]]:
    """The batch cut where mask-change records take effect: (segment, records due before it)."""
    for lo, hi, due in schedule.segments(batch.step_ids):
        if lo == 0 and hi == batch.step_ids.size:
            yield batch, due
            continue
        op_step = batch.ops["step"]
        a, b = np.searchsorted(op_step, batch.step_ids[lo]), np.searchsorted(op_step, batch.step_ids[hi - 1], "right")
        yield Batch(batch.step_ids[lo:hi], batch.set_bits[lo:hi], {c: v[a:b] for c, v in batch.ops.items()}), due


def _batches(chunks: Iterable[TraceChunk], layout: SetLayout, schedule: MaskSchedule) -> Iterator[Batch]:
    """Concatenate chunks into batches of about BATCH_OPS ops that hold whole steps only; their
    mask-change records go to ``schedule``."""
    parts: list[TraceChunk] = []
    n_ops = 0
    for chunk in chunks:
        schedule.add(chunk.step_ids, chunk.mask_changes)
        parts.append(chunk)
        n_ops += chunk.n_ops
        if n_ops >= BATCH_OPS:
            batch = _concat(parts, layout)
            last = batch.ops["step"][-1]
            cut = int(np.searchsorted(batch.ops["step"], last, side="left"))  # ops of the last step wait
            if cut > 0:
                s_cut = int(np.searchsorted(batch.step_ids, last, side="left"))
                yield Batch(batch.step_ids[:s_cut], batch.set_bits[:s_cut], {c: v[:cut] for c, v in batch.ops.items()})
                parts = [TraceChunk(layout, batch.step_ids[s_cut:], batch.set_bits[s_cut:],
                                    {c: v[cut:] for c, v in batch.ops.items()})]
                n_ops = int(parts[0].n_ops)
    if parts:
        yield _concat(parts, layout)


def _concat(parts: list[TraceChunk], layout: SetLayout) -> Batch:
    if len(parts) == 1:
        p = parts[0]
        return Batch(p.step_ids, p.set_bits, p.ops)
    return Batch(np.concatenate([p.step_ids for p in parts]),
                 np.concatenate([p.set_bits for p in parts]).reshape(-1, layout.stride),
                 {c: np.concatenate([p.ops[c] for p in parts]) for c in parts[0].ops})
