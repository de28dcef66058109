"""Each CUDA kernel equals its numpy twin on random cases, including empty and full active sets,
and sizes that span several blocks (n > 1024 for the single-block compaction)."""

import numpy as np
import pytest

from rtrl.kernels import ColumnMap, JacobianStructure, TwinKernels
from tests.gpu import RTOL, relative_error, requires_gpu

pytestmark = requires_gpu

CASES = [(13, 40, 0.0), (13, 40, 0.4), (13, 40, 1.0), (300, 5000, 0.05), (1500, 700, 0.3), (64, 3000, 1.0)]


def host_case(seed, n, P, active_fraction, dtype):
    rng = np.random.default_rng(seed)
    union = rng.random((n, n)) < min(1.0, 20 / n)
    o = (rng.random(n) < active_fraction / 2).astype(dtype)
    dH = np.where(rng.random(n) < active_fraction / 2, rng.random(n), 0.0).astype(dtype)
    if active_fraction >= 1:
        dH = (rng.random(n) + 0.1).astype(dtype)
    f = lambda *shape: rng.normal(size=shape).astype(dtype)  # noqa: E731
    cmap = ColumnMap(*(rng.integers(0, hi, P).astype(np.int32) for hi in (n, 7, 5)))
    return dict(union=union, o=o, dH=dH, R=[np.where(union, f(n, n), 0).astype(dtype) for _ in range(3)],
                rc=f(3, n), dy=f(n), dy_thr=f(n), M=f(n, P), diag=f(n), cmap=cmap, coef=f(7), src=f(5),
                grad=f(P), dl_ds=f(n), n=n, P=P)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n,P,active_fraction", CASES)
def test_cuda_kernels_equal_numpy_twins(n, P, active_fraction, dtype):
    import cupy

    from rtrl.kernels.cuda import CudaKernels

    twin, cuda = TwinKernels(), CudaKernels(dtype)
    h = host_case(n + P, n, P, active_fraction, np.dtype(dtype))
    d = {k: cupy.asarray(v) if isinstance(v, np.ndarray) else v for k, v in h.items()}
    d["R"] = [cupy.asarray(r) for r in h["R"]]
    d["cmap"] = ColumnMap(*(cupy.asarray(a) for a in (h["cmap"].row, h["cmap"].coef, h["cmap"].src)))
    g_h = JacobianStructure.from_union_mask(h["union"])
    g_d = JacobianStructure.from_union_mask(h["union"], cupy)

    a_h, a_d = twin.compact_active(h["o"], h["dH"], g_h.colcount), cuda.compact_active(d["o"], d["dH"], g_d.colcount)
    assert (a_d.n_active, a_d.g_nnz) == (a_h.n_active, a_h.g_nnz)
    assert np.array_equal(a_d.index.get(), a_h.index) and np.array_equal(a_d.slot.get(), a_h.slot)

    r_h = twin.restrict_jacobian(g_h, a_h.slot, h["rc"], *h["R"], h["dy"], h["dy_thr"])
    r_d = cuda.restrict_jacobian(g_d, a_d.slot, d["rc"], *d["R"], d["dy"], d["dy_thr"])
    assert np.array_equal(r_d.count.get(), r_h.count)
    k = np.arange(g_h.cols.size)
    valid = k - g_h.rowptr[g_h.rows] < r_h.count[g_h.rows]
    for name in ("slots", "units"):
        assert np.array_equal(getattr(r_d, name).get()[valid], getattr(r_h, name)[valid])
    for name in ("vals_dy", "vals_thr"):
        assert relative_error(getattr(r_d, name).get()[valid], getattr(r_h, name)[valid]) <= RTOL[dtype]

    rows_h, rows_d = twin.gather_rows(h["M"], a_h.index), cuda.gather_rows(d["M"], a_d.index)
    assert np.array_equal(rows_d.get(), rows_h)
    M_h, M_d = h["M"].copy(), d["M"].copy()
    twin.influence_update(M_h, h["diag"], g_h, r_h, rows_h, h["cmap"], h["coef"], h["src"])
    cuda.influence_update(M_d, d["diag"], g_d, r_d, rows_d, d["cmap"], d["coef"], d["src"])
    assert relative_error(M_d, M_h) <= RTOL[dtype]
    if P >= n:  # threshold columns: the last n
        twin.thr_scatter(M_h, P - n, g_h, r_h)
        cuda.thr_scatter(M_d, P - n, g_d, r_d)
        assert relative_error(M_d, M_h) <= RTOL[dtype]

    grad_h, grad_d = h["grad"].copy(), d["grad"].copy()
    twin.contract_gradient(grad_h, M_h, a_h.index, h["dl_ds"])
    cuda.contract_gradient(grad_d, M_d, a_d.index, d["dl_ds"])
    assert relative_error(grad_d, grad_h) <= RTOL[dtype]


def test_kernels_reject_mismatched_dtype():
    import cupy

    from rtrl.kernels.cuda import CudaKernels

    h = host_case(0, 8, 20, 0.5, np.dtype("float64"))
    g = JacobianStructure.from_union_mask(h["union"], cupy)
    cuda = CudaKernels("float32")
    act = cuda.compact_active(cupy.asarray(h["o"], np.float32), cupy.asarray(h["dH"], np.float32), g.colcount)
    rj = cuda.restrict_jacobian(g, act.slot, *(cupy.asarray(a, np.float32) for a in (h["rc"], *h["R"], h["dy"], h["dy_thr"])))
    cmap = ColumnMap(*(cupy.asarray(a) for a in (h["cmap"].row, h["cmap"].coef, h["cmap"].src)))
    with pytest.raises(TypeError, match="float32"):
        cuda.influence_update(cupy.asarray(h["M"]), cupy.asarray(h["diag"], np.float32), g, rj,
                              cupy.zeros((act.n_active, 20), np.float32), cmap, cupy.asarray(h["coef"], np.float32),
                              cupy.asarray(h["src"], np.float32))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_elementwise_events_and_gates_equal_numpy(dtype):
    """The fused ElementwiseKernels equal rtrl.cell's numpy expressions; flags and the
    pseudo-derivative support agree exactly (they decide the active sets)."""
    import cupy

    from rtrl import cell

    rng = np.random.default_rng(1)
    n = 3000
    s = rng.normal(0.3, 0.5, n).astype(dtype)
    thr = rng.uniform(0, 1, n).astype(dtype)
    s[:20] = thr[:20]  # exactly at threshold: v = 0
    ev_h = cell.events(s, thr, 0.3, 0.2)
    ev_d = cell.events(cupy.asarray(s), cupy.asarray(thr), 0.3, 0.2)
    for name in cell.Events.__slots__:
        assert relative_error(getattr(ev_d, name), getattr(ev_h, name)) <= RTOL[dtype], name
    assert np.array_equal(ev_d.o.get(), ev_h.o) and np.array_equal(ev_d.dH.get() != 0, ev_h.dH != 0)

    wx, ry = rng.normal(size=(3, n)).astype(dtype), rng.normal(size=(3, n)).astype(dtype)
    params = {k: rng.normal(size=n).astype(dtype) for k in ("b_u", "b_r", "b_z", "b_rz")}
    g_h = cell.gates(params, wx, ry, ev_h)
    g_d = cell.gates({k: cupy.asarray(v) for k, v in params.items()}, cupy.asarray(wx), cupy.asarray(ry), ev_d)
    for name in cell.Gates.__slots__:
        assert relative_error(getattr(g_d, name), getattr(g_h, name)) <= RTOL[dtype], name
