"""Run on a GPU: print, as JSON, every (source, options) that CuPy hands to NVRTC while the
project's kernels are built, both dtypes. ``python -m tests.gpu.capture_cupy``

A fresh process with ``CUPY_CACHE_IN_MEMORY=1`` so that nothing comes from a kernel cache;
``tests/gpu/test_cupy_capture.py`` compares the result with ``cupy_units.project_units()``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ["CUPY_CACHE_IN_MEMORY"] = "1"


def main() -> int:
    import cupy
    import numpy as np
    from cupy.cuda import compiler

    n = 64
    arrays = {dt: ([cupy.ones(n, dt) for _ in range(8)], [cupy.ones((3, n), dt) for _ in range(2)])
              for dt in (np.float32, np.float64)}  # made first: CuPy's own fill kernel is not captured
    cupy.cuda.Device().synchronize()
    captured = []
    original = compiler._NVRTCProgram.compile

    def compile(self, options=(), log_stream=None):
        if self.src:  # CuPy also compiles an empty program to read the compiler's version
            captured.append({"source": self.src, "options": list(options)})
        return original(self, options, log_stream)

    compiler._NVRTCProgram.compile = compile
    from rtrl.kernels import elementwise
    from rtrl.kernels.cuda import CudaKernels

    for dtype, (v, m) in arrays.items():
        CudaKernels(dtype)  # builds the RawModule and fetches every kernel
        elementwise.events(v[0], v[1], 0.3, 0.2)
        elementwise.gates(m[0], m[1], *v[2:])
    cupy.cuda.Device().synchronize()
    json.dump({"cupy": cupy.__version__, "units": captured}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
