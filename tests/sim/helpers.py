"""Test traces for the simulator, built in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accel_sim.trace.header import IndexSet, OpDecl, Part, Tensor, TraceHeader
from accel_sim.trace.schema import OpRecord, SetLayout, TraceChunk

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "hw_configs"


def rtrl_like_trace(n_hidden: int = 32, n_steps: int = 20, density: float = 0.1, n_in: int = 8,
                    seed: int = 0, steps_per_chunk: int = 8, word_bytes: int = 4):
    """Sparse RTRL's declarations (``rtrl.trace_decl``) for a random model, with random index sets
    per step and the sparse learner's ops (the contraction every 4th step). Returns (header, chunks)."""
    from codesign.tracing import trace_header
    from rtrl import EGRU
    from rtrl.trace_decl import op_ids

    model = EGRU(n_in, n_hidden, 4, weight_density=density, seed=seed, dtype=np.dtype(f"float{8 * word_bytes}"))
    header = trace_header(model, "sparse_rtrl")
    layout = SetLayout.of(header)
    ids = op_ids("sparse_rtrl")
    rng = np.random.default_rng(seed)
    n = n_hidden
    chunks, steps, recs = [], [], []
    for t in range(n_steps):
        sets = {name: rng.random(size) < p for name, size, p in (
            ("fired", n, 0.1), ("support", n, 0.12), ("input_nz", n_in, 0.6), ("fired_out", n, 0.1),
            ("support_out", n, 0.12))}
        sets["reached"] = np.ones(header.n_influence_columns, bool)  # steady state: every column of M reached
        steps.append((t, sets))
        names = ["active_set", "input_projection", "recurrent_product", "gates", "jacobian_build",
                 "influence_update", "immediate_scatter", "readout"]
        if t % 4 == 0:
            names += ["readout_grad", "readout_backprop", "contraction"]
        recs += [OpRecord(t, ids[name]) for name in names]
        if len(steps) == steps_per_chunk or t == n_steps - 1:
            chunks.append(TraceChunk.from_records(layout, steps, recs))
            steps, recs = [], []
    return header, chunks


def compute_only_trace(n_steps: int = 5):
    """Element-wise ops on one small tensor only: no DRAM, no index work (nothing to contend for)."""
    header = TraceHeader(method="synthetic", dtype="int8", seed=0,
                         tensors=tuple(Tensor(f"s{j}", "state", (64, j + 1)) for j in range(3)),
                         ops=tuple(OpDecl(f"map{j}", "elementwise", "gates", a=(Part(f"s{j}"),), z=(Part(f"s{j}"),),
                                          per_element=10) for j in range(3)),
                         index_sets=(IndexSet("unused", 4),))
    layout = SetLayout.of(header)
    recs = [OpRecord(t, j, macs=640 * (j + 1)) for t in range(n_steps) for j in range(3)]
    return header, [TraceChunk.from_records(layout, [(t, {}) for t in range(n_steps)], recs)]


def stage_demand(steps, stages):
    """A :class:`Demand` whose ops only have stage lengths: ``stages`` rows (compute, DRAM read, DRAM
    write, index) in cycles, DRAM bytes given at 1 byte/cycle (configs must use that bandwidth)."""
    from accel_sim.engine.demand import Demand

    s = np.asarray(stages, dtype=np.float64).reshape(-1, 4)
    n = s.shape[0]
    zeros, izeros = np.zeros(n), np.zeros(n, np.int64)
    return Demand(step=np.asarray(steps, np.int64), label=izeros, label_names=("synthetic",), array_cycles=s[:, 0],
                  compute_cycles=s[:, 0], sram_port_cycles=zeros, level_port_cycles={}, interconnect_cycles=zeros,
                  index_cycles=s[:, 3], dram_read_bytes=s[:, 1], dram_write_bytes=s[:, 2], dram_spill_bytes=izeros,
                  index_count=izeros, interconnect_bytes=izeros, macs_effective=izeros, macs_executed=izeros,
                  sram_read={}, sram_write={}, energy={}, sram_energy={})


def brute_pe_loads(a: np.ndarray, b: np.ndarray, distribution: str, pes: int) -> np.ndarray:
    """(pes,) MACs per PE of A @ B under ``distribution`` (``rows|cols_interleaved|blocked``),
    visiting every effectual pair A[i, k] B[k, j] and its output line."""
    m, n = a.shape[0], b.shape[1]
    axis, order = distribution.split("_")
    lines = m if axis == "rows" else n
    size = -(-lines // pes)
    loads = np.zeros(pes)
    for i in range(m):
        for k in range(a.shape[1]):
            for j in range(n):
                if a[i, k] and b[k, j]:
                    line = i if axis == "rows" else j
                    loads[line % pes if order == "interleaved" else line // size] += 1
    return loads
