"""A small rtrl-trace/2 header for format tests (independent of ``rtrl``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from accel_sim.trace.header import IndexSet, OpDecl, Part, Pattern, Tensor, TraceHeader

N_HIDDEN = 12
N_OPS = 4


def header(**changes) -> TraceHeader:
    """Two per-step sets over N_HIDDEN units, a masked weight matrix, an influence-like matrix and
    four ops (a sparse product, an elementwise map, a scatter and an index decode)."""
    mask = np.zeros((N_HIDDEN, N_HIDDEN), bool)
    mask[np.arange(N_HIDDEN), (np.arange(N_HIDDEN) * 5) % N_HIDDEN] = True
    base = TraceHeader(
        method="sparse_rtrl", dtype="float32", seed=7,
        tensors=(Tensor("W", "weights", (N_HIDDEN, N_HIDDEN), pattern="mask"),
                 Tensor("y", "state", (N_HIDDEN, 1), rows="fired"),
                 Tensor("M", "influence", (N_HIDDEN, 30)),
                 Tensor("out", "activations", (N_HIDDEN, 1))),
        ops=(OpDecl("product", "spmm", "recurrent_product", a=(Part("W"),), b=(Part("y"),), z=(Part("out"),)),
             OpDecl("update", "elementwise", "gates", a=(Part("out"),), z=(Part("M", rows="fired|support"),),
                    accumulate=True, per_element=3),
             OpDecl("scatter", "scatter", "immediate_scatter", a=(Part("W", cols="support"),), z=(Part("M"),),
                    accumulate=True),
             OpDecl("decode", "index_decode", "active_set", a=(Part("y"),), produces="fired|support")),
        patterns={"mask": Pattern.from_mask(mask)},
        index_sets=(IndexSet("fired", N_HIDDEN), IndexSet("support", N_HIDDEN),
                    IndexSet("kept", 30, members=np.arange(0, 30, 3))),
        n_in=3, n_hidden=N_HIDDEN, n_out=2, weight_density=1 / N_HIDDEN, n_influence_columns=30,
        provenance={"config": '{"a": 1}'},
    )
    return dataclasses.replace(base, **changes)
