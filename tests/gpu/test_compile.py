"""The CUDA sources compile with NVRTC (no GPU needed; skipped where libnvrtc is not installed,
e.g. ``pip install nvidia-cuda-nvrtc-cu12``): every kernel is emitted for both dtypes."""

import ctypes
import ctypes.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from rtrl.kernels.cuda_source import KERNEL_NAMES, source


def find_nvrtc() -> str | None:
    try:
        import nvidia.cuda_nvrtc as pkg  # the pip wheel's layout

        for lib in Path(list(pkg.__path__)[0], "lib").glob("libnvrtc.so*"):
            if "builtins" not in lib.name and "alt" not in lib.name:
                return str(lib)
    except ImportError:
        pass
    return ctypes.util.find_library("nvrtc")


NVRTC = find_nvrtc()
pytestmark = pytest.mark.skipif(NVRTC is None, reason="libnvrtc not found (pip install nvidia-cuda-nvrtc-cu12)")


def compile_ptx(code: str) -> str:
    lib = ctypes.CDLL(NVRTC)
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), code.encode(), b"rtrl.cu", 0, None, None) == 0
    opts = (ctypes.c_char_p * 2)(b"--gpu-architecture=compute_80", b"-std=c++11")
    rc = lib.nvrtcCompileProgram(prog, 2, opts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    assert rc == 0, log.value.decode()
    lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
    ptx = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetPTX(prog, ptx)
    return ptx.value.decode()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_raw_kernels_compile(dtype):
    ptx = compile_ptx(source(dtype))
    assert all(f".entry {name}(" in ptx for name in KERNEL_NAMES)


def test_elementwise_bodies_compile(monkeypatch):
    """The ElementwiseKernel bodies, wrapped as device functions with the same typed names."""
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(ElementwiseKernel=lambda *a: None))
    monkeypatch.delitem(sys.modules, "rtrl.kernels.elementwise", raising=False)
    from rtrl.kernels import elementwise as ew

    def wrap(name, ins, outs, body):
        args = ins.split(", ") + [p.replace("T ", "T& ") for p in outs.split(", ")]
        return f'extern "C" __global__ void {name}_entry() {{}}\n__device__ void {name}({", ".join(args)}) {{{body}}}\n'

    for ctype in ("float", "double"):
        compile_ptx(f"typedef {ctype} T;\n" + wrap("events", ew.EVENTS_IN, ew.EVENTS_OUT, ew.EVENTS_BODY)
                    + wrap("gates", ew.GATES_IN, ew.GATES_OUT, ew.GATES_BODY))
