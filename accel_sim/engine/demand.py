"""What each op asks of the hardware (SCALE-Sim's *demand*): cycles on the PE array, bytes at each
SRAM level, DRAM bytes, index work, interconnect bytes and energy by component. Vectorised over a
batch of ops; the engines (L0/L1/L2) only decide *when* that work happens.

The work itself comes from the trace (``accel_sim.trace.work``: every op's dense and effectual
operations and its operands' domains); the config's ``sparsity.handling`` decides what happens to
the zeros (lanes = PEs x macs_per_cycle, or ``mapping.vector_lanes`` for non-matmul ops):

* ``none``: every element is fetched and processed (dense work); matmuls run on the systolic
  closed forms of :mod:`accel_sim.engine.dataflow`, whose operand traffic (re-reads included)
  goes to the operands' levels (or ``mapping.gemm_roles``);
* ``gating``: the same cycles and fetches, but a zero operand gates the multiplier: ineffectual
  MACs cost ``gated_mac_energy_fraction`` of a MAC;
* ``skipping``: only effectual work runs and only non-zeros are fetched; a matmul with zeros takes
  ceil(effectual / lanes) cycles (a dense one stays on the systolic closed form), and the index
  units decode the coordinates of every structured operand's non-zeros.

Index units also decode the members of per-step slicing sets (the active set) and the sets an
index_decode produces: index_count / (count x indices_per_cycle) cycles, or one index per cycle
on one PE with ``count: 0``. Other ops take ceil(work / vector lanes) cycles. Outputs are written
once (read first when the op accumulates). The compute stage of an op lasts max(array cycles,
each level's bytes / port bandwidth, interconnect bytes / bandwidth). SRAM energy =
ceil(bytes / width) accesses x energy per access.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.dataflow import gemm_cost
from accel_sim.engine.placement import Placement
from accel_sim.trace.header import OP_KINDS, TraceHeader
from accel_sim.trace.work import ROLE_A, ROLE_B, ROLE_Z, WorkModel

ENERGY_PARTS = ("mac", "register", "sram", "dram", "index", "interconnect")
_MATMUL = (OP_KINDS.index("gemm"), OP_KINDS.index("spmm"))
_SCATTER_LIKE = (OP_KINDS.index("scatter"), OP_KINDS.index("gather"))


@dataclass
class Demand:
    """Per-op arrays of one batch (length n_ops). Cycles are float64 (clock cycles), bytes int64,
    energies float64 pJ (``energy`` by component, ``sram_energy`` by level). ``label``: codes
    into ``label_names``."""

    step: np.ndarray
    label: np.ndarray
    label_names: tuple[str, ...]
    array_cycles: np.ndarray
    compute_cycles: np.ndarray  # stage duration: max(array, SRAM ports, interconnect)
    sram_port_cycles: np.ndarray  # the slowest level's port time
    level_port_cycles: dict[str, np.ndarray]  # each SRAM level's port time for the op's own accesses
    interconnect_cycles: np.ndarray
    index_cycles: np.ndarray
    dram_read_bytes: np.ndarray
    dram_write_bytes: np.ndarray
    dram_spill_bytes: np.ndarray
    index_count: np.ndarray
    interconnect_bytes: np.ndarray
    macs_effective: np.ndarray
    macs_executed: np.ndarray
    sram_read: dict[str, np.ndarray]
    sram_write: dict[str, np.ndarray]
    energy: dict[str, np.ndarray]
    sram_energy: dict[str, np.ndarray]

    @property
    def n_ops(self) -> int:
        return int(self.step.shape[0])

    def energy_total(self) -> np.ndarray:
        return sum(self.energy.values())


def _ceil_div(a, b):
    return -(-np.asarray(a) // b)


class Costing:
    """Turns batches of trace ops into :class:`Demand` for one config and trace header."""

    def __init__(self, config: HardwareConfig, header: TraceHeader) -> None:
        self.config = config
        self.header = header
        self.work = WorkModel(header)
        self.labels = header.labels
        pe = config.pe_array
        self.hw_wb = pe.word_bytes
        self._integer_word = float(self.hw_wb).is_integer()
        self._word_int = int(self.hw_wb)
        self.lanes = pe.n_pes * pe.macs_per_cycle
        self.vector_lanes = (config.mapping.vector_lanes or pe.n_pes) * pe.macs_per_cycle
        self.levels = tuple(config.sram)
        #: per tensor (header order): index of its SRAM level
        self.tensor_level = np.array([self.levels.index(config.placement(t.kind).level) for t in header.tensors],
                                     np.int64)

    def demand(self, step_ids: np.ndarray, set_bits: np.ndarray, ops: dict[str, np.ndarray],
               placement: Placement) -> Demand:
        cfg, pe = self.config, self.config.pe_array
        w = self.work.batch(step_ids, set_bits, ops)
        n_ops = w.n_ops
        skipping = cfg.sparsity.handling == "skipping"
        is_mm = np.isin(w.kind, _MATMUL)

        # ---- work and PE-array cycles
        executed = w.effectual if skipping else w.dense
        systolic = is_mm & ~(skipping & (w.effectual < w.dense))
        gc = gemm_cost(w.m, w.k, w.n, pe.rows, pe.cols, pe.dataflow, pe.fold_overlap, pe.macs_per_cycle)
        array_cycles = np.where(systolic, gc.cycles,
                                _ceil_div(executed, np.where(is_mm, self.lanes, self.vector_lanes))).astype(np.float64)

        # ---- index work
        index_count = w.index_count.copy()
        if skipping:  # the coordinates of every structured operand's non-zeros
            for part in w.parts:
                if part.role != ROLE_Z and part.structured:
                    index_count[part.rows] += part.nonzero
        iu = cfg.index_units
        if iu.count > 0:
            index_cycles = index_count / (iu.count * iu.indices_per_cycle)
            index_energy = index_count * iu.energy_pj_per_index
        else:  # no index hardware: one PE decodes one index per cycle
            array_cycles = array_cycles + index_count
            index_cycles = np.zeros(n_ops)
            index_energy = index_count * pe.mac_energy_pj

        # ---- operand traffic: bytes per SRAM level and per DRAM-bound tensor
        per_op = executed // w.per_element  # elements the op processed
        n_levels, n_dram = len(self.levels), len(placement.dram_tensors)
        sram_r, sram_w = np.zeros((n_levels, n_ops), np.int64), np.zeros((n_levels, n_ops), np.int64)
        dram_r_by, dram_w_by = np.zeros((n_dram, n_ops), np.int64), np.zeros((n_dram, n_ops), np.int64)
        roles = self.config.mapping.gemm_roles
        for part in w.parts:
            rows = part.rows
            first = rows[0]
            op_kind = w.kind[first]
            elems = part.nonzero if skipping else part.dense
            if part.role != ROLE_Z:
                read, write = elems, None
            else:
                write = per_op[rows] if op_kind in _SCATTER_LIKE else elems
                read = write if w.accumulate[first] else None
            level, role_level, on = self.tensor_level[part.tensor], None, None
            if op_kind in _MATMUL:  # on the systolic array: the dataflow's traffic, re-reads included
                on = systolic[rows]
                if on.any():
                    read, write = self._dataflow(part.role, gc, w, rows, on, read, write)
                    if roles is not None:
                        role_level = self.levels.index(getattr(roles, "abc"[part.role]))
            slot = placement.dram_slot[part.tensor]
            for words, sram, dram in ((read, sram_r, dram_r_by), (write, sram_w, dram_w_by)):
                if words is None:
                    continue
                nbytes = self._bytes(words)
                if role_level is None:  # rows are distinct within a part: plain fancy-index adds
                    sram[level, rows] += nbytes
                else:
                    nbytes = np.broadcast_to(nbytes, rows.shape)
                    sram[role_level, rows[on]] += nbytes[on]
                    sram[level, rows[~on]] += nbytes[~on]
                if slot >= 0:
                    dram[slot, rows] += nbytes
        sram_read = dict(zip(self.levels, sram_r))
        sram_write = dict(zip(self.levels, sram_w))
        level_port = {}
        ic_bytes = np.zeros(n_ops, np.int64)
        for lv, spec in cfg.sram.items():
            traffic = sram_read[lv] + sram_write[lv]
            level_port[lv] = traffic / cfg.level_bandwidth_bytes_per_cycle(lv)
            if spec.scope == "shared":
                ic_bytes += traffic
        port = np.max(np.stack(list(level_port.values())), axis=0) if level_port else np.zeros(n_ops)
        ic_cycles = ic_bytes / cfg.interconnect.bytes_per_cycle
        compute = np.maximum(np.maximum(array_cycles, port), ic_cycles)

        # ---- DRAM (residency) and fills/drains
        reads = dict(zip(placement.dram_tensors, dram_r_by))
        writes = dict(zip(placement.dram_tensors, dram_w_by))
        dram_r, dram_w, spill, fill, drain = placement.dram_traffic(w.step, reads, writes)

        # ---- energy
        e_mac = pe.mac_energy_pj
        macs_effective = w.effectual.astype(np.int64)
        if cfg.sparsity.handling == "none":
            mac_energy = executed * e_mac
            reg_macs = executed
        else:
            gated = np.maximum(executed - macs_effective, 0)
            mac_energy = macs_effective * e_mac + gated * e_mac * pe.gated_mac_energy_fraction
            reg_macs = macs_effective
        outputs = np.where(is_mm, w.m * w.n, 0)
        sram_energy = {}
        for lv, spec in cfg.sram.items():
            r_acc = _ceil_div(sram_read[lv], spec.width_bytes) + _ceil_div(drain[lv], spec.width_bytes)
            w_acc = _ceil_div(sram_write[lv], spec.width_bytes) + _ceil_div(fill[lv], spec.width_bytes)
            sram_energy[lv] = r_acc * spec.read_energy_pj + w_acc * spec.write_energy_pj
            sram_read[lv] = sram_read[lv] + drain[lv]
            sram_write[lv] = sram_write[lv] + fill[lv]
        energy = {
            "mac": mac_energy.astype(np.float64),
            "register": (2 * reg_macs + outputs) * pe.register_energy_pj,
            "sram": sum(sram_energy.values()),
            "dram": (dram_r + dram_w) * 8.0 * cfg.dram.energy_pj_per_bit,
            "index": index_energy.astype(np.float64),
            "interconnect": ic_bytes * cfg.interconnect.energy_pj_per_byte,
        }
        return Demand(
            step=w.step, label=w.label, label_names=self.labels, array_cycles=array_cycles, compute_cycles=compute,
            sram_port_cycles=port, level_port_cycles=level_port, interconnect_cycles=ic_cycles, index_cycles=index_cycles,
            dram_read_bytes=dram_r, dram_write_bytes=dram_w, dram_spill_bytes=spill,
            index_count=index_count, interconnect_bytes=ic_bytes, macs_effective=macs_effective,
            macs_executed=executed.astype(np.int64), sram_read=sram_read, sram_write=sram_write,
            energy=energy, sram_energy=sram_energy,
        )

    def _bytes(self, words) -> np.ndarray:
        """Hardware bytes of ``words`` elements (int64; rounded for sub-byte words)."""
        if self._integer_word:
            return words * self._word_int
        return np.rint(np.asarray(words, np.float64) * self.hw_wb).astype(np.int64)

    @staticmethod
    def _dataflow(role: int, gc, w, rows: np.ndarray, on: np.ndarray, read, write):
        """(read, write) elements of one matmul operand part, with the dataflow's word counts where
        the op runs on the systolic array (``on``): operand re-reads, partial sums written and read
        back (ws / is), and the old output read when the op accumulates."""
        read = np.zeros(rows.shape, np.int64) if read is None else np.array(np.broadcast_to(read, rows.shape))
        write = np.zeros(rows.shape, np.int64) if write is None else np.array(np.broadcast_to(write, rows.shape))
        r = rows[on]
        if role == ROLE_A:
            read[on] = gc.a_read_words[r]
        elif role == ROLE_B:
            read[on] = gc.b_read_words[r]
        else:
            write[on] = gc.c_write_words[r]
            read[on] = gc.c_read_words[r] + np.where(w.accumulate[r], w.m[r] * w.n[r], 0)
        return read, write
