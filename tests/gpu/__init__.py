"""GPU tests: marked ``gpu`` and skipped, with the reason, where CuPy or a CUDA device is missing.
``test_compile.py`` (NVRTC) and ``test_gpu_check_cpu.py`` need no GPU and run everywhere."""

import pytest

from rtrl.backend import gpu_available

GPU_OK, GPU_REASON = gpu_available()
requires_gpu = [pytest.mark.gpu, pytest.mark.skipif(not GPU_OK, reason=f"needs CuPy and a CUDA device: {GPU_REASON}")]
#: Relative tolerance of GPU results against the numpy path, by dtype (issue 6).
RTOL = {"float64": 1e-10, "float32": 1e-5}


def relative_error(a, b) -> float:
    """max |a - b| / max |b| over arrays (host or device)."""
    import numpy as np

    from rtrl.backend import to_host

    a, b = to_host(a).astype(np.float64), to_host(b).astype(np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)) if b.size else 0.0
