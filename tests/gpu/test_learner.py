"""The GPU learners equal the numpy learners: gradients, losses, logits, states and recorded
traces, for all three methods, both dtypes, fused and generic sparse paths."""

import numpy as np
import pytest

import rtrl.sparse_rtrl
from accel_sim.trace.schema import ListRecorder
from rtrl import EGRU, gradients, make_learner
from rtrl.backend import to_host
from rtrl.sparse_rtrl import SparseRTRL
from tests.gpu import RTOL, relative_error, requires_gpu

pytestmark = requires_gpu


def twin_models(seed, n_hidden, density, thr, eps, dtype, T=12, n_in=4, n_out=3):
    """The same EGRU on the CPU and on the GPU, a random sequence, non-zero biases."""
    kw = dict(weight_density=density, threshold_mean=thr, pseudo_derivative=(0.5, eps), seed=seed, dtype=dtype)
    cpu, gpu = EGRU(n_in, n_hidden, n_out, **kw), EGRU(n_in, n_hidden, n_out, device="gpu", **kw)
    rng = np.random.default_rng(seed + 1000)
    params = dict(cpu.params)
    for key in ("b_u", "b_r", "b_z", "b_rz", "b_o"):
        params[key] = rng.normal(0, 0.5, params[key].shape)
    if thr in (0.0, 1.0):
        params["thr"] = np.full(n_hidden, thr)
    cpu.set_params(params)
    gpu.set_params(params)
    xs = rng.normal(0, 2, (T, n_in))
    targets = rng.integers(-1, n_out, T)
    targets[-1] = 0
    return cpu, gpu, xs, targets


def grads_error(a: dict, b: dict) -> float:
    scale = max(float(np.abs(to_host(v)).max()) for v in b.values())
    return max(float(np.abs(to_host(a[k]).astype(float) - to_host(b[k])).max()) for k in b) / max(scale, 1e-300)


REGIMES = {"mixed": (0.3, 0.3), "no_events": (1.0, 1e-3), "all_active": (0.0, 5.0)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("method", ["sparse_rtrl", "dense_rtrl", "bptt"])
def test_gpu_learner_equals_cpu_learner(method, regime, dtype):
    thr, eps = REGIMES[regime]
    cpu, gpu, xs, targets = twin_models(3, 24, 0.2, thr, eps, dtype)
    loss_c, g_c = gradients(cpu, xs, targets, method)
    loss_g, g_g = gradients(gpu, xs, targets, method)
    assert loss_g == pytest.approx(loss_c, rel=RTOL[dtype], abs=RTOL[dtype])
    assert grads_error(g_g, g_c) <= RTOL[dtype]
    assert all(type(v).__module__.startswith(gpu.xp.__name__) for v in g_g.values())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dense_block_min_density", [np.inf, 0.0, 0.5])  # fused / dense block / as decided
@pytest.mark.parametrize("kernels", ["fused", "generic"])
def test_sparse_paths_on_gpu(monkeypatch, kernels, dense_block_min_density, dtype):
    monkeypatch.setattr(rtrl.sparse_rtrl, "DENSE_BLOCK_MIN_DENSITY", dense_block_min_density)
    for seed, n, density in [(0, 40, 0.1), (1, 150, 0.05), (2, 17, 1.0)]:
        cpu, gpu, xs, targets = twin_models(seed, n, density, 0.3, 0.3, dtype, T=15)
        a, b = make_learner(cpu, "sparse_rtrl"), SparseRTRL(gpu, kernels=kernels)
        for x, t in zip(xs, targets):
            out_c, out_g = a.step(x, int(t)), b.step(x, int(t))
            assert (out_g.n_fired, out_g.n_support) == (out_c.n_fired, out_c.n_support)
            assert relative_error(out_g.logits, out_c.logits) <= RTOL[dtype]
        assert relative_error(b.M, a.M) <= RTOL[dtype]
        assert grads_error(b.grads(), a.grads()) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_unfused_cell_math_on_gpu(monkeypatch, dtype):
    """The generic CuPy expressions of rtrl.cell (ElementwiseKernels off) also equal numpy."""
    import rtrl.cell

    monkeypatch.setattr(rtrl.cell, "FUSE_ON_GPU", False)
    cpu, gpu, xs, targets = twin_models(6, 30, 0.2, 0.3, 0.3, dtype)
    assert grads_error(gradients(gpu, xs, targets)[1], gradients(cpu, xs, targets)[1]) <= RTOL[dtype]


@pytest.mark.parametrize("method", ["sparse_rtrl", "dense_rtrl", "bptt"])
def test_gpu_records_the_same_trace(method):
    cpu, gpu, xs, targets = twin_models(4, 24, 0.2, 0.4, 0.2, "float64", T=20)
    rec_c, rec_g = ListRecorder(), ListRecorder()
    gradients(cpu, xs, targets, method, recorder=rec_c)
    gradients(gpu, xs, targets, method, recorder=rec_g)
    assert rec_g.ops == rec_c.ops
    assert [(s.step, s.fired.tolist(), s.support.tolist()) for s in rec_g.steps] == \
           [(s.step, s.fired.tolist(), s.support.tolist()) for s in rec_c.steps]


@pytest.mark.parametrize("method", ["sparse_rtrl", "dense_rtrl"])
def test_state_moves_between_devices(method):
    cpu, gpu, xs, targets = twin_models(5, 16, 0.3, 0.3, 0.4, "float64")
    a = make_learner(cpu, method)
    for t in range(6):
        a.step(xs[t], targets[t])
    snap = a.get_state()
    b = make_learner(gpu, method)
    b.set_state(snap)
    assert all(isinstance(v, np.ndarray) for v in b.get_state().values())
    for t in range(6, len(xs)):
        assert b.step(xs[t], targets[t]).loss == pytest.approx(a.step(xs[t], targets[t]).loss, rel=1e-10)
    assert grads_error(b.grads(), a.grads()) <= 1e-10


def test_same_seed_same_model_on_both_devices():
    cpu, gpu = EGRU(5, 30, 3, weight_density=0.2, seed=9), EGRU(5, 30, 3, weight_density=0.2, seed=9, device="gpu")
    for k, v in cpu.params.items():
        assert np.array_equal(to_host(gpu.params[k]), v)
    with pytest.raises(ValueError, match="masked"):
        gpu.set_params({**cpu.params, "R_u": np.ones_like(cpu.params["R_u"])})
