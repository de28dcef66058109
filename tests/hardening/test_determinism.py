"""Determinism: the same seed and config give bit-identical traces (apart from the creation
timestamp in the header's provenance), simulation results (apart from host wall time), reports
(apart from the generation time) and sweep rows, across runs and across 1 worker, 2 worker
processes and a Dask LocalCluster, with the real training + simulation pipeline."""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from accel_sim import load_config, simulate_file
from accel_sim.trace.io import read_trace
from codesign.report import build_report
from codesign.store import ResultStore
from codesign.sweep import load_spec, run_sweep
from tests.codesign.codesign_helpers import write_spec
from tests.hardening.helpers import CONFIGS, cli, files_under

TRAIN = ["train", "--task", "copy", "--task-option", "n_train=6", "--task-option", "n_test=3", "--hidden", "12",
         "--weight-density", "0.5", "--seed", "7", "--quiet", "--json"]


def _content(path):
    trace = read_trace(path)
    provenance = {k: v for k, v in trace.header.provenance.items() if k != "created_utc"}
    header = dataclasses.replace(trace.header, provenance=provenance)
    steps = [(s.step, s.fired.tobytes(), s.support.tobytes()) for c in trace.chunks for s in c.steps]
    ops = [{k: v.tobytes() for k, v in c.ops.items()} for c in trace.chunks]
    return header, steps, ops


@pytest.fixture(scope="module")
def two_traces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("det")
    outs = []
    for name in ("a.arrows", "b.arrows"):
        code, out, err = cli([*TRAIN, "--trace", folder / name])
        assert code == 0, err
        outs.append(out)
    return folder / "a.arrows", folder / "b.arrows", outs


def test_same_seed_same_trace_and_kpis(two_traces):
    a, b, outs = two_traces
    assert _content(a) == _content(b)
    kpis = [yaml.safe_load(o) for o in outs]
    for k in kpis:
        k.pop("step_time_ms", None)  # host wall-clock time
    assert kpis[0] == kpis[1]


@pytest.mark.parametrize("fidelity", ["L0", "L1", "L2"])
def test_same_trace_same_simulation(two_traces, fidelity):
    a, b, _ = two_traces
    config = load_config(CONFIGS / "sparse_skipping.yaml")
    results = []
    for path in (a, a, b):
        d = simulate_file(path, config, fidelity).to_dict()
        d["simulation"].pop("wall_seconds")
        results.append(d)
    assert results[0] == results[1] == results[2]


def test_same_store_same_report(tmp_path):
    store = run_sweep(load_spec(write_spec(tmp_path, name="rep")), tmp_path / "sweep", progress=False).store_path
    for out in ("r1", "r2"):
        build_report(store, tmp_path / out)
    one, two = files_under(tmp_path / "r1"), files_under(tmp_path / "r2")
    assert one.keys() == two.keys()
    stamp = re.compile(r"generated \d{4}-\d\d-\d\d \d\d:\d\d")
    for name in one:
        x, y = (
            (tmp_path / "r1" / name).read_bytes(), (tmp_path / "r2" / name).read_bytes())
        if name.endswith((".html", ".md")):
            x, y = (stamp.sub("generated <time>", t.decode()) for t in (x, y))
        assert x == y, name


def _real_spec(folder):
    spec = {
        "schema": "accel-sim/sweep/1", "name": "det",
        "model": {"task": ["copy"], "method": ["sparse_rtrl", "bptt"], "n_hidden": [8], "weight_density": [0.5]},
        "training": {"epochs": 1, "train_sequences": 6, "test_sequences": 3, "trace_sequences": 1},
        "hardware": {"configs": [str(CONFIGS / "edge_tiny.yaml"), str(CONFIGS / "sparse_skipping.yaml")],
                     "fidelity": ["L0", "L1"]},
    }
    path = folder / "det.yaml"
    path.write_text(yaml.safe_dump(spec))
    return load_spec(path)


def test_real_pipeline_rows_identical_across_workers_and_dask(tmp_path):
    pytest.importorskip("distributed", reason="the dask extra (dask, distributed) is not installed")
    spec = _real_spec(tmp_path)
    rows = {}
    for name, kw in (("inline", {"workers": 1}), ("procs", {"workers": 2}), ("dask", {"workers": 2, "dask": "local"}),
                     ("again", {"workers": 1})):
        summary = run_sweep(spec, tmp_path / name, progress=False, **kw)
        assert summary.failed == 0, summary.errors
        with ResultStore(summary.store_path) as store:
            rows[name] = store.rows()
    assert len(rows["inline"]) == 8
    assert rows["inline"] == rows["procs"] == rows["dask"] == rows["again"]
