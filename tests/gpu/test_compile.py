"""Every CUDA kernel the project ships compiles cleanly with NVRTC, as CuPy would compile it, for
the GPU architectures the project supports: compute capability 8.0 (A100) and 9.0 (H100, H200).

No GPU is needed (NVRTC comes with the ``test`` extra; skipped, with the reason, only where it will
not load). ``tests/gpu/cupy_units.py`` builds each compilation unit from what
``rtrl/kernels/cuda.py`` and ``rtrl/kernels/elementwise.py`` hand to CuPy: the RawModule of the
fused kernels and the two ElementwiseKernels, in float32 and float64. Each is compiled to a cubin
(``-arch=sm_XX``, CuPy's default) and to PTX (``-arch=compute_XX``, CuPy's fallback), and fails on

* any compiler error, and any warning not in ``ALLOWED_WARNINGS`` (with its reason);
* a missing entry point (a kernel the wrappers fetch that the module does not define);
* double-precision instructions in a float32 kernel (a silent promotion costs 2x on an H100 and
  up to 64x on other GPUs);
* register spills or local memory (ptxas), or more registers than the block each kernel is launched
  with can hold.
"""

import importlib.util
import re

import numpy as np
import pytest

from tests.gpu import cupy_units as cu
from tests.gpu import nvrtc

NVRTC, NVRTC_REASON = nvrtc.load()
pytestmark = pytest.mark.skipif(NVRTC is None, reason=f"NVRTC not available: {NVRTC_REASON}")

#: Compute capabilities compiled for: 8.0 (A100) and 9.0 (H100 / H200).
ARCHS = (80, 90)
TARGETS = ("sm", "compute")  # cubin (CuPy's default) and PTX
#: Warnings accepted, as regex -> why. Empty: every warning fails the test.
ALLOWED_WARNINGS: dict[str, str] = {}
#: 32-bit registers available to one thread block on compute capability 8.0 and 9.0.
REGISTERS_PER_BLOCK = 65536
#: Where a kernel could be defined or built: the packages and the benchmarks.
SCANNED = ("rtrl", "accel_sim", "codesign", "benchmarks")
KERNEL_MARKERS = re.compile(r"\b(RawKernel|RawModule|ElementwiseKernel|ReductionKernel)\s*\(|cupy\.fuse|"
                            r"cupyx\.jit|__global__|SourceModule|load_inline|cuda\.jit")
#: The files those markers may appear in: each is covered by cupy_units.project_units().
KERNEL_FILES = {"rtrl/kernels/cuda.py", "rtrl/kernels/cuda_source.py", "rtrl/kernels/elementwise.py"}

UNITS = cu.project_units()
CUPY_DIRS = cu.cupy_include_dirs()


def compile_unit(unit: cu.Unit, target: str, headers: str = "standin", extra: tuple[str, ...] = ()):
    """Compile ``unit`` for ``target`` (e.g. "sm_90") against CuPy's real headers ("cupy") or
    the test's stand-in ("standin")."""
    if headers == "cupy":
        return NVRTC.compile(unit.source, cu.nvrtc_options(unit, target, CUPY_DIRS) + extra)
    in_memory = cu.standin_headers() if unit.uses_cupy_headers else None
    return NVRTC.compile(unit.source, cu.nvrtc_options(unit, target) + extra, in_memory)


def problems(unit: cu.Unit, result: nvrtc.Compiled) -> list[str]:
    """What is wrong with one compilation, one line each (empty: clean)."""
    if not result.ok:
        return [f"error: {line}" for line in result.log.strip().splitlines()] or ["error (empty log)"]
    out = [f"warning: {w}" for w in nvrtc.warnings_in(result.log)
           if not any(re.search(rx, w) for rx in ALLOWED_WARNINGS)]
    missing = set(unit.entries) - result.entries()
    if missing:
        out.append(f"missing entry points: {sorted(missing)}")
    if unit.dtype == "float32":
        out += [f"double precision in a float32 kernel: {line.strip()}" for line in result.ptx.splitlines()
                if re.search(r"\.f64\b", line) and not line.lstrip().startswith("//")]
    return out


