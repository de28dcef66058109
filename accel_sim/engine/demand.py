"""What each op asks of the hardware (SCALE-Sim's *demand*): cycles on the PE array, bytes at each
SRAM level, DRAM bytes, index work, interconnect bytes and energy by component. Vectorised over a
batch of ops; the engines (L0/L1/L2) only decide *when* that work happens.

Per op kind (lanes = PEs x macs_per_cycle, or ``mapping.vector_lanes``):

* gemm: the systolic closed forms of :mod:`accel_sim.engine.dataflow`; the operands' SRAM
  traffic is the dataflow's (re-reads included), charged to ``mapping.gemm_roles`` levels (or the
  tensors' own levels). Operand A/B/C are recognised by their byte counts (m*k, k*n, m*n words).
* spmm: ``none``/``gating`` run it as a dense gemm of (m, k, n) and fetch the zeros of the sparse
  operand too; ``gating`` charges zero MACs ``gated_mac_energy_fraction`` of a MAC; ``skipping``
  runs only the non-zero MACs (ceil(macs / lanes) cycles) and decodes the trace's indices.
* elementwise / reduction / scatter: ceil(ops / vector lanes) cycles; gather / index_decode: none.
* index work (index_count, except spmm without skipping) runs on the index units
  (index_count / (count x indices_per_cycle) cycles) or, with ``count: 0``, on one PE.
* other tensors' SRAM traffic is the trace's bytes (scaled to the hardware word) at their level.

The compute stage of an op lasts max(array cycles, each level's bytes / port bandwidth,
interconnect bytes / bandwidth). SRAM energy = ceil(bytes / width) accesses x energy per access.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.dataflow import gemm_cost
from accel_sim.engine.placement import Placement, trace_word_bytes
from accel_sim.trace.schema import OP_KINDS, READ_COLUMNS, TENSORS, WRITE_COLUMNS, TraceHeader

KIND = {k: i for i, k in enumerate(OP_KINDS)}
A_PREFERENCE = ("weights", "activations", "state", "input", "gradients", "history", "influence")
B_PREFERENCE = ("influence", "input", "state", "activations", "weights", "gradients", "history")
C_PREFERENCE = ("activations", "gradients", "state", "influence", "history", "weights", "input")
ENERGY_PARTS = ("mac", "register", "sram", "dram", "index", "interconnect")


@dataclass
class Demand:
    """Per-op arrays of one batch (length n_ops). Cycles are float64 (clock cycles), bytes int64,
    energies float64 pJ (``energy`` by component, ``sram_energy`` by level)."""

    step: np.ndarray
    label: np.ndarray
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
        self.trace_wb = trace_word_bytes(header)
        self.hw_wb = config.pe_array.word_bytes
        pe = config.pe_array
        self.lanes = pe.n_pes * pe.macs_per_cycle
        self.vector_lanes = (config.mapping.vector_lanes or pe.n_pes) * pe.macs_per_cycle

    def _scale(self, trace_bytes: np.ndarray) -> np.ndarray:
        if self.hw_wb == self.trace_wb:
            return trace_bytes.astype(np.int64, copy=False)
        if not trace_bytes.any():  # tensors an op does not touch (most ops touch two or three)
            return np.zeros(trace_bytes.shape[0], np.int64)
        scaled = trace_bytes * (self.hw_wb / self.trace_wb)
        return np.rint(scaled, out=scaled).astype(np.int64)

    def hw_bytes(self, ops: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        reads = {t: self._scale(ops[c]) for t, c in zip(TENSORS, READ_COLUMNS)}
        writes = {t: self._scale(ops[c]) for t, c in zip(TENSORS, WRITE_COLUMNS)}
        return reads, writes

    def demand(self, ops: dict[str, np.ndarray], placement: Placement) -> Demand:
        cfg, pe = self.config, self.config.pe_array
        kind, m, k, n = ops["kind"], ops["m"], ops["k"], ops["n"]
        nnz, macs, idx = ops["nnz"], ops["macs"], ops["index_count"]
        n_ops = kind.shape[0]
        reads, writes = self.hw_bytes(ops)
        placement.observe(reads, writes)
        skipping = cfg.sparsity.handling == "skipping"

        is_gemm = kind == KIND["gemm"]
        is_spmm = kind == KIND["spmm"]
        dense_spmm = is_spmm & (not skipping)
        on_fold_model = is_gemm | dense_spmm

        # ---- PE-array cycles and MACs
        gc = gemm_cost(m, k, n, pe.rows, pe.cols, pe.dataflow, pe.fold_overlap, pe.macs_per_cycle)
        vec_ops = np.zeros(n_ops, np.int64)
        ew = kind == KIND["elementwise"]
        vec_ops[ew] = np.where(macs[ew] > 0, macs[ew], m[ew] * n[ew])
        red = kind == KIND["reduction"]
        vec_ops[red] = np.where(macs[red] > 0, macs[red], m[red] * k[red])
        sc = kind == KIND["scatter"]
        vec_ops[sc] = np.maximum(macs[sc], nnz[sc])
        array_cycles = np.where(on_fold_model, gc.cycles, _ceil_div(vec_ops, self.vector_lanes)).astype(np.float64)
        if skipping:
            array_cycles[is_spmm] = _ceil_div(macs[is_spmm], self.lanes)
        dense_macs = m * k * n
        macs_executed = np.where(on_fold_model, dense_macs, np.where(is_spmm, macs, vec_ops))
        macs_effective = macs.astype(np.int64)

        # ---- index work
        index_count = np.where(dense_spmm, 0, idx).astype(np.int64)
        iu = cfg.index_units
        if iu.count > 0:
            index_cycles = index_count / (iu.count * iu.indices_per_cycle)
            index_energy = index_count * iu.energy_pj_per_index
        else:  # no index hardware: one PE decodes one index per cycle
            array_cycles = array_cycles + index_count
            index_cycles = np.zeros(n_ops)
            index_energy = index_count * pe.mac_energy_pj

        # ---- SRAM traffic
        sram_read = {lv: np.zeros(n_ops, np.int64) for lv in cfg.sram}
        sram_write = {lv: np.zeros(n_ops, np.int64) for lv in cfg.sram}
        plain_r, plain_w = dict(reads), dict(writes)  # replaced, never changed in place
        self._gemm_roles(ops, is_gemm, gc, reads, writes, plain_r, plain_w, sram_read, sram_write)
        if dense_spmm.any():  # zeros of the sparse operand are fetched too
            zeros = np.where(dense_spmm, np.maximum(m * k - nnz, 0), 0) * self.hw_wb
            owner = _pick(A_PREFERENCE, lambda t: dense_spmm & (reads[t] > 0), n_ops)
            for t in TENSORS:
                plain_r[t] = plain_r[t] + np.where(owner == TENSORS.index(t), zeros, 0).astype(np.int64)
        for t in TENSORS:
            level = cfg.placement(t).level
            sram_read[level] += plain_r[t]
            sram_write[level] += plain_w[t]

        # ---- ports, interconnect, compute stage
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
        dram_r, dram_w, spill, fill, drain = placement.dram_traffic(ops["step"], reads, writes)

        # ---- energy
        e_mac = pe.mac_energy_pj
        if cfg.sparsity.handling == "none":
            mac_energy = macs_executed * e_mac
            reg_macs = macs_executed
        else:
            gated = np.maximum(macs_executed - macs_effective, 0)
            mac_energy = macs_effective * e_mac + gated * e_mac * pe.gated_mac_energy_fraction
            reg_macs = macs_effective
        outputs = np.where(is_gemm | is_spmm, m * n, 0)
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
            step=ops["step"], label=ops["label"], array_cycles=array_cycles, compute_cycles=compute,
            sram_port_cycles=port, level_port_cycles=level_port, interconnect_cycles=ic_cycles, index_cycles=index_cycles,
            dram_read_bytes=dram_r, dram_write_bytes=dram_w, dram_spill_bytes=spill,
            index_count=index_count, interconnect_bytes=ic_bytes, macs_effective=macs_effective,
            macs_executed=macs_executed.astype(np.int64), sram_read=sram_read, sram_write=sram_write,
            energy=energy, sram_energy=sram_energy,
        )

    def _gemm_roles(self, ops, is_gemm, gc, reads, writes, plain_r, plain_w, sram_read, sram_write) -> None:
        """Replace the trace bytes of recognised GEMM operands by the dataflow's traffic (works on
        the GEMM ops only; ``plain_*`` entries are replaced by copies, never changed in place)."""
        g = np.flatnonzero(is_gemm)
        if g.size == 0:
            return
        twb, wb = self.trace_wb, self.hw_wb
        m, k, n = ops["m"][g], ops["k"][g], ops["n"][g]
        raw_r = {t: ops[c][g] for t, c in zip(TENSORS, READ_COLUMNS)}
        raw_w = {t: ops[c][g] for t, c in zip(TENSORS, WRITE_COLUMNS)}
        a_bytes, b_bytes, c_bytes = m * k * twb, k * n * twb, m * n * twb
        a = _pick(A_PREFERENCE, lambda t: raw_r[t] == a_bytes, g.size)
        b = _pick(B_PREFERENCE, lambda t: (raw_r[t] == b_bytes) & (a != TENSORS.index(t)), g.size)
        c = _pick(C_PREFERENCE, lambda t: raw_w[t] == c_bytes, g.size)
        roles = self.config.mapping.gemm_roles
        for choice, role, words, plain, target in (
            (a, "a", gc.a_read_words, plain_r, sram_read),
            (b, "b", gc.b_read_words, plain_r, sram_read),
            (c, "c", gc.c_write_words, plain_w, sram_write),
        ):
            for i, t in enumerate(TENSORS):
                hit = choice == i
                if not hit.any():
                    continue
                rows = g[hit]
                plain[t] = plain[t].copy()
                plain[t][rows] = 0
                level = getattr(roles, role) if roles is not None else self.config.placement(t).level
                target[level][rows] += np.rint(words[rows] * wb).astype(np.int64)
                if role == "c":  # partial sums read back (ws / is)
                    sram_read[level][rows] += np.rint(gc.c_read_words[rows] * wb).astype(np.int64)


def _pick(preference, matches, n_ops: int) -> np.ndarray:
    """Per op: index into TENSORS of the first tensor in ``preference`` that ``matches`` (-1: none)."""
    out = np.full(n_ops, -1, np.int64)
    for t in preference:
        out[matches(t) & (out < 0)] = TENSORS.index(t)
    return out
