"""Array-module selection: numpy on the CPU, CuPy on a CUDA GPU (README.md, "GPU (CuPy, optional)").

The learning core is one algorithm written against an array module ``xp``. ``device="cpu"``
(the default) gives numpy; ``device="gpu"`` (or ``"cuda"``) gives CuPy, which is imported only
then and must be installed with ``pip install '.[gpu]'``. An array module may also be passed
directly (``device=numpy`` or ``device=cupy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

GPU_NAMES = ("gpu", "cuda")
INSTALL_HINT = "pip install '.[gpu]'"


class DeviceUnavailableError(ValueError):
    """The requested device cannot be used here (CuPy missing, or no CUDA device)."""


@dataclass(frozen=True, slots=True)
class Backend:
    """``name`` is "cpu" or "gpu"; ``xp`` the array module (numpy or cupy)."""

    name: str
    xp: ModuleType

    @property
    def is_gpu(self) -> bool:
        return self.name == "gpu"


CPU = Backend("cpu", np)


def resolve(device: str | ModuleType | Backend = "cpu") -> Backend:
    """The backend for ``device``: "cpu", "gpu"/"cuda", an array module, or a Backend.

    Raises DeviceUnavailableError (one line, with the install hint) when the GPU cannot be used,
    and ValueError for an unknown device name.
    """
    if isinstance(device, Backend):
        return device
    if device is np:
        return CPU
    if isinstance(device, ModuleType):
        if device.__name__ == "cupy":
            return Backend("gpu", _cupy())
        raise ValueError(f"device: array module must be numpy or cupy, got {device.__name__}")
    if not isinstance(device, str):
        raise ValueError(f"device must be 'cpu', 'gpu' or an array module, got {device!r}")
    name = device.lower()
    if name == "cpu":
        return CPU
    if name in GPU_NAMES:
        return Backend("gpu", _cupy())
    raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")


def _cupy() -> ModuleType:
    """Import CuPy and check that a CUDA device answers."""
    try:
        import cupy
    except ImportError as exc:
        raise DeviceUnavailableError(f"device='gpu' needs CuPy: {INSTALL_HINT} ({exc})") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, or a driver library that will not load
        raise DeviceUnavailableError(
            f"device='gpu': CuPy is installed but no CUDA device is usable ({type(exc).__name__}: {exc})"
        ) from None
    if count < 1:
        raise DeviceUnavailableError("device='gpu': CuPy is installed but no CUDA device was found")
    return cupy


def gpu_available() -> tuple[bool, str]:
    """(True, "") when device="gpu" works here, else (False, the reason in one line)."""
    try:
        _cupy()
    except DeviceUnavailableError as exc:
        return False, str(exc)
    return True, ""


def array_module(a) -> ModuleType:
    """numpy, or cupy when ``a`` is a CuPy array (never imports CuPy itself)."""
    if type(a).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def to_host(a) -> np.ndarray:
    """``a`` as a numpy array: a no-copy view for numpy input, a device-to-host copy for CuPy."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)
