"""The C influence update (``influence.c``): build it, load it, call it.

``make`` builds ``_influence.so`` next to this file with the machine's C compiler
(``python -m rtrl.kernels.native``; ``-O3 -march=native``, so it is specific to this CPU: the build
records the CPU's feature flags and the source's digest beside it, and ``load()`` refuses a library built
for other flags, which could stop the process with an illegal instruction, or from another source). Where no compiler is found the build is
skipped with a note and ``load()`` returns None: the learner then uses the numba kernel for the
same work (``rtrl.kernels.compiled.update``).

A plain ``pip install`` has no ``make`` step: where the package holds no library for this CPU,
``load()`` builds one once into the user's cache (``$XDG_CACHE_HOME/accel-sim``, else
``~/.cache/accel-sim``; named by a digest of the source, flags and CPU), so both installs run the
same code at the same speed. ``RTRL_NATIVE=0`` turns the C update off (the numba kernel runs).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("influence.c")
LIBRARY = Path(__file__).with_name("_influence.so")
CPU_STAMP = ".cpu"  # suffix of the file beside the library that names the CPU it was built for
FLAGS = ["-O3", "-march=native", "-ffp-contract=fast", "-shared", "-fPIC", "-std=c11"]

_loaded: dict[str, object] = {}


class NativeUpdate:
    """ctypes binding of ``influence_update_f32`` / ``_f64`` (see ``influence.c``)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        ptr, i64 = ctypes.c_void_p, ctypes.c_int64
        args = [ptr, i64, i64, ptr, ptr, i64, ptr, ptr, ptr, ptr, i64, ptr, ptr, i64, ptr, ptr, ptr, ptr, ptr, ptr, i64]
        self._fn = {}
        for dtype, name in ((np.float32, "influence_update_f32"), (np.float64, "influence_update_f64")):
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, None
            self._fn[np.dtype(dtype)] = fn
        lib.influence_vector_bytes.restype = ctypes.c_int
        self.vector_bytes = int(lib.influence_vector_bytes())

    def supports(self, dtype) -> bool:
        return np.dtype(dtype) in self._fn

    def bind(self, old, units, diag, ptr, slots, vals, block, span_start, span_width, imm_ptr, imm_col, imm_val,
             cursor, cw) -> "BoundUpdate":
        """The update with its scratch and operand buffers fixed (their addresses are taken once;
        the buffers must live as long as the result and never be reallocated)."""
        return BoundUpdate(self._fn[vals.dtype], (old, units, diag, ptr, slots, vals, span_start, span_width,
                                                  imm_ptr, imm_col, imm_val, cursor, cw), block)


class BoundUpdate:
    """``influence_update`` with fixed buffers: call with (M, n_active, n_spans, grad, with_grad)."""

    def __init__(self, fn, buffers: tuple, block: int) -> None:
        self._fn, self._buffers, self._block = fn, buffers, block  # keeps the buffers alive
        (self._old, self._units, self._diag, self._ptr, self._slots, self._vals, self._span_start, self._span_width,
         self._imm_ptr, self._imm_col, self._imm_val, self._cursor, self._cw) = (b.ctypes.data for b in buffers)

    def __call__(self, M: np.ndarray, n_active: int, n_spans: int, grad: np.ndarray, with_grad: bool) -> None:
        n, P = M.shape
        self._fn(M.ctypes.data, n, P, self._old, self._units, n_active, self._diag, self._ptr, self._slots,
                 self._vals, self._block, self._span_start, self._span_width, n_spans, self._imm_ptr, self._imm_col,
                 self._imm_val, self._cursor, grad.ctypes.data, self._cw, int(with_grad))


@contextmanager
def disabled() -> Iterator[None]:
    """Inside, ``load()`` returns None: learners built there use the numba update, as on a machine
    without a C compiler (benchmarks and tests compare the two)."""
    saved = _loaded.get("lib", _UNSET)
    _loaded["lib"] = None
    try:
        yield
    finally:
        if saved is _UNSET:
            _loaded.pop("lib", None)
        else:
            _loaded["lib"] = saved


_UNSET = object()


def load() -> NativeUpdate | None:
    """The built library (the package's, else the user cache's, built there on first use when a C
    compiler exists), or None when there is none (or it fails to load)."""
    if "lib" not in _loaded:
        product = None
        if os.environ.get("RTRL_NATIVE", "1") != "0":
            product = _open(LIBRARY) or _open_or_build(cache_library())
        _loaded["lib"] = product
    return _loaded["lib"]  # type: ignore[return-value]


def cache_library() -> Path:
    """Where ``load()`` builds the library when the package holds none for this CPU."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "accel-sim"
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + cpu_fingerprint().encode())
    return root / f"_influence-{digest.hexdigest()[:16]}.so"


def _open_or_build(library: Path) -> NativeUpdate | None:
    """``library`` loaded, built there first if it is missing or for another CPU (None without a
    compiler or a writable folder: the numba kernel runs)."""
    product = _open(library)
    if product is None:
        try:
            library.parent.mkdir(parents=True, exist_ok=True)
            build(library)
        except OSError:
            return None
        product = _open(library)
    return product


def _current(library: Path) -> bool:
    stamp = library.with_name(library.name + CPU_STAMP)
    return library.exists() and stamp.exists() and stamp.read_text() == build_stamp()


def build_stamp() -> str:
    """What a library must have been built for: this CPU and this source (a library of an older
    ``influence.c`` has another signature and must never be called)."""
    return f"{cpu_fingerprint()}\nsource {hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]}"


def _open(library: Path) -> NativeUpdate | None:
    if not _current(library):
        return None
    try:
        return NativeUpdate(ctypes.CDLL(str(library)))
    except (OSError, AttributeError):
        return None


def build(target: Path = LIBRARY) -> str:
    """Compile ``influence.c`` into ``target`` (default: ``_influence.so`` here); returns a one-line report."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return "no C compiler found: sparse RTRL uses its numba kernel"
    tmp = target.with_suffix(f".so.{os.getpid()}.partial")  # concurrent builds never share a file
    cmd = [compiler, *FLAGS, "-o", str(tmp), str(SOURCE)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = (done.stderr.strip().splitlines() or ["(no message)"])[0]
        return f"C build failed ({first}): sparse RTRL uses its numba kernel"
    target.with_name(target.name + CPU_STAMP).write_text(build_stamp())
    os.replace(tmp, target)
    return f"built {target.name} with {Path(compiler).name} {' '.join(FLAGS[:3])}"


def cpu_fingerprint() -> str:
    """The machine and its CPU feature flags (what ``-march=native`` compiles for)."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line.split(":", 1)[1].strip() for line in fh if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


if __name__ == "__main__":
    print(f"rtrl.kernels.native: {build()}", file=sys.stderr)
