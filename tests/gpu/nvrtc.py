"""NVRTC, the CUDA runtime compiler CuPy uses, called through ctypes: it compiles CUDA C++ to PTX
and to a cubin (SASS) on a machine with no GPU and no CUDA driver.

The library comes from the pip wheel of the ``test`` extra (``nvidia-cuda-nvrtc``, CUDA 13, files
under ``nvidia/cu13/lib``), the CUDA 12 wheel (``nvidia/cuda_nvrtc/lib``), or a CUDA toolkit on
the library path. ``load()`` gives ``(Nvrtc, "")`` or ``(None, reason)``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Compiled:
    """One compilation: ``ok`` (NVRTC returned success), the compiler's ``log`` (errors,
    warnings), the ``ptx`` text ('' when it failed) and the cubin size in bytes (0 for a
    virtual ``compute_XX`` target or a failure)."""

    ok: bool
    log: str
    ptx: str
    cubin_bytes: int

    def entries(self) -> set[str]:
        """Names of the ``__global__`` functions (PTX ``.entry``) in the output."""
        return set(re.findall(r"\.entry\s+(\w+)\s*\(", self.ptx))


def _candidates() -> list[str]:
    found = []
    try:
        import nvidia  # namespace package of NVIDIA's pip wheels

        for root in nvidia.__path__:
            for lib in sorted(Path(root).glob("*/lib/libnvrtc.so*")):
                if "builtins" not in lib.name and ".alt." not in lib.name:
                    found.append(str(lib))
    except ImportError:
        pass
    system = ctypes.util.find_library("nvrtc")
    return found + ([system] if system else [])


class Nvrtc:
    """The loaded library (``path``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lib = ctypes.CDLL(path)
        self._lib.nvrtcGetErrorString.restype = ctypes.c_char_p

    @property
    def version(self) -> tuple[int, int]:
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self._lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)))
        return major.value, minor.value

    @property
    def supported_archs(self) -> tuple[int, ...]:
        """Compute capabilities this NVRTC can target, e.g. (75, 80, ..., 90, ...)."""
        count = ctypes.c_int()
        self._check(self._lib.nvrtcGetNumSupportedArchs(ctypes.byref(count)))
        archs = (ctypes.c_int * count.value)()
        self._check(self._lib.nvrtcGetSupportedArchs(archs))
        return tuple(archs)

    def compile(self, source: str, options: tuple[str, ...], headers: dict[str, str] | None = None,
                name: str = "kern.cu") -> Compiled:
        """Compile ``source`` with ``options``; ``headers`` maps include names to in-memory text."""
        lib, headers = self._lib, headers or {}
        prog = ctypes.c_void_p()
        texts = (ctypes.c_char_p * len(headers))(*(t.encode() for t in headers.values()))
        names = (ctypes.c_char_p * len(headers))(*(n.encode() for n in headers))
        self._check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), len(headers),
                                           texts, names))
        try:
            opts = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
            rc = lib.nvrtcCompileProgram(prog, len(options), opts)
            log = self._text(lib.nvrtcGetProgramLogSize, lib.nvrtcGetProgramLog, prog)
            if rc != 0:
                return Compiled(False, log, "", 0)
            ptx = self._text(lib.nvrtcGetPTXSize, lib.nvrtcGetPTX, prog)
            size = ctypes.c_size_t()
            cubin = size.value if lib.nvrtcGetCUBINSize(prog, ctypes.byref(size)) == 0 else 0
            return Compiled(True, log, ptx, cubin)
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))

    def _text(self, get_size, get, prog) -> str:
        size = ctypes.c_size_t()
        self._check(get_size(prog, ctypes.byref(size)))
        buf = ctypes.create_string_buffer(size.value)
        self._check(get(prog, buf))
        return buf.value.decode(errors="replace")

    def _check(self, rc: int) -> None:
        if rc != 0:
            raise RuntimeError(f"NVRTC call failed: {self._lib.nvrtcGetErrorString(rc).decode()}")


def load() -> tuple[Nvrtc | None, str]:
    """The first NVRTC that loads, or (None, the reason in one line)."""
    tried = []
    for path in _candidates():
        try:
            return Nvrtc(path), ""
        except OSError as exc:
            tried.append(f"{path}: {exc}")
    if not tried:
        return None, "libnvrtc not found (the test extra installs it: pip install -e '.[test]')"
    return None, "libnvrtc would not load: " + "; ".join(tried)


#: A warning of NVRTC's front end ("kern.cu(12): warning #177-D: ...") or of ptxas ("ptxas warning : ...").
_WARNING = re.compile(r"\bwarning\b(\s*#\d+-D)?\s*:", re.I)


def warnings_in(log: str) -> list[str]:
    """The warning lines of a compiler log (front end and ptxas), stripped."""
    return [line.strip() for line in log.splitlines() if _WARNING.search(line)]