def registers(log: str) -> dict[str, int]:
    """Registers per thread of each entry, from a ``ptxas -v`` report."""
    out, entry = {}, None
    for line in log.splitlines():
        if m := re.search(r"Compiling entry function '(\w+)'", line):
            entry = m[1]
        elif (m := re.search(r"Used (\d+) registers", line)) and entry:
            out[entry] = int(m[1])
    return out


def resource_problems(unit: cu.Unit, log: str) -> list[str]:
    """Entries whose launch block cannot hold their registers, or with no ptxas report."""
    regs = registers(log)
    out = [f"{e}: no ptxas report" for e in unit.entries if e not in regs]
    return out + [f"{e}: {regs[e]} registers x {t} threads > {REGISTERS_PER_BLOCK}"
                  for e, t in zip(unit.entries, unit.threads) if e in regs and regs[e] * t > REGISTERS_PER_BLOCK]


def _id(unit):
    return unit.label


def test_every_kernel_source_is_covered():
    """The only files that define or build CUDA kernels are the ones project_units() reads, and
    the units hold every kernel: the RawModule's extern "C" kernels are exactly those
    rtrl/kernels/cuda.py fetches, and both ElementwiseKernels, each in both dtypes."""
    root = cu.ROOT
    found = {str(p.relative_to(root)) for d in SCANNED for p in (root / d).rglob("*.py")
             if KERNEL_MARKERS.search(p.read_text(errors="replace"))}
    assert found == KERNEL_FILES, "CUDA kernel code outside the compile check: extend tests/gpu/cupy_units.py"
    from rtrl.kernels.cuda_source import KERNEL_NAMES

    for unit in UNITS:
        if unit.label.startswith("RawModule"):
            defined = re.findall(r'extern "C" __global__ void (\w+)\s*\(', unit.source)
            assert sorted(defined) == sorted(unit.entries) == sorted(KERNEL_NAMES)
    labels = sorted(u.label for u in UNITS)
    assert labels == sorted(f"{kind}({dt})" for dt in ("float32", "float64")
                            for kind in ("RawModule", "ElementwiseKernel rtrl_events", "ElementwiseKernel rtrl_gates"))


def test_nvrtc_targets_the_supported_archs():
    assert set(ARCHS) <= set(NVRTC.supported_archs), (NVRTC.version, NVRTC.supported_archs)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("unit", UNITS, ids=_id)
def test_kernels_compile_cleanly(unit, target, arch):
    result = compile_unit(unit, f"{target}_{arch}")
    assert problems(unit, result) == []
    assert (result.cubin_bytes > 0) == (target == "sm")


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("unit", UNITS, ids=_id)
def test_kernels_fit_their_launch(unit, arch):
    """No spills, no local memory, and registers x threads per block within the block's register
    file for the block each kernel is launched with (ptxas, cubin target)."""
    ptxas = ("--ptxas-options=-v", "--ptxas-options=--warn-on-spills",
             "--ptxas-options=--warn-on-local-memory-usage")
    result = compile_unit(unit, f"sm_{arch}", extra=ptxas)
    assert problems(unit, result) == [] and resource_problems(unit, result.log) == []


@pytest.mark.skipif(CUPY_DIRS is None, reason="CuPy not installed: its headers are not here (the stand-in runs)")
@pytest.mark.parametrize("unit", [u for u in UNITS if u.uses_cupy_headers], ids=_id)
def test_elementwise_kernels_compile_with_cupys_own_headers(unit):
    for arch in ARCHS:
        assert problems(unit, compile_unit(unit, f"sm_{arch}", headers="cupy")) == []


@pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="CuPy not installed (no GPU needed for this)")
def test_the_recipe_equals_the_installed_cupy():
    """cupy_units' code generation and default options equal those of the installed CuPy
    (its own, private, generator: run without a GPU)."""
    import cupy
    from cupy._core import _carray, _scalar, core

    try:
        from cupy._core import _kernel as K

        gen, ArgInfo, TypeMap, param_info = (K._get_elementwise_kernel_code, K._ArgInfo, K._TypeMap,
                                             K._get_param_info)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"CuPy {cupy.__version__}'s private code generator moved ({exc}); "
                    "tests/gpu/test_cupy_capture.py checks on a GPU")
    assert tuple(core._cupy_header_list) == cu.CUPY_HEADERS
    assert cu.CUPY_DEFAULT_STD in core.assemble_cupy_compiler_options(())
    NDARRAY, INDEXER, SCALAR = 1, 2, 3  # cupy/_core/_kernel.pxd's _ArgKind
    for kernel, args in cu.recorded_calls().elementwise:
        dt = next(a.dtype for a in args if isinstance(a, np.ndarray)).type
        array = ArgInfo(NDARRAY, cupy.ndarray, dt, 1, True, True)
        infos = tuple(array if isinstance(a, np.ndarray) else ArgInfo(SCALAR, _scalar.CScalar, dt, 0, True, True)
                      for a in args)
        n_out = len(kernel.out_params.split(","))
        infos += (array,) * n_out + (ArgInfo(INDEXER, _carray.Indexer, None, 1, True, True),)
        params = (param_info(kernel.in_params, True) + param_info(kernel.out_params, False)
                  + param_info("CIndexer _ind", False))
        theirs = gen(infos, TypeMap((("T", dt),)), params, kernel.operation, kernel.name, kernel.preamble)
        assert cu.elementwise_code(kernel, args) == theirs, kernel.name


# --- the check can fail ------------------------------------------------------------------------

def _mutated(unit: cu.Unit, old: str, new: str) -> cu.Unit:
    assert old in unit.source
    return cu.Unit(unit.label + " (mutated)", unit.source.replace(old, new, 1), unit.options, unit.entries,
                   unit.threads, unit.dtype)


def _unit(label):
    return next(u for u in UNITS if u.label == label)


@pytest.mark.parametrize("label,old,new,expect", [
    # a type error in a fused kernel
    ("RawModule(float32)", "const int lane = threadIdx.x & 31", "const int* lane = threadIdx.x & 31", "error"),
    # an unused variable: NVRTC warns (#177-D), which fails the check
    ("RawModule(float64)", "int run = 0;", "int run = 0; int unused_here = 1;", "warning"),
    # a kernel the wrappers fetch is gone
    ("RawModule(float32)", "void thr_scatter(", "void thr_scatter_renamed(", "missing entry points"),
    # writing an input of an ElementwiseKernel (CuPy binds inputs by const reference)
    ("ElementwiseKernel rtrl_events(float32)", "y = o * s;", "y = o * s; s = (T)0;", "error"),
    # a double literal promotes float32 math to double
    ("ElementwiseKernel rtrl_gates(float32)", "hz = ry_z + b_rz;", "hz = ry_z + b_rz * 0.5;", "double precision"),
])
def test_the_check_reports_broken_kernels(label, old, new, expect):
    unit = _mutated(_unit(label), old, new)
    found = problems(unit, compile_unit(unit, "sm_90"))
    assert found and any(p.startswith(expect) for p in found), found
    assert problems(_unit(label), compile_unit(_unit(label), "sm_90")) == []  # the unmutated unit is clean


def test_the_resource_check_reports_spills():
    unit = _mutated(_unit("RawModule(float32)"), "T acc = (T)0;",
                    "T acc = (T)0; volatile T scratch[512]; scratch[c % 512] = acc; acc = scratch[(c * 7) % 512];")
    result = compile_unit(unit, "sm_90", extra=("--ptxas-options=--warn-on-local-memory-usage",))
    assert any("local memory" in w.lower() or "stack" in w.lower() for w in nvrtc.warnings_in(result.log)), result.log
    compact = cu.Unit("one kernel", "", (), ("compact_active",), (1024,), "float32")
    report = "ptxas info    : Compiling entry function 'compact_active' for 'sm_90'\nptxas info    : Used {} registers"
    assert resource_problems(compact, report.format(64)) == []
    assert resource_problems(compact, report.format(72)) == ["compact_active: 72 registers x 1024 threads > 65536"]
    assert resource_problems(compact, "") == ["compact_active: no ptxas report"]
