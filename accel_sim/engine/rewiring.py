"""What rewiring the weight masks costs the hardware (the trace's mask-change records, written by
``rtrl.rewire`` between two steps, where the pipeline is drained).

Per mask-change record of a pattern, for every weights tensor declared with that pattern (and
every ``compact`` tensor of per-step values with it, e.g. the Jacobian's G: its index only), at
the level it is stored at (DRAM if it spilled):

* the changed values: the entries that left and those that joined are written (word bytes each);
* the index: a compressed format's metadata is rebuilt whole (read and written: inserting an
  entry shifts every coordinate after it), ``formats.stored`` on the pattern's size after the
  change; an uncompressed tensor has none.

* the influence columns: the learner carries M across the change (``rtrl.rewire.column_sources``:
  surviving weights keep their columns, grown ones start at zero, dropped ones are discarded), so
  the hardware, keeping a map from parameters to stored columns, gives each grown weight a dropped
  weight's column and writes it zero: rows x (entries added) words of every tensor of kind
  ``influence`` or ``gradients`` with one column per influence column (``n_influence_columns``),
  at its level (DRAM if it spilled). The column map itself (one index per changed column) is not
  costed; moving survivors to keep M's columns in layout order would cost a sweep of M instead.

The steps after a rewiring are costed on the changed patterns (the work model applies each record
from its step on, ``accel_sim.trace.masks``). Time: the levels' ports and the DRAM channel work in
parallel, the slowest sets the cycles, added once per rewiring after the drain of the pipeline (a
``rewiring`` stall). Units: bytes, cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.placement import Placement
from accel_sim.hardware.actions import storage_format
from accel_sim.hardware.formats import stored
from accel_sim.trace.schema import MaskChange, TraceHeader

LABEL = "rewiring"


@dataclass
class RewiringWork:
    """Bytes moved by all rewirings of a trace: ``sram_read`` / ``sram_write`` per level,
    ``dram_read`` / ``dram_write``; ``events`` (distinct steps) and ``records``."""

    events: int = 0
    records: int = 0
    sram_read: dict[str, int] = field(default_factory=dict)
    sram_write: dict[str, int] = field(default_factory=dict)
    dram_read: int = 0
    dram_write: int = 0

    def cycles(self, config: HardwareConfig) -> float:
        """The slowest resource's cycles: each level's bytes over its ports x width, DRAM's over its bandwidth."""
        times = [0.0]
        for lv in set(self.sram_read) | set(self.sram_write):
            spec = config.sram[lv]
            per_cycle = spec.width_bytes * spec.ports
            times.append((self.sram_read.get(lv, 0) + self.sram_write.get(lv, 0)) / per_cycle)
        times.append((self.dram_read + self.dram_write) / config.dram.bandwidth_bytes_per_cycle)
        return max(times)


def rewiring_work(config: HardwareConfig, header: TraceHeader, placement: Placement,
                  changes: list[MaskChange]) -> RewiringWork:
    work = RewiringWork(events=len({c.step for c in changes}), records=len(changes))
    word = config.pe_array.word_bytes
    nnz = {name: p.nnz for name, p in header.patterns.items()}
    for change in sorted(changes, key=lambda c: c.step):  # the order they take effect in
        nnz[change.pattern] += change.added.size - change.removed.size
        of_weights = False
        for ti, t in enumerate(header.tensors):
            if t.pattern != change.pattern or not (t.kind == "weights" or t.compact):
                continue
            level = placement.chain[ti][-1]
            fmt = storage_format(config, header, ti, level)
            rows, cols = t.shape
            meta = 0
            if fmt.type != "uncompressed":
                meta = -(-stored(fmt.type, rows, cols, nnz[t.pattern], 0, fmt.run_bits).metadata_bits // 8)
            # weights: the changed values too; a compact tensor of per-step values (e.g. the
            # Jacobian's, pattern G): only its index, its values are recomputed every step
            values = int(round((change.removed.size + change.added.size) * word)) if t.kind == "weights" else 0
            of_weights |= t.kind == "weights"
            _add(work, placement, ti, meta, values + meta)
        if of_weights:  # grown weights' influence columns start at zero (a G record grows no parameter)
            for ti in _column_tensors(header):
                _add(work, placement, ti, 0, int(round(header.tensors[ti].shape[0] * change.added.size * word)))
    return work


def _column_tensors(header: TraceHeader) -> list[int]:
    """The tensors holding one column per influence column (the influence matrix, its gradient)."""
    p = header.n_influence_columns
    return [i for i, t in enumerate(header.tensors) if p and t.kind in ("influence", "gradients") and t.shape[1] == p]


def _add(work: RewiringWork, placement: Placement, ti: int, read: int, write: int) -> None:
    """Bytes read / written of tensor ``ti`` where it is stored (DRAM if it spilled)."""
    if ti in placement.spilled:
        work.dram_read += read
        work.dram_write += write
    else:
        level = placement.chain[ti][-1]
        work.sram_read[level] = work.sram_read.get(level, 0) + read
        work.sram_write[level] = work.sram_write.get(level, 0) + write
