"""The compiled CPU step (numba forward + the C or numba influence update) against BPTT and the
generic (scipy) path: exact in float64, the same trace, the CPU's floating-point mode restored."""

import ctypes
import shutil

import numpy as np
import pytest
from hypothesis import given, strategies as st

import rtrl.kernels.native as native
import rtrl.sparse_rtrl
from accel_sim.trace.schema import ListRecorder
from rtrl import EGRU, gradients
from rtrl.kernels import compiled
from rtrl.sparse_rtrl import SparseRTRL
from rtrl.reach import SEGMENT, spans
from tests.rtrl.test_exactness import random_case, relative_error

pytestmark = pytest.mark.skipif(not compiled.AVAILABLE, reason="numba (the `fast` extra) is not installed")

#: "c": the compiled step with the C update (where it is built); "numba": with the numba update.
IMPLEMENTATIONS = ["c", "numba"]


def learner(model, implementation: str, recorder=None) -> SparseRTRL:
    """A sparse learner running ``implementation`` ("c", "numba" or "generic")."""
    if implementation == "generic":
        return SparseRTRL(model, recorder=recorder, kernels="generic")
    if implementation == "c" and native.load() is None:
        pytest.skip("the C update is not built (no C compiler)")
    if implementation == "numba":
        with native.disabled():
            out = SparseRTRL(model, recorder=recorder, kernels="compiled")
    else:
        out = SparseRTRL(model, recorder=recorder, kernels="compiled")
    assert out._compiled.implementation == implementation
    return out


def run(model, xs, targets, implementation, recorder=None) -> SparseRTRL:
    a = learner(model, implementation, recorder)
    for x, t in zip(xs, targets):
        a.step(x, int(t))
    return a


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@given(seed=st.integers(0, 10_000), n_in=st.integers(1, 5), n_hidden=st.integers(1, 14),
       density=st.one_of(st.just(1.0), st.floats(0.05, 1.0)), thr=st.floats(0.0, 1.0),
       gamma=st.floats(0.0, 2.0), eps=st.floats(0.01, 2.0), T=st.integers(1, 12))
def test_compiled_step_is_exact(implementation, seed, n_in, n_hidden, density, thr, gamma, eps, T):
    with pytest.MonkeyPatch.context() as mp:  # the sparse update at every step, however full G[:, A] is
        mp.setattr(rtrl.sparse_rtrl, "DENSE_BLOCK_MIN_DENSITY", np.inf)
        model, xs, targets = random_case(seed, n_in, n_hidden, 3, density, thr, gamma, eps, T)
        a = run(model, xs, targets, implementation)
    ref_loss, ref = gradients(model, xs, targets, "bptt")
    assert a.loss_sum == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    assert relative_error(a.grads(), ref) <= 1e-9


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("regime", ["no_events", "all_active", "mixed"])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-4)])
def test_compiled_matches_generic_step_by_step(implementation, regime, dtype, rtol):
    thr, eps = {"no_events": (1.0, 1e-3), "all_active": (0.0, 5.0), "mixed": (0.3, 0.3)}[regime]
    model = EGRU(4, 40, 3, weight_density=0.2, threshold_mean=thr, pseudo_derivative=(0.5, eps), seed=7, dtype=dtype)
    model.params["thr"] = np.full(40, thr, dtype)
    rng = np.random.default_rng(0)
    a, b = learner(model, implementation), learner(model, "generic")
    for t in range(30):
        x, target = rng.normal(0, 2, 4).astype(dtype), int(rng.integers(-1, 3))
        out_a, out_b = a.step(x, target), b.step(x, target)
        assert (out_a.n_fired, out_a.n_support) == (out_b.n_fired, out_b.n_support)
        assert out_a.loss == pytest.approx(out_b.loss, rel=rtol, abs=rtol)
        np.testing.assert_allclose(out_a.logits, out_b.logits, rtol=rtol, atol=rtol)
    scale = np.abs(b.M).max()
    np.testing.assert_allclose(a.M, b.M, rtol=rtol, atol=rtol * scale)
    assert relative_error(a.grads(), b.grads()) <= rtol


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("threshold", [np.inf, 0.5])  # sparse update every step / dense block when well filled
def test_compiled_records_the_same_trace(monkeypatch, implementation, threshold):
    monkeypatch.setattr(rtrl.sparse_rtrl, "DENSE_BLOCK_MIN_DENSITY", threshold)
    model, xs, targets = random_case(3, 5, 24, 3, 0.3, 0.4, 0.3, 0.2, 20)
    rec_a, rec_b = ListRecorder(), ListRecorder()
    a = run(model, xs, targets, implementation, rec_a)
    run(model, xs, targets, "generic", rec_b)
    assert rec_a.ops == rec_b.ops
    for sa, sb in zip(rec_a.steps, rec_b.steps, strict=True):
        assert np.array_equal(sa.fired, sb.fired) and np.array_equal(sa.support, sb.support)
    assert a.t == len(xs)
    assert a._row_templates and all(t is not None for t in a._row_templates.values())  # rows, not per-op emit


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_floating_point_mode_is_restored_and_no_subnormal_is_stored(implementation):
    """The update runs with denormals-are-zero, and only inside: numpy still makes subnormals."""
    model = EGRU(3, 20, 2, weight_density=0.5, threshold_mean=0.2, pseudo_derivative=(0.3, 0.5), seed=1)
    a = learner(model, implementation)
    for t in range(200):  # zero input after a kick: influence entries decay towards the subnormal range
        a.step(np.full(3, 3.0 if t < 3 else 0.0, np.float32), 1 if t % 10 == 9 else -1)
    tiny = np.finfo(np.float32).tiny
    assert not np.any((a.M != 0) & (np.abs(a.M) < tiny))
    assert np.float32(1e-20) * np.float32(1e-20) != 0  # the FPU's default mode is back


