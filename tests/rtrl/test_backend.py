"""Device selection: numpy by default, CuPy only when asked for, one-line errors without it."""

import subprocess
import sys
import types

import numpy as np
import pytest

from rtrl import EGRU, make_learner
from rtrl.backend import DeviceUnavailableError, array_module, resolve, to_host


def test_cpu_is_the_default_and_numpy_module_works():
    for device in ("cpu", "CPU", np):
        model = EGRU(3, 5, 2, device=device)
        assert model.device == "cpu" and model.xp is np
        assert all(type(v) is np.ndarray for v in model.params.values())
    assert EGRU(3, 5, 2).device == "cpu"
    assert array_module(np.zeros(2)) is np and to_host([1, 2]).tolist() == [1, 2]


@pytest.mark.parametrize("device", ["tpu", 3, types.ModuleType("torch")])
def test_unknown_device_is_a_value_error(device):
    with pytest.raises(ValueError, match="device"):
        resolve(device)


def test_gpu_without_cupy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(DeviceUnavailableError, match=r"pip install '\.\[gpu\]'") as info:
        EGRU(3, 5, 2, device="gpu")
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)  # the CLI turns it into exit 2, one line


def test_gpu_without_a_cuda_device_says_so(monkeypatch):
    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(DeviceUnavailableError, match="no CUDA device"):
        make_learner(EGRU(3, 5, 2, device="cuda"), "sparse_rtrl")


def test_rtrl_imports_without_cupy():
    code = "import sys, rtrl, rtrl.kernels, rtrl.kernels.fused; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
