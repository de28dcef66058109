"""``simulate``: stream a trace through costing (demand) and one engine (L0 | L1 | L2)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.demand import Costing
from accel_sim.engine.l0 import AnalyticEngine
from accel_sim.engine.l1 import TileEngine
from accel_sim.engine.l2 import FineEngine
from accel_sim.engine.placement import Placement
from accel_sim.engine.report import build_result
from accel_sim.engine.totals import Totals
from accel_sim.errors import InputError
from accel_sim.result import SimResult
from accel_sim.trace.schema import StepRecord, TraceChunk, TraceHeader

ENGINES = {"L0": AnalyticEngine, "L1": TileEngine, "L2": FineEngine}
BATCH_OPS = 16384  # ops costed per numpy pass: small enough that a batch's arrays stay in cache
#: Largest count or byte value one op may carry (2^48 ~ 2.8e14), and largest m*k*n: beyond these the
#: costing's int64 arithmetic could wrap around silently, so such traces are refused instead.
MAX_OP_VALUE = 2**48
MAX_OP_VOLUME = 2.0**62
_VALUE_COLUMNS = ("m", "k", "n", "nnz", "macs", "index_count")


def simulate(header: TraceHeader, chunks: Iterable[TraceChunk], config: HardwareConfig,
             fidelity: str = "L1", timeline=None, progress: Callable[[int, int], None] | None = None) -> SimResult:
    """Replay a trace on ``config`` at ``fidelity`` (L0 analytic, L1 tile-level, L2 fine-grained).
    ``timeline``: optional collector with ``span(track, name, start_cycle, end_cycle, step)`` and
    ``counter(track, cycle, value)`` (L1 only). ``progress(steps_done, ops_done)`` is called after
    each batch of whole steps."""
    if fidelity not in ENGINES:
        raise InputError(f"unknown fidelity {fidelity!r}; choose one of {', '.join(ENGINES)}")
    try:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            result = _simulate(header, chunks, config, fidelity, timeline, progress)
    except OverflowError as exc:
        raise InputError(f"simulation on config {config.name!r} overflows ({exc}): check the config's "
                         "bandwidths and rates and the trace's counts") from None
    numbers = [result.seconds, *(v for v in result.energy_pj.values() if isinstance(v, float))]
    if not all(math.isfinite(v) for v in numbers) or result.cycles >= 2**63:
        raise InputError(f"simulation on config {config.name!r} gives non-finite cycles or energy: check the "
                         "config's bandwidths, rates and energies")
    return result


def _simulate(header: TraceHeader, chunks: Iterable[TraceChunk], config: HardwareConfig,
              fidelity: str, timeline, progress) -> SimResult:
    wall = time.perf_counter()
    engine = ENGINES[fidelity](config, timeline)
    placement = Placement(config, header)
    costing = Costing(config, header)
    totals = Totals(config)
    peak = {lv: 0 for lv in config.sram}
    for steps, ops in _batches(chunks):
        totals.add_steps(steps)
        if ops is not None:
            _check_ranges(ops)
            demand = costing.demand(ops, placement)
            for lv, b in placement.resident_bytes().items():
                peak[lv] = max(peak[lv], b)
            totals.add(demand)
            engine.run(demand)
        if progress is not None:  # steps without ops count too
            progress(totals.n_steps, totals.n_ops)
    if timeline is not None:  # what each SRAM level holds at its fullest (resident tensors)
        for level, resident in peak.items():
            timeline.counter(f"sram:{level}_occupancy_bytes", 0, resident)
    drained = totals.add_drain(placement.drain_at_end())
    engine.drain(drained)
    timing = engine.finish()
    return build_result(config, header, fidelity, timing, totals, placement, peak,
                        wall_seconds=time.perf_counter() - wall)


def simulate_file(path, config: HardwareConfig, fidelity: str = "L1", timeline=None,
                  progress: Callable[[int, int], None] | None = None) -> SimResult:
    """Simulate the trace file at ``path`` (read chunk by chunk); see :func:`simulate`."""
    from accel_sim.trace.io import TraceReader

    reader = TraceReader(path)
    try:
        return simulate(reader.header, reader.chunks(), config, fidelity, timeline, progress)
    except InputError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise InputError(f"{path}: {exc}") from None


def _check_ranges(ops: dict[str, np.ndarray]) -> None:
    """Refuse op values the costing's int64 arithmetic cannot hold (InputError naming the step)."""
    for column in (*_VALUE_COLUMNS, *(c for c in ops if c.startswith("bytes_"))):
        values = ops[column]
        if values.size and int(values.max()) > MAX_OP_VALUE:
            i = int(np.argmax(values))
            raise InputError(f"op at step {int(ops['step'][i])}: {column} = {int(values[i])} exceeds the "
                             f"simulator's range ({MAX_OP_VALUE})")
    volume = ops["m"].astype(np.float64) * ops["k"] * ops["n"]
    if volume.size and float(volume.max()) > MAX_OP_VOLUME:
        i = int(np.argmax(volume))
        raise InputError(f"op at step {int(ops['step'][i])}: m*k*n = {volume[i]:.3g} exceeds the simulator's range")


def _batches(chunks: Iterable[TraceChunk]) -> Iterator[tuple[list[StepRecord], dict[str, np.ndarray]]]:
    """Concatenate chunks into batches of about BATCH_OPS ops that hold whole steps only."""
    steps: list[StepRecord] = []
    parts: list[dict[str, np.ndarray]] = []
    n_ops = 0
    for chunk in chunks:
        steps.extend(chunk.steps)
        if chunk.n_ops:
            parts.append(chunk.ops)
            n_ops += chunk.n_ops
        if n_ops >= BATCH_OPS:
            ops = _concat(parts)
            last = ops["step"][-1]
            cut = int(np.searchsorted(ops["step"], last, side="left"))  # ops of the last step wait
            if cut > 0:
                head = {c: v[:cut] for c, v in ops.items()}
                tail = {c: v[cut:] for c, v in ops.items()}
                done = [s for s in steps if s.step < last]
                steps = [s for s in steps if s.step >= last]
                yield done, head
                parts, n_ops = [tail], int(tail["step"].shape[0])
    if parts or steps:
        yield steps, _concat(parts) if parts else None


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
