"""Test traces for the simulator, built in memory (independent of ``rtrl``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accel_sim.trace.schema import OpRecord, StepRecord, TraceChunk, TraceHeader

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "hw_configs"


def rtrl_like_trace(n_hidden: int = 32, n_steps: int = 20, density: float = 0.1, n_in: int = 8,
                    seed: int = 0, steps_per_chunk: int = 8, word_bytes: int = 4):
    """Ops shaped like one sparse-RTRL step (same kinds, labels and byte accounting as the
    learner's recorder), with a random active set per step. Returns (header, chunks)."""
    rng = np.random.default_rng(seed)
    n, b, ib = n_hidden, word_bytes, 4
    live_in = int(density * 3 * n * n_in)
    live_rec = int(density * 3 * n * n)
    P = live_in + live_rec + 5 * n
    header = TraceHeader(method="sparse_rtrl", n_in=n_in, n_hidden=n, n_out=4, dtype=f"float{8 * b}",
                         weight_density=density, seed=seed, n_influence_columns=P,
                         mask_nnz_per_row={"R_u": [live_rec // (3 * n)] * n})
    chunks, steps, recs = [], [], []
    for t in range(n_steps):
        fired = np.sort(rng.choice(n, size=max(1, n // 10), replace=False)).astype(np.int32)
        support = np.sort(rng.choice(n, size=max(1, n // 8), replace=False)).astype(np.int32)
        n_a = len(np.union1d(fired, support))
        g_nnz = int(density * 3 * n * n_a) + n_a
        steps.append(StepRecord(t, fired, support))
        add = recs.append
        add(OpRecord(t, "index_decode", "active_set", m=n, index_count=n_a,
                     bytes_read={"state": n * b}, bytes_written={"activations": n_a * ib}))
        add(OpRecord(t, "spmm", "input_projection", m=3 * n, k=n_in, nnz=live_in, macs=live_in, index_count=live_in,
                     bytes_read={"weights": live_in * (b + ib), "input": n_in * b},
                     bytes_written={"activations": 3 * n * b}))
        add(OpRecord(t, "spmm", "recurrent_product", m=3 * n, k=n, nnz=live_rec, macs=live_rec, index_count=live_rec,
                     bytes_read={"weights": live_rec * (b + ib), "state": n * b},
                     bytes_written={"activations": 3 * n * b}))
        add(OpRecord(t, "elementwise", "gates", m=n, macs=12 * n, bytes_read={"activations": 6 * n * b, "state": n * b},
                     bytes_written={"state": n * b, "activations": 6 * n * b}))
        add(OpRecord(t, "elementwise", "jacobian_build", m=n, k=n_a, nnz=g_nnz, macs=4 * g_nnz, index_count=g_nnz,
                     bytes_read={"weights": 3 * g_nnz * b, "activations": 4 * n * b},
                     bytes_written={"activations": g_nnz * (b + ib)}))
        add(OpRecord(t, "elementwise", "influence_diag_scale", m=n, n=P, macs=n * P,
                     bytes_read={"influence": n * P * b, "activations": n * b}, bytes_written={"influence": n * P * b}))
        add(OpRecord(t, "spmm", "influence_sparse_update", m=n, k=n_a, n=P, nnz=g_nnz, macs=g_nnz * P,
                     index_count=g_nnz, bytes_read={"influence": n_a * P * b, "activations": g_nnz * (b + ib)}))
        sc = live_in + live_rec + 4 * n + g_nnz
        add(OpRecord(t, "scatter", "immediate_scatter", m=n, n=P, nnz=sc, macs=sc, index_count=2 * sc,
                     bytes_read={"influence": sc * b, "activations": 8 * n * b}, bytes_written={"influence": sc * b}))
        add(OpRecord(t, "gemm", "readout", m=4, k=n, n=1, macs=4 * n, bytes_read={"weights": 4 * n * b, "state": n * b}))
        if t % 4 == 0:
            add(OpRecord(t, "gemm", "gradient_contraction", m=1, k=n_a, n=P, macs=n_a * P, index_count=n_a,
                         bytes_read={"influence": n_a * P * b, "gradients": P * b}, bytes_written={"gradients": P * b}))
        if len(steps) == steps_per_chunk or t == n_steps - 1:
            chunks.append(TraceChunk.from_records(steps, recs))
            steps, recs = [], []
    return header, chunks


def compute_only_trace(n_steps: int = 5):
    """Element-wise ops on on-chip state only: no DRAM, no index work (nothing to contend for)."""
    header = TraceHeader(method="synthetic", n_in=1, n_hidden=64, n_out=1, dtype="int8", weight_density=1.0,
                         seed=0, n_influence_columns=0)
    steps = [StepRecord(t, np.zeros(0, np.int32), np.zeros(0, np.int32)) for t in range(n_steps)]
    recs = [OpRecord(t, "elementwise", "gates", m=64, n=j + 1, macs=640 * (j + 1),
                     bytes_read={"state": 64}, bytes_written={"state": 64})
            for t in range(n_steps) for j in range(3)]
    return header, [TraceChunk.from_records(steps, recs)]


def stage_demand(steps, stages):
    """A :class:`Demand` whose ops only have stage lengths: ``stages`` rows (compute, DRAM read, DRAM
    write, index) in cycles, DRAM bytes given at 1 byte/cycle (configs must use that bandwidth)."""
    from accel_sim.engine.demand import Demand

    s = np.asarray(stages, dtype=np.float64).reshape(-1, 4)
    n = s.shape[0]
    zeros, izeros = np.zeros(n), np.zeros(n, np.int64)
    return Demand(step=np.asarray(steps, np.int64), label=izeros, array_cycles=s[:, 0], compute_cycles=s[:, 0],
                  sram_port_cycles=zeros, level_port_cycles={}, interconnect_cycles=zeros, index_cycles=s[:, 3],
                  dram_read_bytes=s[:, 1], dram_write_bytes=s[:, 2], dram_spill_bytes=izeros, index_count=izeros,
                  interconnect_bytes=izeros, macs_effective=izeros, macs_executed=izeros, sram_read={},
                  sram_write={}, energy={}, sram_energy={})
