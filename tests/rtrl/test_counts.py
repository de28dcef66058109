"""The sparse learner's recorded multiply-accumulates equal the formula of docs/model.md §3, evaluated
independently from the masks and the active sets it recorded, on the reached columns of M
(rtrl.reach) worked out here from the inputs and events seen since the sequence start."""

import numpy as np
import pytest

from accel_sim.trace.schema import ListRecorder
from rtrl import EGRU, make_learner
from rtrl.model import BIASES, INPUT_WEIGHTS, MASKED
from rtrl.reach import FULL_SWEEP, SEGMENT
from rtrl.sparse_rtrl import uses_dense_block
from rtrl.trace_decl import OPS


def by_step_and_op(recorder, method="sparse_rtrl"):
    """{(step, op name): MACs} of a ListRecorder's records."""
    table = {}
    for rec in recorder.ops:
        key = (rec.step, OPS[method][rec.op])
        table[key] = table.get(key, 0) + rec.macs
    return table


@pytest.mark.parametrize("seed,density,eps", [(0, 0.05, 0.05), (3, 0.1, 0.3), (1, 0.3, 0.3), (2, 1.0, 0.2)])
def test_sparse_macs_match_design_formula(seed, density, eps):
    n, n_in = 24, 5
    model = EGRU(n_in, n, 3, weight_density=density, threshold_mean=0.3,
                 pseudo_derivative=(0.5, eps), seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    xs = rng.normal(0, 2, (30, n_in)) * (rng.random((30, n_in)) < 0.5)
    targets = rng.integers(-1, 3, 30)
    rec = ListRecorder()
    learner = make_learner(model, "sparse_rtrl", recorder=rec)
    for x, t in zip(xs, targets):
        learner.step(x, t)

    union = model.masks["R_u"] | model.masks["R_r"] | model.masks["R_z"]
    P = sum(int(model.masks[k].sum()) for k in model.masks) + 5 * n
    table = by_step_and_op(rec)
    lay = learner.layout
    seen_x, seen_y, seen_a = np.zeros(n_in, bool), np.zeros(n, bool), np.zeros(n, bool)
    thr = model.params["thr"]
    final_active = np.flatnonzero((learner.s - thr > 0) | (np.abs(learner.s - thr) < eps))
    for i, step in enumerate(rec.steps):
        active = np.union1d(step.fired, step.support)
        g_nnz = int(union[:, active].sum())
        # Columns M can hold a non-zero in: a weight's once its source was non-zero (x_j, or y_j:
        # fired), a bias's always, a threshold's once its unit was active; reached per segment.
        seen_x |= xs[i] != 0
        seen_y[step.fired] = True
        seen_a[active] = True
        written = np.zeros(P, bool)
        for name in MASKED:
            seen = seen_x if name in INPUT_WEIGHTS else seen_y
            written[lay.columns(name)] = seen[lay.srcs[name]]
        written[lay.start[BIASES[0]]:lay.start["thr"]] = True
        written[lay.columns("thr")] = seen_a
        segments = np.add.reduceat(written, np.arange(0, P, SEGMENT)) > 0
        reached = np.repeat(segments, SEGMENT)[:P]
        if reached.sum() >= FULL_SWEEP * P:  # nearly all: every column counts as reached
            reached[:] = True
        assert np.array_equal(step.sets["reached"], np.flatnonzero(reached))
        P_r = int(reached.sum())
        # diagonal scale n x P_r, plus the CSR path's nnz(G[:, A]) x P_r (docs/model.md §3), or the
        # dense-block path's n x |A| block
        dense_block = uses_dense_block(g_nnz, n, active.size)
        expected = n * P_r + (n * active.size * P_r if dense_block else g_nnz * P_r)
        op = "influence_update_dense" if dense_block else "influence_update"
        assert table[(step.step, op)] == expected
        if targets[i] >= 0:
            after = rec.steps[i + 1] if i + 1 < len(rec.steps) else None
            now = np.union1d(after.fired, after.support) if after else final_active
            assert table[(step.step, "contraction")] == now.size * P_r
        else:
            assert (step.step, "contraction") not in table
        fired = step.fired
        expected_rec = sum(int(model.masks[k][:, fired].sum()) for k in ("R_u", "R_r", "R_z"))
        assert table[(step.step, "recurrent_product")] == expected_rec
        live_in = np.flatnonzero(xs[i])
        expected_in = sum(int(model.masks[k][:, live_in].sum()) for k in ("W_u", "W_r", "W_z"))
        assert table[(step.step, "input_projection")] == expected_in


def test_activity_sparsity_reduces_recorded_work():
    """Fewer active units, less influence-update work: the counts follow the activity."""
    work = {}
    for eps in (0.02, 1.0):
        model = EGRU(4, 32, 2, weight_density=0.2, threshold_mean=0.5, pseudo_derivative=(0.3, eps), seed=0)
        rec = ListRecorder()
        learner = make_learner(model, "sparse_rtrl", recorder=rec)
        for x in np.random.default_rng(0).normal(size=(20, 4)):
            learner.step(x, -1)
        work[eps] = sum(m for (_, op), m in by_step_and_op(rec).items() if op.startswith("influence_update"))
    assert work[0.02] < 0.5 * work[1.0]


@pytest.mark.parametrize("method", ["sparse_rtrl", "dense_rtrl", "bptt"])
def test_every_forward_op_is_recorded_once_per_step(method):
    """One record per forward op and step, with the readout's MACs (docs/model.md §1)."""
    n, n_in, n_out = 12, 3, 4
    model = EGRU(n_in, n, n_out, weight_density=0.5, seed=4, dtype=np.float64)
    rec = ListRecorder()
    learner = make_learner(model, method, recorder=rec)
    targets = [-1, 2, -1, 0, 1]
    for x, t in zip(np.random.default_rng(4).normal(size=(5, n_in)), targets):
        learner.step(x, t)
    for step, target in zip(rec.steps, targets):
        names = [OPS[method][r.op] for r in rec.ops if r.step == step.step]
        for name in ("active_set", "input_projection", "recurrent_product", "gates", "readout"):
            assert names.count(name) == 1, (name, names)
        readout = sum(r.macs for r in rec.ops if r.step == step.step and OPS[method][r.op].startswith("readout"))
        assert readout == n_out * n * (3 if target >= 0 else 1)