def test_compiled_kernels_need_numba(monkeypatch):
    model, _, _ = random_case(0, 2, 4, 2, 1.0, 0.3, 0.5, 0.4, 2)
    monkeypatch.setattr(compiled, "AVAILABLE", False)
    with pytest.raises(ValueError, match="numba"):
        SparseRTRL(model, kernels="compiled")
    assert SparseRTRL(model).kernels == "generic"  # the default falls back


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")
def test_c_update_builds_and_matches_numba(tmp_path):
    """A fresh build of influence.c gives the numba update's result on random operands, sweeping
    only the reached columns (random spans): there it equals the formula, elsewhere M stays zero."""
    library = tmp_path / "influence.so"
    assert "built" in native.build(library)
    update = native.NativeUpdate(ctypes.CDLL(str(library)))
    rng = np.random.default_rng(0)
    n, P, block = 9, 301, 64  # P not a multiple of the block, a segment or any vector width
    for dtype in (np.float32, np.float64):
        flags = (rng.random(-(-P // SEGMENT)) < 0.6).astype(np.uint8)
        flags[-1] = 1  # the partial last segment
        reached = np.repeat(flags.astype(bool), SEGMENT)[:P]
        start, width = np.zeros(P, np.int64), np.zeros(P, np.int64)
        n_spans, n_reached = spans(flags, P, block, start, width)
        assert n_reached == reached.sum() and (width[:n_spans] <= block).all()
        M = rng.normal(size=(n, P)).astype(dtype) * reached
        units = np.array([1, 4, 5, 8], np.int64)
        counts = rng.integers(0, 6, n)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        slots = rng.integers(0, units.size, ptr[-1]).astype(np.int64)
        vals, diag = rng.normal(size=ptr[-1]).astype(dtype), rng.normal(size=n).astype(dtype)
        imm_counts = rng.integers(0, 4, n)
        imm_ptr = np.concatenate([[0], np.cumsum(imm_counts)]).astype(np.int64)
        imm_col = np.concatenate([np.sort(rng.choice(np.flatnonzero(reached), c, replace=False))
                                  for c in imm_counts]).astype(np.int64)
        imm_val = rng.normal(size=imm_ptr[-1]).astype(dtype)
        cw = np.where(rng.random(n) < 0.5, rng.normal(size=n), 0).astype(dtype)
        old, cursor = np.empty((n, block), dtype), np.empty(n, np.int64)
        results = []
        M2, grad = M.copy(), np.zeros(P, dtype)
        update.bind(old, units, diag, ptr, slots, vals, block, start, width, imm_ptr, imm_col, imm_val, cursor, cw)(
            M2, units.size, n_spans, grad, True)
        results.append((M2, grad))
        M2, grad = M.copy(), np.zeros(P, dtype)
        compiled.update(M2, old, units, units.size, diag, ptr, slots, vals, start, width, n_spans, imm_ptr, imm_col,
                        imm_val, cursor, grad, cw, True)
        results.append((M2, grad))
        expected = diag[:, None] * M
        for i in range(n):
            for q in range(ptr[i], ptr[i + 1]):
                expected[i] += vals[q] * M[units[slots[q]]]
            for e in range(imm_ptr[i], imm_ptr[i + 1]):
                expected[i, imm_col[e]] += imm_val[e]
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        for M2, grad in results:
            np.testing.assert_allclose(M2, expected, rtol=rtol, atol=rtol)
            np.testing.assert_allclose(grad, cw @ expected, rtol=rtol, atol=rtol * 10)
            assert not M2[:, ~reached].any()


NO_CC = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="no C compiler")


@NO_CC
def test_c_update_built_for_another_cpu_is_not_loaded(tmp_path, monkeypatch):
    """-march=native code could stop the process on another CPU: its stamp must match this one;
    the package's library for another CPU is then replaced by one built into the user cache."""
    library = tmp_path / "_influence.so"
    native.build(library)
    monkeypatch.setattr(native, "LIBRARY", library)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load() is not None
    assert not native.cache_library().exists()  # the package's own library was current
    (tmp_path / "_influence.so.cpu").write_text("x86_64 some other cpu")
    monkeypatch.setattr(native, "_open", _recording_open(monkeypatch))
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load() is not None
    assert native._open.opened == [native.cache_library()]  # never the foreign library
    assert native.cache_library().parent == tmp_path / "cache" / "accel-sim"


def _recording_open(monkeypatch):
    real = native._open
    opened = []

    def wrapped(path):
        product = real(path)
        if product is not None:
            opened.append(path)
        return product

    wrapped.opened = opened
    return wrapped


@NO_CC
def test_a_plain_install_builds_the_c_update_once_into_the_user_cache(tmp_path, monkeypatch):
    """No library in the package (pip install without make): load() builds it into the cache once,
    and the learner's step then runs the same C code as make's build."""
    monkeypatch.setattr(native, "LIBRARY", tmp_path / "package" / "_influence.so")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load() is not None
    built = native.cache_library()
    assert built.exists() and built.with_name(built.name + native.CPU_STAMP).read_text() == native.build_stamp()
    stamp = built.stat().st_mtime_ns
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load() is not None and built.stat().st_mtime_ns == stamp  # not rebuilt
    assert not list(built.parent.glob("*.partial"))


@NO_CC
def test_a_library_built_from_another_source_is_never_loaded(tmp_path, monkeypatch):
    """The package's library stamped for this CPU but an older influence.c (another signature) is
    refused: load() builds a current one into the cache instead of calling the stale one."""
    package = tmp_path / "package" / "_influence.so"
    package.parent.mkdir()
    assert "built" in native.build(package)
    stamp = package.with_name(package.name + native.CPU_STAMP)
    stamp.write_text(stamp.read_text().replace("source ", "source 0"))
    monkeypatch.setattr(native, "LIBRARY", package)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(native, "_loaded", {})
    assert native._open(package) is None  # refused: stamped for another source
    assert native.load() is not None and native.cache_library().exists()  # a current build instead


def test_without_a_compiler_or_cache_the_numba_kernel_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(native, "LIBRARY", tmp_path / "package" / "_influence.so")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load() is None
    monkeypatch.delenv("CC")
    monkeypatch.setenv("RTRL_NATIVE", "0")
    monkeypatch.setattr(native, "_loaded", {})
    assert native.load() is None and not native.cache_library().exists()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_compiled_step_refuses_non_finite_input_without_changing_state(bad):
    """An input already in the model's dtype skips numpy validation; the compiled forward refuses it."""
    model = EGRU(3, 8, 2, weight_density=0.5, seed=0)
    a = learner(model, "numba")
    a.step(np.ones(3, np.float32), 1)
    before = a.get_state()
    with pytest.raises(ValueError, match="NaN or inf"):
        a.step(np.array([1.0, bad, 0.0], np.float32), 0)
    after = a.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)
