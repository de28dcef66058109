"""What CuPy hands to NVRTC for the project's kernels, built without CuPy or a GPU.

``project_units()`` imports ``rtrl/kernels/cuda.py`` and ``rtrl/kernels/elementwise.py`` (under
private names) against a recording stand-in for the ``cupy`` module, asks them for their kernels
the way the learner does (both dtypes), and turns what they passed to ``cupy.RawModule`` and
``cupy.ElementwiseKernel`` into ``Unit``s: the source and options CuPy 14 gives NVRTC.

CuPy's recipe, replicated here (``cupy/_core/raw.pyx``, ``_kernel.pyx``, ``core.pyx``,
``cupy/cuda/compiler.py`` of CuPy 14; ``test_compile.py`` checks it against an installed CuPy):

* RawModule(code, options): the code as given (no CuPy headers); options = ``-I`` CuPy's bundled
  CCCL, the user's options, ``--std=c++17`` if they name no standard, ``-I`` CuPy's headers,
  ``-ftz=true``, then ``-arch=sm_XX`` (a cubin; ``compute_XX`` PTX with CUPY_COMPILE_WITH_PTX=1 or
  a GPU newer than NVRTC) and ``--device-as-default-execution-space``.
* ElementwiseKernel: ``#include`` of CuPy's four headers, typedefs of the type placeholders, one
  ``extern "C"`` kernel over CArray / CIndexer parameters whose loop binds each element by
  reference (inputs ``const``) before the body; the same options with the default standard.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DTYPES = (np.float32, np.float64)
#: CuPy 14's standard when the options name none.
CUPY_DEFAULT_STD = "--std=c++17"
#: Threads per block of an ElementwiseKernel launch unless the call names block_size (CuPy).
ELEMENTWISE_BLOCK = 128
#: The headers CuPy prepends to ElementwiseKernel code (core._cupy_header_list).
CUPY_HEADERS = ("cupy/complex.cuh", "cupy/carray.cuh", "cupy/atomics.cuh", "cupy/math_constants.h")
_TYPENAMES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double", np.dtype(np.int32): "int",
              np.dtype(np.int64): "long long", np.dtype(np.bool_): "bool"}


@dataclass(frozen=True)
class Unit:
    """One NVRTC compilation CuPy makes: ``source`` exactly as CuPy passes it, the user's
    ``options`` (``nvrtc_options`` adds CuPy's), the ``extern "C"`` ``entries`` the project
    fetches from it with the ``threads`` per block each is launched with, and its float dtype."""

    label: str
    source: str
    options: tuple[str, ...]
    entries: tuple[str, ...]
    threads: tuple[int, ...]
    dtype: str

    @property
    def uses_cupy_headers(self) -> bool:
        return "#include <cupy/" in self.source


@dataclass(frozen=True)
class CupyDirs:
    """An installed CuPy's include dirs: its bundled CCCL (searched first) and its headers."""

    cccl: tuple[str, ...]
    headers: tuple[str, ...]


def nvrtc_options(unit: Unit, target: str, cupy_dirs: CupyDirs | None = None) -> tuple[str, ...]:
    """CuPy's full option list for ``unit`` at ``target`` ("sm_90" or "compute_90"), with
    CuPy's ``-I`` dirs in CuPy's places when ``cupy_dirs`` is given."""
    std = () if any("-std=" in o for o in unit.options) else (CUPY_DEFAULT_STD,)
    first, last = (cupy_dirs.cccl, cupy_dirs.headers) if cupy_dirs else ((), ())
    return (tuple(f"-I{d}" for d in first) + unit.options + std + tuple(f"-I{d}" for d in last)
            + ("-ftz=true", f"-arch={target}", "--device-as-default-execution-space"))


def cupy_include_dirs() -> CupyDirs | None:
    """CuPy's include dirs where the cupy package is installed, found without importing it."""
    spec = importlib.util.find_spec("cupy")
    if spec is None or not spec.submodule_search_locations:
        return None
    inc = Path(list(spec.submodule_search_locations)[0], "_core", "include")
    if not (inc / "cupy" / "carray.cuh").exists():
        return None
    cccl = [inc / "cupy" / "_cccl" / d for d in ("cub", "thrust", "libcudacxx")]
    return CupyDirs(tuple(str(d) for d in cccl if d.is_dir()), (str(inc),))


def standin_headers() -> dict[str, str]:
    """In-memory headers for where CuPy is absent: carray.cuh from ``cupy_standin.cuh``, the
    other three empty (the project's kernel bodies use nothing from them)."""
    text = Path(__file__).with_name("cupy_standin.cuh").read_text()
    return {name: (text if name == "cupy/carray.cuh" else "") for name in CUPY_HEADERS}


# --- the recording stand-in for the cupy module ---------------------------------------------

class _Recorder:
    def __init__(self) -> None:
        self.modules: list[_RawModule] = []
        self.elementwise: list[tuple[_ElementwiseKernel, tuple]] = []
        self.raw_threads: dict[str, int] = {}


class _RawModule:
    def __init__(self, recorder: _Recorder, *, code=None, path=None, options=(), backend="nvrtc",
                 translate_cucomplex=False, enable_cooperative_groups=False, name_expressions=None,
                 jitify=False) -> None:
        if path is not None or backend != "nvrtc" or translate_cucomplex or enable_cooperative_groups \
                or name_expressions or jitify:
            raise NotImplementedError("RawModule feature not in tests/gpu/cupy_units.py's recipe; add it there")
        self.code, self.options, self.functions = code, tuple(options), []
        recorder.modules.append(self)

    def get_function(self, name: str):
        self.functions.append(name)
        return types.SimpleNamespace(name=name)


class _ElementwiseKernel:
    def __init__(self, recorder: _Recorder, in_params, out_params, operation, name="kernel", reduce_dims=True,
                 preamble="", no_return=False, return_tuple=False, **kwargs) -> None:
        self.options = tuple(kwargs.pop("options", ()))
        self.loop_prep, self.after_loop = kwargs.pop("loop_prep", ""), kwargs.pop("after_loop", "")
        if kwargs:
            raise NotImplementedError(f"ElementwiseKernel arguments {sorted(kwargs)} not in the recipe")
        self.recorder, self.in_params, self.out_params = recorder, in_params, out_params
        self.operation, self.name, self.preamble = operation, name, preamble

    def __call__(self, *args, **kwargs):
        if set(kwargs) - {"block_size"}:
            raise NotImplementedError(f"ElementwiseKernel call arguments {sorted(kwargs)} not in the recipe")
        self.block_size = kwargs.get("block_size", ELEMENTWISE_BLOCK)
        self.recorder.elementwise.append((self, args))
        like = next(a for a in args if isinstance(a, np.ndarray))
        return tuple(np.zeros_like(like) for _ in self.out_params.split(","))


def _fake_cupy(recorder: _Recorder) -> types.ModuleType:
    fake = types.ModuleType("cupy")
    fake.RawModule = lambda **kw: _RawModule(recorder, **kw)
    fake.ElementwiseKernel = lambda *a, **kw: _ElementwiseKernel(recorder, *a, **kw)
    return fake


@contextmanager
def _cupy_replaced_by(fake: types.ModuleType):
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = fake
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = saved


def _load(relpath: str, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / relpath)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def launch_threads(module: types.ModuleType) -> dict[str, int]:
    """Threads per block of each ``self.fn["name"](grid, (threads,), args)`` launch in
    ``module``'s source (rtrl/kernels/cuda.py), its constants evaluated."""
    threads = {}
    for node in ast.walk(ast.parse(Path(module.__file__).read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript)
                and ast.unparse(node.func.value) == "self.fn" and len(node.args) == 3):
            name = ast.literal_eval(node.func.slice)
            threads[name] = int(np.prod([_value(e, module) for e in node.args[1].elts]))
    return threads


def _value(node: ast.expr, module: types.ModuleType) -> int:
    """An int literal or a module constant of a launch's block tuple."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return getattr(module, node.id)
    raise NotImplementedError(f"block size {ast.unparse(node)!r} in a launch: not in the recipe")


def recorded_calls() -> _Recorder:
    """Import the kernel modules against the stand-in and ask for every kernel, both dtypes."""
    recorder = _Recorder()
    with _cupy_replaced_by(_fake_cupy(recorder)):
        cuda = _load("rtrl/kernels/cuda.py", "_rtrl_probe_cuda")
        ew = _load("rtrl/kernels/elementwise.py", "_rtrl_probe_elementwise")
    recorder.raw_threads = launch_threads(cuda)
    n = 8
    for dtype in DTYPES:
        cuda._functions(dtype)
        v = lambda: np.zeros(n, dtype)  # noqa: E731
        ew.events(v(), v(), 0.3, 0.2)
        ew.gates(np.zeros((3, n), dtype), np.zeros((3, n), dtype), v(), v(), v(), v(), v(), v())
    return recorder


# --- CuPy's code generation for ElementwiseKernel -------------------------------------------

@dataclass(frozen=True)
class _Param:
    name: str
    ctype: str  # a placeholder ("T") or a C type
    is_const: bool


def _params(spec: str, is_const: bool) -> list[_Param]:
    out = []
    for item in spec.split(","):
        words = item.split()
        if len(words) != 2:
            raise NotImplementedError(f"ElementwiseKernel parameter {item!r} (raw / _non_const) not in the recipe")
        t, name = words
        out.append(_Param(name, t if len(t) == 1 else _TYPENAMES[np.dtype(t)], is_const))
    return out


def _typename(dtype) -> str:
    try:
        return _TYPENAMES[np.dtype(dtype)]
    except KeyError:
        raise NotImplementedError(f"dtype {dtype} not in the recipe") from None


def elementwise_code(kernel: _ElementwiseKernel, args: tuple) -> str:
    """The code CuPy 14 generates and compiles for ``kernel`` called with ``args`` (numpy
    arrays standing for C-contiguous CuPy arrays under 2**31 elements, and scalars)."""
    ins, outs = _params(kernel.in_params, True), _params(kernel.out_params, False)
    if len(args) != len(ins):
        raise NotImplementedError("output arguments passed in: not in the recipe")
    types_of = {}
    for p, a in zip(ins, args):
        if isinstance(a, np.ndarray) and len(p.ctype) == 1:
            types_of.setdefault(p.ctype, a.dtype)
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    if not all(a.flags.c_contiguous for a in arrays):
        raise NotImplementedError("non-contiguous arguments (reduce_dims keeps ndim > 1): not in the recipe")
    ndim = 1  # reduce_dims: C-contiguous arguments of one shape collapse to one dimension

    def ctype_of(p):
        return _typename(types_of[p.ctype]) if len(p.ctype) == 1 else p.ctype

    decl, bind = [], []
    for p, a in zip(ins, args):
        if isinstance(a, np.ndarray):
            decl.append(f"const CArray<{ctype_of(p)}, {ndim}, 1, 1> _raw_{p.name}")
            bind.append(f"const {p.ctype} &{p.name} = _raw_{p.name}[_ind.get()];")
        else:  # a scalar: passed by value, cast to its parameter's type
            decl.append(f"const {ctype_of(p)} {p.name}")
    for p in outs:
        decl.append(f"CArray<{ctype_of(p)}, {ndim}, 1, 1> _raw_{p.name}")
        bind.append(f"{p.ctype} &{p.name} = _raw_{p.name}[_ind.get()];")
    decl.append(f"CIndexer<{ndim}, 1> _ind")
    typedefs = "".join(f"typedef {_typename(t)} {c};\n" for c, t in sorted(types_of.items()))
    operation = "\n".join(bind + [kernel.operation])
    return (f"\n    {typedefs}\n    {kernel.preamble}\n"
            f"    extern \"C\" __global__ void {kernel.name}({', '.join(decl)}) {{\n"
            f"      {kernel.loop_prep};\n"
            f"      #pragma unroll 1\n"
            f"      CUPY_FOR(i, _ind.size()) {{\n"
            f"        _ind.set(i);\n"
            f"        {operation};\n"
            f"      }}\n"
            f"      {kernel.after_loop};\n"
            f"    }}\n    ")


def project_units() -> list[Unit]:
    """Every compilation CuPy makes for the project's kernels (one per module / kernel and dtype)."""
    rec = recorded_calls()
    units, seen = [], set()
    for module in rec.modules:
        dtype = "float64" if "typedef double T;" in module.code else "float32"
        threads = tuple(rec.raw_threads[f] for f in module.functions)  # KeyError: a kernel never launched
        units.append(Unit(f"RawModule({dtype})", module.code, module.options, tuple(module.functions), threads,
                          dtype))
    header = "".join(f"#include <{h}>\n" for h in CUPY_HEADERS)
    for kernel, args in rec.elementwise:
        code = header + elementwise_code(kernel, args)
        dtype = next(a.dtype for a in args if isinstance(a, np.ndarray)).name
        if (kernel.name, code) not in seen:  # CuPy compiles each (kernel, argument types) once
            seen.add((kernel.name, code))
            units.append(Unit(f"ElementwiseKernel {kernel.name}({dtype})", code, kernel.options, (kernel.name,),
                              (kernel.block_size,), dtype))
    return units
