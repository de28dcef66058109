"""What a sweep sends to workers is values: a hardware config as a validated dict validates back to
the config the file gives; bad-input errors survive pickling (the way results come back from
worker processes and Dask workers); failures are classed as bad input, transient or a bug."""

from __future__ import annotations

import concurrent.futures as cf
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from accel_sim.errors import ConfigError, InputError, TraceFormatError
from codesign.sweep.backends import TRANSIENT
from codesign.sweep.executor import failure_kind
from codesign.sweep.points import HardwarePoint
from codesign.sweep.tasks import hardware_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "hw_configs").glob("*.yaml"))
PIPELINE = {"kind": "pipeline"}


@pytest.mark.skipif(not SHIPPED, reason="shipped hw configs missing")
@settings(max_examples=30, deadline=None)
@given(path=st.sampled_from(SHIPPED), rows=st.integers(1, 64), clock=st.floats(1e6, 5e9))
def test_config_dict_validates_back_to_the_config_of_the_file(path, rows, clock):
    from accel_sim import load_config, validate_config

    overrides = (("clock_hz", clock), ("pe_array.rows", rows))
    data = hardware_config(PIPELINE, path, HardwarePoint(path.name, overrides, "L1"))
    shipped = pickle.loads(pickle.dumps(data))  # as it reaches a worker
    assert validate_config(shipped, "worker") == load_config(path, dict(overrides))


def test_synthetic_evaluator_ships_no_config(tmp_path):
    (tmp_path / "placeholder.yaml").write_text("# not a config\n")
    assert hardware_config({"kind": "synthetic"}, tmp_path / "placeholder.yaml", HardwarePoint("p", (), "L1")) is None


@pytest.mark.parametrize("exc", [ConfigError("a.yaml", "pe_array.rows", "must be > 0"),
                                 TraceFormatError("t.arrows", "truncated"), InputError("bad trace")])
def test_bad_input_errors_survive_pickling(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc) and vars(back) == vars(exc)


@pytest.mark.parametrize("exc,kind", [
    (ConfigError("a.yaml", "x", "bad"), "input"), (ValueError("bad"), "input"), (MemoryError(), "input"),
    (OSError("connection reset"), "transient"), (cf.BrokenExecutor("worker died"), "transient"),
    (cf.CancelledError(), "transient"), (KeyError("x"), "internal"), (TypeError("x"), "internal"),
])
def test_failure_kinds(exc, kind):
    assert failure_kind(exc, TRANSIENT) == kind


def test_a_killed_dask_worker_is_transient():
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    exc = distributed.KilledWorker("hardware_task-1", "tcp://127.0.0.1:1", 3)
    assert failure_kind(exc, TRANSIENT) == "internal"  # unknown to the local backends ...
    assert failure_kind(exc, (*TRANSIENT, distributed.KilledWorker)) == "transient"  # ... known to Dask's
