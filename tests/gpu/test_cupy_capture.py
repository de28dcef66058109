"""On a GPU: what CuPy really hands to NVRTC for the project's kernels is what
``tests/gpu/test_compile.py`` compiles without a GPU (``cupy_units.project_units()``): the same
sources, byte for byte, and the same options apart from CuPy's ``-I`` dirs and the device's arch."""

import json
import re
import subprocess
import sys

from tests.gpu import cupy_units as cu
from tests.gpu import requires_gpu

pytestmark = requires_gpu


def test_cupy_compiles_what_the_compile_check_compiles():
    run = subprocess.run([sys.executable, "-m", "tests.gpu.capture_cupy"], cwd=cu.ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    captured = json.loads(run.stdout)["units"]
    units = {u.source: u for u in cu.project_units()}
    assert len(captured) == len(units)  # one compilation per unit (the cache was in memory)
    for item in captured:
        unit = units.get(item["source"])
        assert unit is not None, f"CuPy compiled a source the compile check does not:\n{item['source'][:2000]}"
        options = [o for o in item["options"] if not o.startswith("-I")]
        arch = [o for o in options if re.fullmatch(r"-arch=(sm|compute)_\d+", o)]
        assert len(arch) == 1, options
        expected = [o for o in cu.nvrtc_options(unit, arch[0].removeprefix("-arch=")) if not o.startswith("-I")]
        assert options == expected, unit.label
    assert {item["source"] for item in captured} == set(units)
