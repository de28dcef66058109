"""What each op asks of the hardware (SCALE-Sim's *demand*): PE-array cycles, index work, action
counts per component (MACs, gated MACs, accesses and metadata words per storage level, DRAM bits,
interconnect bytes) and their energies from the components' table. Vectorised over a batch of
ops; the engines (L0/L1/L2) only decide *when* the work happens.

From the trace (``accel_sim.trace.work``) each op has its dense work D (matmul: m x k x n pairs),
the pairs where A, B or both are non-zero, and each operand's domain and non-zeros; from the
config (``accel_sim.hardware.actions``) each operand's level, format and the roles whose zeros
skip or gate it. Then, per op:

* **MACs**: executed = the pairs surviving the skip conditions; of those, the ones also surviving
  the gate conditions are actual, the rest gated (``gated_mac``). A matmul that executes all of D
  runs on the systolic closed forms (``accel_sim.engine.dataflow``); one that skips takes
  ceil(executed / lanes) cycles; other ops ceil(executed / vector lanes).
* **Accesses** of each operand part at its innermost level: a base count — for a matmul the
  dataflow's words (operand re-reads per fold, partial sums), whether it skips or not, shared among
  a role's parts by their size; other ops their domain's elements; for a matmul output without
  ``pe_array.output_register``, one update per MAC and one read per update but the first of each
  output (the chance an output gets no update is hypergeometric) — times the fraction that survives: its own non-zero fraction when its
  format is compressed, and for each conditioning role Y, the chance that one of the r MACs the
  access serves has Y non-zero, 1 - (1 - rho_Y)^r (exact when r = 1, the expected value for
  uniformly spread zeros otherwise). Skipped accesses cost nothing and take no time; gated ones
  cost the level's residual energy but keep their port and interconnect slots, and their data is
  still brought on chip (gating saves energy, never cycles).
* **Metadata**: a compressed operand moves one coordinate (or run field) per stored entry fetched,
  or its bitmap (a bit per element), in accesses of the level's ``metadata_width_bits`` (default: its
  width); the index units decode one coordinate per
  stored entry read, and the members of per-step slicing sets.
* **Output accumulation** on the systolic path follows the dataflow (partial sums per K-fold);
  an accumulating op reads its old output once.
* Traffic beyond the innermost level (fills, drains, DRAM) is the placement's
  (``accel_sim.engine.placement``). SRAM accesses = ceil(bytes / width); the compute stage of an
  op lasts max(array cycles, each level's bytes / port bandwidth, interconnect bytes / bandwidth),
  each level's port time stretched by the bank conflicts of the rows / columns its parts touch
  (``accel_sim.engine.banks``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import gammaln

from accel_sim.config.schema import HardwareConfig
from accel_sim.engine.banks import BankModel
from accel_sim.engine.dataflow import gemm_cost
from accel_sim.engine.placement import Placement
from accel_sim.hardware.actions import OpPlan, PartPlan, plan
from accel_sim.hardware.components import build_components
from accel_sim.hardware.formats import bits_for, rle_padding
from accel_sim.trace.header import MATMUL_KINDS, OP_KINDS, TraceHeader, static_entries
from accel_sim.trace.schema import MaskChange
from accel_sim.trace.work import ROLE_A, ROLE_B, ROLE_Z, OpWork, PartWork, Spread, WorkModel

#: Energy by component kind, as results and sweeps report it.
ENERGY_PARTS = ("mac", "register", "sram", "dram", "index", "interconnect")
_MATMUL = (OP_KINDS.index("gemm"), OP_KINDS.index("spmm"))
_SCATTER_LIKE = (OP_KINDS.index("scatter"), OP_KINDS.index("gather"))
ACCESS_STATES = ("actual", "gated", "skipped")


@dataclass
class Demand:
    """Per-op arrays of one batch (length n_ops). Cycles are float64 (clock cycles), bytes int64,
    energies float64 pJ: ``energy`` by component kind (ENERGY_PARTS), ``action_energy`` by
    (component, action), ``sram_energy`` by level. ``label``: codes into ``label_names``.
    ``accesses``: (tensor, level, "read" | "write" | "metadata_read" | "metadata_write") ->
    [actual, gated, skipped] elements (metadata: accesses) over the batch; ``metadata_bytes``: metadata moved at the innermost levels."""

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
    action_energy: dict[tuple[str, str], np.ndarray] | None = None
    accesses: dict[tuple[str, str, str], np.ndarray] | None = None
    metadata_bytes: np.ndarray | None = None
    macs_gated: np.ndarray | None = None
    imbalance_cycles: np.ndarray | None = None  # array cycles beyond an even split over the PEs
    pe_busiest: np.ndarray | None = None  # MACs of the busiest PE (ops spread by the mapping; else 0)
    pe_mean: np.ndarray | None = None  # MACs per PE of an even split (same ops; else 0)
    bank_conflict_cycles: np.ndarray | None = None  # compute-stage cycles added by SRAM bank conflicts
    port_bytes: np.ndarray | None = None  # bytes through the SRAM ports (all levels; gated and fills too)

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
        self.hardware = build_components(config)
        self.work = WorkModel(header)
        self.plans = plan(config, header)
        self.padding = self._rle_padding()
        self.spread = self._spreads()
        self.banks = BankModel(config, header, self.plans, self.work)
        self.labels = header.labels
        pe = config.pe_array
        self.hw_wb = float(pe.word_bytes)
        self.lanes = pe.n_pes * pe.macs_per_cycle
        self.vector_lanes = (config.mapping.vector_lanes or pe.n_pes) * pe.macs_per_cycle
        self.levels = tuple(config.sram)
        self.names = tuple(t.name for t in header.tensors)

    def _spreads(self) -> dict[int, Spread]:
        """How each matmul that skips spreads its MACs over the PEs (``mapping.distribution``)."""
        out = {}
        for oid, (op, p) in enumerate(zip(self.header.ops, self.plans)):
            how = self.config.distribution_for(op.label, op.kind)
            skip = p.compute_skip & {ROLE_A, ROLE_B}
            if op.kind in MATMUL_KINDS and skip and how != "balanced":
                if how == "auto":  # the output's longer side, interleaved
                    z = op.z[0]
                    rows, cols = self.header.tensor(z.tensor).shape[::-1 if z.transpose else 1]
                    how = "rows_interleaved" if rows >= cols else "cols_interleaved"
                axis, order = how.split("_")
                out[oid] = Spread(axis, self.config.pe_array.n_pes, order == "interleaved", frozenset(skip))
        return out

    def apply(self, changes: list[MaskChange]) -> None:
        """Mask-change records that take effect before the next batch (``accel_sim.trace.masks``):
        the work model and the run-length padding follow the changed patterns."""
        for change in changes:
            self.work.apply(change)
        if changes:  # only run-length parts are looked at
            self.padding = self._rle_padding(replace(self.header, patterns=dict(self.work.patterns)))

    def _rle_padding(self, header: TraceHeader | None = None) -> dict[tuple[int, int], float]:
        """{(op, part): padding entries per stored non-zero} of the parts stored run-length coded:
        a zero run longer than the field holds forces padding entries, which are fetched and
        multiplied like data (formats.rle_padding, on the tensor's static pattern: ``header``'s,
        by default the trace's)."""
        header = header or self.header
        out = {}
        for oid, op_plan in enumerate(self.plans):
            for k, pp in enumerate(op_plan.parts):
                if pp.fmt.type != "rle":
                    continue
                t = header.tensors[pp.tensor]
                entries = static_entries(header, t)
                if entries is None or entries[0].size == 0:
                    continue
                pad = rle_padding(entries[0] * t.shape[1] + entries[1], pp.fmt.run_bits)
                if pad:
                    out[(oid, k)] = pad / entries[0].size
        return out

    def _padded(self, oid: int, parts: list[PartWork]) -> list[PartWork]:
        """``parts`` with each run-length part's non-zeros grown by its padding entries."""
        return [replace(p, nonzero=np.minimum(p.dense, p.nonzero * (1.0 + self.padding[(oid, k)])))
                if (oid, k) in self.padding else p for k, p in enumerate(parts)]

    # ------------------------------------------------------------------ per batch

    def demand(self, step_ids: np.ndarray, set_bits: np.ndarray, ops: dict[str, np.ndarray],
               placement: Placement) -> Demand:
        cfg, pe, hw = self.config, self.config.pe_array, self.hardware
        w = self.work.batch(step_ids, set_bits, ops, self.spread)
        n_ops = w.n_ops
        if self.banks.parts:  # the step's index sets, for the banks the gathered rows / columns hit
            self.banks.begin(self.work._masks(set_bits), step_ids.shape[0])
            step_of = np.searchsorted(step_ids, w.step)
        is_mm = np.isin(w.kind, _MATMUL)
        gc = gemm_cost(w.m, w.k, w.n, pe.rows, pe.cols, pe.dataflow, pe.fold_overlap, pe.macs_per_cycle)
        by_op: dict[int, list[PartWork]] = {}
        for part in w.parts:
            by_op.setdefault(part.op, []).append(part)

        # ---- MACs: executed (surviving skips), actual (surviving gates too), gated
        executed = w.dense.astype(np.float64)
        actual = executed.copy()
        pairs_cache = {}
        for oid in list(by_op):
            if any((oid, k) in self.padding for k in range(len(by_op[oid]))):
                ratios = [1.0 + self.padding.get((oid, k), 0.0) for k in range(len(by_op[oid]))]
                by_op[oid] = self._padded(oid, by_op[oid])
            else:
                ratios = None
            parts = by_op[oid]
            rows, p = parts[0].rows, self.plans[oid]
            pairs = pairs_cache[oid] = _Pairs(w, rows, parts)
            if ratios is not None:
                pairs.pad({part.role: r for part, r in zip(parts, ratios)})
            executed[rows] = pairs.computes(p.compute_skip)
            actual[rows] = pairs.computes(p.compute_skip | p.compute_gate)
        gated = executed - actual
        systolic = is_mm & (executed >= w.dense)
        balanced = _ceil_div(np.ceil(executed), np.where(is_mm, self.lanes, self.vector_lanes)).astype(np.float64)
        array_cycles = np.where(systolic, gc.cycles, balanced).astype(np.float64)
        # spread over the PEs by the mapping: the busiest PE's MACs, the scale pass evenly
        spread = ~systolic & (w.busiest >= 0)
        imbalance = np.zeros(n_ops)
        pe_mean = np.zeros(n_ops)
        if spread.any():
            scale = w.scale_effectual.astype(np.float64)  # a skipping op scales z's non-zeros
            pairs_exec = executed - scale
            spread_cycles = (_ceil_div(np.ceil(w.busiest), pe.macs_per_cycle)
                             + _ceil_div(np.ceil(scale), self.lanes)).astype(np.float64)
            array_cycles = np.where(spread, np.maximum(spread_cycles, balanced), array_cycles)
            imbalance = np.where(spread, array_cycles - balanced, 0.0)
            pe_mean = np.where(spread, pairs_exec / pe.n_pes, 0.0)

        # ---- accesses at the innermost levels, metadata, index work
        n_levels = len(self.levels)
        acc = _Accounts(n_levels, n_ops)
        index_count = w.index_count.astype(np.float64)
        moving = set(placement.moving)
        inner_r = {t: np.zeros(n_ops) for t in moving}
        inner_w = {t: np.zeros(n_ops) for t in moving}
        accesses: dict[tuple[str, str, str], np.ndarray] = {}
        for oid, parts in by_op.items():
            op_plan, pairs = self.plans[oid], pairs_cache[oid]
            for k_part, (part, pp) in enumerate(zip(parts, op_plan.parts)):
                read, write, meta_r, meta_w = self._part_accesses(w, gc, systolic, part, pp, pairs, executed)
                lv = self.levels.index(pp.level)
                rows = part.rows
                factor = None
                if (oid, k_part) in self.banks.parts:
                    factor = self.banks.factors(oid, k_part, step_of[rows])
                width = cfg.sram[pp.level].width_bytes
                meta_width = cfg.sram[pp.level].metadata_width_bits or 8 * width
                for states, direction, meta in ((read, "read", meta_r), (write, "write", meta_w)):
                    if states is None:
                        continue
                    act, gat, skp = states
                    data_b = act * self.hw_wb
                    acc.data(direction, lv, rows, data_b, gat * self.hw_wb, width)
                    if factor is not None:  # a conflicting bank serialises: port slots beyond a balanced spread
                        acc.conflict[lv, rows] += (factor - 1.0) * (act + gat) * self.hw_wb
                    if meta is not None:  # metadata accesses of the level's metadata width
                        acc.metadata(direction, lv, rows, np.ceil(meta / meta_width), meta / 8.0)
                        if direction == "read":  # each stored entry fetched (gated too) has its coordinate decoded
                            index_count[rows] += act + gat
                    key = (self.names[part.tensor], pp.level, direction)
                    accesses[key] = accesses.get(key, 0) + np.array([act.sum(), gat.sum(), skp.sum()])
                    if meta is not None:
                        key = (self.names[part.tensor], pp.level, "metadata_" + direction)
                        accesses[key] = accesses.get(key, 0) + np.array([np.ceil(meta / meta_width).sum(), 0.0, 0.0])
                    if part.tensor in moving:  # gated accesses still need their data on chip
                        total_b = (act + gat) * self.hw_wb + (0 if meta is None else meta / 8.0)
                        (inner_r if direction == "read" else inner_w)[part.tensor][rows] += total_b
        index_count = np.ceil(index_count)

        # ---- traffic beyond the innermost levels
        dram_r, dram_w, spill, extra_r, extra_w = placement.traffic(
            w.step, {t: np.rint(v).astype(np.int64) for t, v in inner_r.items()},
            {t: np.rint(v).astype(np.int64) for t, v in inner_w.items()})
        for lv_name in self.levels:
            lv = self.levels.index(lv_name)
            width = cfg.sram[lv_name].width_bytes
            acc.data("read", lv, slice(None), extra_r[lv_name].astype(np.float64), 0.0, width)
            acc.data("write", lv, slice(None), extra_w[lv_name].astype(np.float64), 0.0, width)

        # ---- ports, interconnect, index units, compute stage
        sram_read = {lv: np.rint(acc.bytes["read"][i]).astype(np.int64) for i, lv in enumerate(self.levels)}
        sram_write = {lv: np.rint(acc.bytes["write"][i]).astype(np.int64) for i, lv in enumerate(self.levels)}
        level_port, ic_bytes, ic_slots = {}, np.zeros(n_ops, np.int64), np.zeros(n_ops)
        free_port = np.zeros(n_ops)  # the slowest level's port time without bank conflicts
        for i, (lv, spec) in enumerate(cfg.sram.items()):
            bw_lv = cfg.level_bandwidth_bytes_per_cycle(lv)
            level_port[lv] = (acc.port_bytes[i] + acc.conflict[i]) / bw_lv
            free_port = np.maximum(free_port, acc.port_bytes[i] / bw_lv)
            if spec.scope == "shared":
                ic_bytes += sram_read[lv] + sram_write[lv]
                ic_slots += acc.port_bytes[i]
        port = np.max(np.stack(list(level_port.values())), axis=0) if level_port else np.zeros(n_ops)
        ic_cycles = ic_slots / cfg.interconnect.bytes_per_cycle
        iu = cfg.index_units
        if iu.count > 0:
            index_cycles = index_count / (iu.count * iu.indices_per_cycle)
        else:  # no index hardware: one PE decodes one index per cycle
            array_cycles = array_cycles + index_count
            index_cycles = np.zeros(n_ops)
        compute = np.maximum(np.maximum(array_cycles, port), ic_cycles)
        conflict_cycles = compute - np.maximum(np.maximum(array_cycles, free_port), ic_cycles)
        port_bytes = acc.port_bytes.sum(axis=0) if n_levels else np.zeros(n_ops)

        # ---- action counts -> energy (the components' table)
        outputs = np.where(is_mm, w.m * w.n, 0)
        counts: dict[tuple[str, str], np.ndarray] = {
            ("pe_array", "mac"): actual, ("pe_array", "gated_mac"): gated,
            ("pe_array", "register"): 2 * actual + outputs,
            ("dram", "read"): dram_r * 8.0, ("dram", "write"): dram_w * 8.0,
            ("index_units", "decode"): index_count, ("interconnect", "transfer"): ic_bytes.astype(np.float64),
        }
        for i, lv in enumerate(self.levels):
            for action, values in acc.actions(i).items():
                counts[(f"sram.{lv}", action)] = values
        action_energy = {key: values * hw[key[0]].energy_pj(key[1]) for key, values in counts.items()}
        sram_energy = {lv: sum(e for (c, _), e in action_energy.items() if c == f"sram.{lv}") for lv in self.levels}
        energy = {
            "mac": action_energy[("pe_array", "mac")] + action_energy[("pe_array", "gated_mac")],
            "register": action_energy[("pe_array", "register")],
            "sram": sum(sram_energy.values()) if sram_energy else np.zeros(n_ops),
            "dram": action_energy[("dram", "read")] + action_energy[("dram", "write")],
            "index": action_energy[("index_units", "decode")],
            "interconnect": action_energy[("interconnect", "transfer")],
        }
        return Demand(
            step=w.step, label=w.label, label_names=self.labels, array_cycles=array_cycles, compute_cycles=compute,
            sram_port_cycles=port, level_port_cycles=level_port, interconnect_cycles=ic_cycles, index_cycles=index_cycles,
            dram_read_bytes=dram_r, dram_write_bytes=dram_w, dram_spill_bytes=spill,
            index_count=index_count.astype(np.int64), interconnect_bytes=ic_bytes,
            macs_effective=w.effectual.astype(np.int64), macs_executed=np.rint(executed).astype(np.int64),
            sram_read=sram_read, sram_write=sram_write, energy=energy, sram_energy=sram_energy,
            action_energy=action_energy, accesses=accesses, metadata_bytes=acc.meta_bytes_total(),
            macs_gated=np.rint(gated).astype(np.int64), imbalance_cycles=imbalance,
            pe_busiest=np.where(spread, w.busiest, 0.0), pe_mean=pe_mean,
            bank_conflict_cycles=conflict_cycles, port_bytes=port_bytes,
        )

    # ------------------------------------------------------------------ one operand part

    def _metadata_bits(self, pp: PartPlan, entries: np.ndarray, dense: np.ndarray | None) -> np.ndarray | None:
        """Metadata bits moved with ``entries`` stored entries of a compressed part (a coordinate or
        run field each; a bitmap: one bit per element of the ``dense`` domain); None if uncompressed."""
        if not pp.compressed:
            return None
        rows, cols = self.header.tensors[pp.tensor].shape
        kind = pp.fmt.type
        if kind == "bitmap":
            return np.asarray(entries if dense is None else dense, np.float64)
        per_entry = {"coo": bits_for(rows) + bits_for(cols), "csr": max(bits_for(cols), 1),
                     "csc": max(bits_for(rows), 1), "rle": pp.fmt.run_bits}[kind]
        return np.asarray(entries, np.float64) * per_entry

    def _part_accesses(self, w: OpWork, gc, systolic, part: PartWork, pp: PartPlan, pairs: "_Pairs",
                       executed: np.ndarray):
        """(read, write, metadata bits read, metadata bits written) of one part at its innermost
        level: read / write are (actual, gated, skipped) element arrays or None."""
        rows = part.rows
        first = rows[0]
        op_kind = int(w.kind[first])
        accumulate = bool(w.accumulate[first])
        mm = op_kind in _MATMUL
        share = np.divide(part.dense, pairs.role_dense[part.role], out=np.zeros(rows.size),
                          where=pairs.role_dense[part.role] > 0)  # of the role's words, this part's
        if part.role != ROLE_Z:
            if mm:  # the dataflow's operand words, re-reads included, skipping or not
                words = gc.a_read_words if part.role == ROLE_A else gc.b_read_words
                base = (words[rows] * share).astype(np.float64)
            else:
                base = part.dense.astype(np.float64)
            read = self._survive(base, pp, pairs, part, mm, per_mac=mm & np.isclose(base, pairs.pairs_dense))
            meta = self._metadata_bits(pp, read[0] + read[1], base)
            return read, None, meta, None
        # the output
        scaled = pairs.scale_dense > 0  # z <- s * z + a @ b: the scale touches every element of z
        own = replace(pp, skip=pp.skip & {part.role}, gate=pp.gate & {part.role})
        if mm and not self.config.pe_array.output_register:  # one update per MAC at the output's level
            updates = self._survive(pairs.pairs_dense, pp, pairs, part, True, per_mac=np.ones(rows.size, bool))
            outputs = (w.m * w.n)[rows].astype(np.float64)
            touched = outputs * (1 - _untouched(pairs.pairs_dense, outputs, updates[0]))
            dense_reads = pairs.pairs_dense - (0 if accumulate else outputs)
            act_r = np.maximum(updates[0] - (0 if accumulate else touched), 0)
            after_skip = np.maximum(pairs.pairs_dense - updates[2] - (0 if accumulate else outputs), 0)
            read = (act_r, np.maximum(after_skip - act_r, 0), np.maximum(dense_reads - after_skip, 0))
            write = updates
            if scaled.any():  # elements no MAC updates are still read, scaled and written once
                alone = self._survive(np.where(scaled, outputs, 0.0), own, pairs, part, True,
                                      per_mac=np.zeros(rows.size, bool))
                untouched = np.where(scaled, np.maximum(1 - touched / np.maximum(outputs, 1), 0), 0.0)
                extra = tuple(x * untouched for x in alone)
                read = tuple(a + b for a, b in zip(read, extra))
                write = tuple(a + b for a, b in zip(write, extra))
        else:
            if mm:
                base_w = (gc.c_write_words[rows] * share).astype(np.float64)
                base_r = gc.c_read_words[rows] * share + (part.dense if accumulate else 0)
            elif op_kind in _SCATTER_LIKE:  # a scatter updates the positions it was given
                base_w = executed[rows] / w.per_element[rows]
                base_r = base_w if accumulate else np.zeros(rows.size)
            else:
                base_w = part.dense.astype(np.float64)
                base_r = base_w if accumulate else np.zeros(rows.size)
            base_r = np.asarray(base_r, np.float64)
            write, read = self._survive(base_w, pp, pairs, part, mm, per_mac=np.zeros(rows.size, bool)), None
            if base_r.any():
                read = self._survive(base_r, pp, pairs, part, mm, per_mac=np.zeros(rows.size, bool))
            if scaled.any():  # a scaled output is read and written in full (its own zeros aside)
                full_w = self._survive(base_w, own, pairs, part, mm, per_mac=np.zeros(rows.size, bool))
                full_r = self._survive(base_r, own, pairs, part, mm, per_mac=np.zeros(rows.size, bool))
                write = tuple(np.where(scaled, f, x) for f, x in zip(full_w, write))
                if read is not None:
                    read = tuple(np.where(scaled, f, x) for f, x in zip(full_r, read))
        meta_r = self._metadata_bits(pp, read[0] + read[1], None) if read is not None else None
        return read, write, meta_r, self._metadata_bits(pp, write[0] + write[1], None)

    def _survive(self, base: np.ndarray, pp: PartPlan, pairs: "_Pairs", part: PartWork, mm: bool, per_mac):
        """(actual, gated, skipped) of ``base`` accesses under the part's skip and gate conditions."""
        after_skip = base * pairs.fraction(pp.skip, part, base, mm, per_mac)
        actual = base * pairs.fraction(pp.skip | pp.gate, part, base, mm, per_mac)
        return actual, np.maximum(after_skip - actual, 0), np.maximum(base - after_skip, 0)


def _untouched(slots: np.ndarray, outputs: np.ndarray, updates: np.ndarray) -> np.ndarray:
    """The chance that an output receives none of ``updates`` MACs spread uniformly over ``slots``
    (``slots / outputs`` per output): C(slots - k, updates) / C(slots, updates)."""
    k = slots / np.maximum(outputs, 1)
    free = slots - k
    u = np.minimum(np.rint(updates), slots)
    ok = (u <= free) & (slots > 0)
    log_p = gammaln(free + 1) - gammaln(np.maximum(free - u, 0) + 1) - gammaln(slots + 1) + gammaln(slots - u + 1)
    return np.where(ok, np.exp(np.where(ok, log_p, 0.0)), np.where(slots > 0, 0.0, 1.0))


class _Pairs:
    """The pair counts of one declared op's rows: dense pairs D and those with A, B or both
    non-zero (matmuls), the operands' non-zero fractions, and the surviving fractions."""

    def __init__(self, w: OpWork, rows: np.ndarray, parts: list[PartWork]) -> None:
        self.rows = rows
        self.matmul = int(w.kind[rows[0]]) in _MATMUL
        self.scale_dense = w.scale_dense[rows].astype(np.float64)
        self.scale_effectual = w.scale_effectual[rows].astype(np.float64)
        self.dense = w.dense[rows].astype(np.float64)
        self.effectual = w.effectual[rows].astype(np.float64)
        self.pairs_dense = self.dense - self.scale_dense
        dense = {r: sum((p.dense for p in parts if p.role == r), np.zeros(rows.size)) for r in (ROLE_A, ROLE_B, ROLE_Z)}
        self.role_dense = dense
        nonzero = {r: sum((p.nonzero for p in parts if p.role == r), np.zeros(rows.size)) for r in (ROLE_A, ROLE_B, ROLE_Z)}
        self.rho = {r: np.divide(nonzero[r], dense[r], out=np.ones(rows.size), where=dense[r] > 0) for r in dense}
        if self.matmul:
            m, n = w.m[rows].astype(np.float64), w.n[rows].astype(np.float64)
            a_nz = next(p.nonzero for p in parts if p.role == ROLE_A).astype(np.float64)
            b_nz = next(p.nonzero for p in parts if p.role == ROLE_B).astype(np.float64)
            self._pairs = {frozenset(): self.pairs_dense, frozenset({ROLE_A}): a_nz * n, frozenset({ROLE_B}): m * b_nz,
                           frozenset({ROLE_A, ROLE_B}): self.effectual - self.scale_effectual}

    def pad(self, growth: dict[int, float]) -> None:
        """Padding entries of run-length operands (``growth``: role -> 1 + padding per non-zero)
        pair with the other operand like their non-zeros (independence: pairs grow by the product)."""
        g = np.prod([growth.get(r, 1.0) for r in (ROLE_A, ROLE_B)])
        if self.matmul:
            both = frozenset({ROLE_A, ROLE_B})
            cap = np.minimum(self._pairs[frozenset({ROLE_A})], self._pairs[frozenset({ROLE_B})])
            self._pairs[both] = np.minimum(self._pairs[both] * g, cap)
        else:
            self.effectual = np.minimum(self.effectual * g, self.dense)

    def computes(self, conds: frozenset[int]) -> np.ndarray:
        """MACs (or operations) surviving the zeros of ``conds``."""
        if not self.matmul:
            return self.effectual if conds else self.dense
        key = frozenset(conds & {ROLE_A, ROLE_B})
        return self._pairs[key] + (self.scale_effectual if key else self.scale_dense)

    def fraction(self, conds: frozenset[int], part: PartWork, base: np.ndarray, mm: bool, per_mac) -> np.ndarray:
        """The fraction of a part's ``base`` accesses surviving the zeros of ``conds``."""
        if not conds:
            return np.ones(base.shape)
        own = np.divide(part.nonzero, part.dense, out=np.ones(base.shape), where=part.dense > 0)
        out = own if part.role in conds else np.ones(base.shape)
        if mm:
            exact = np.divide(self._pairs[frozenset(conds & {ROLE_A, ROLE_B})], self.pairs_dense,
                              out=np.zeros(base.shape), where=self.pairs_dense > 0)
            reuse = np.divide(self.pairs_dense, base, out=np.ones(base.shape), where=base > 0)
        else:
            exact, reuse = None, np.ones(base.shape)
        for role in conds - {part.role}:
            if role == ROLE_Z:
                continue
            out = out * (1 - (1 - self.rho[role]) ** np.maximum(reuse, 1))
        if exact is not None:  # an access per MAC survives exactly as the pairs do
            out = np.where(per_mac, exact, out)
        return out


class _Accounts:
    """Bytes and action counts per SRAM level for one batch."""

    def __init__(self, n_levels: int, n_ops: int) -> None:
        self.bytes = {d: np.zeros((n_levels, n_ops)) for d in ("read", "write")}
        self.port_bytes = np.zeros((n_levels, n_ops))
        self.conflict = np.zeros((n_levels, n_ops))  # port slots lost to bank conflicts, in bytes
        self._counts = {a: np.zeros((n_levels, n_ops)) for a in
                        ("read", "write", "gated_read", "gated_write", "metadata_read", "metadata_write")}
        self._meta_bytes = np.zeros(n_ops)
        self.width: dict[int, int] = {}

    def data(self, direction: str, level: int, rows, nbytes, gated_bytes, width: int) -> None:
        self.bytes[direction][level, rows] += nbytes
        self.port_bytes[level, rows] += nbytes + gated_bytes  # a gated access keeps its slot
        self._counts[direction][level, rows] += np.ceil(np.asarray(nbytes) / width)
        self._counts["gated_" + direction][level, rows] += np.ceil(np.asarray(gated_bytes) / width)

    def metadata(self, direction: str, level: int, rows, words, nbytes) -> None:
        self.bytes[direction][level, rows] += nbytes
        self.port_bytes[level, rows] += nbytes
        self._counts["metadata_" + direction][level, rows] += words
        self._meta_bytes[rows] += nbytes

    def actions(self, level: int) -> dict[str, np.ndarray]:
        return {a: c[level] for a, c in self._counts.items()}

    def meta_bytes_total(self) -> np.ndarray:
        return np.rint(self._meta_bytes).astype(np.int64)
