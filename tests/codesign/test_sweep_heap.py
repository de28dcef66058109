"""codesign.sweep.heap: in a process started with Dask's nanny setting MALLOC_TRIM_THRESHOLD_=65536
(glibc's dynamic mmap threshold off), a 1 MiB array allocated and freed over and over faults in
fresh pages every time; inside numeric_heap it reuses heap memory, and after it the process is
back to the pinned behaviour. Where nothing is pinned, numeric_heap changes nothing."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from codesign.sweep.heap import numeric_heap

PROBE = r"""
import json, resource
import numpy as np
from codesign.sweep.heap import numeric_heap

def faults(rounds=200):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        a = np.ones(1 << 17)  # 1 MiB, touched
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

out = {"before": faults()}
with numeric_heap() as changed:
    out["inside"], out["changed"] = faults(), changed
    with numeric_heap():  # nested (another task thread): still on
        out["nested"] = faults()
    out["after_nested"] = faults()
out["after"] = faults()
print(json.dumps(out))
"""


def _probe(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_pinned_thresholds_fault_every_array_in_but_not_inside_numeric_heap():
    out = _probe({"MALLOC_TRIM_THRESHOLD_": "65536"})
    pages = 200 * (1 << 20) // 4096
    assert out["changed"] is True
    assert out["before"] > pages // 2  # every round mmaps and faults fresh pages
    assert out["inside"] < out["before"] // 20 and out["nested"] < out["before"] // 20
    assert out["after_nested"] < out["before"] // 20  # the outer task is still running
    assert out["after"] > pages // 2  # the pinned behaviour is back once the last task left


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_default_thresholds_are_left_alone():
    out = _probe({})
    assert out["changed"] is False
    assert max(out.values()) < 200 * (1 << 20) // 4096 // 20  # glibc's dynamic threshold already reuses memory


def test_numeric_heap_without_pinned_thresholds_yields_false(monkeypatch):
    for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_"):
        monkeypatch.delenv(name, raising=False)
    with numeric_heap() as changed:
        assert changed is False
