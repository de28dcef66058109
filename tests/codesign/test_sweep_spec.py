"""Sweep specs: every invalid spec gives exit code 2 and names the field path; expansion is exact."""

from __future__ import annotations

import itertools
import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from accel_sim.errors import ConfigError
from codesign.cli import main
from codesign.sweep import expand, load_spec, parse_spec
from tests.codesign.codesign_helpers import write_spec

BAD = [
    ({"hardware": None}, "hardware"),
    ({"model": {"n_hiden": [3]}}, "model.n_hiden"),
    ({"model": {"weight_density": [0.5, 1.5]}}, "model.weight_density.1"),
    ({"model": {"method": ["sgd"]}}, "model.method.0"),
    ({"model": {"n_hidden": [-3]}}, "model.n_hidden.0"),
    ({"model": {"n_hidden": {"min": 4, "max": 8}}}, "model.n_hidden"),
    ({"objectives": [{"metric": "nope", "goal": "min"}]}, "objectives.0.metric"),
    ({"objectives": [{"metric": "cycles", "goal": "up"}]}, "objectives.0.goal"),
    ({"constraints": [{"metric": "cycles"}]}, "constraints.0"),
    ({"schema": "accel-sim/sweep/9"}, "schema"),
    ({"sampling": {"mode": "random"}}, "sampling"),
    ({"training": {"epochs": 0}}, "training.epochs"),
    ({"training": {"rewire_fraction": 1.5}}, "training.rewire_fraction"),
    ({"training": {"rewire_every": -1}}, "training.rewire_every"),
    ({"hardware": {"configs": ["missing.yaml"]}}, "hardware.configs.0"),
    ({"hardware": {"configs": ["alpha.yaml"], "set": {"pe_array.rows": []}}}, "hardware.set.pe_array.rows"),
    ({"evaluator": {"kind": "synthetic", "work_ms": -1}}, "evaluator.work_ms"),
    ({"surprise": 1}, "surprise"),
    ({"int": 1}, "int"),  # a key named like a pydantic union tag (found by the spec fuzzer)
]


def _bad_spec(tmp_path, change):
    path = write_spec(tmp_path)
    doc = yaml.safe_load(path.read_text())
    for key, value in change.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("change,field", BAD, ids=[f for _, f in BAD])
def test_invalid_spec_exits_2_with_field_path(tmp_path, capsys, change, field):
    path = _bad_spec(tmp_path, change)
    code = main(["sweep", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith(f"error: {path}: {field}: "), err
    assert "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results.sqlite").exists()  # nothing ran


def test_yaml_syntax_error_exits_2(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("schema: accel-sim/sweep/1\nname: [unclosed\n")
    assert main(["sweep", str(path), "--dry-run"]) == 2
    assert f"{path}: line" in capsys.readouterr().err


def test_missing_spec_file_exits_2(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_grid_is_the_full_product_with_unique_keys(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    points = expand(spec)
    # 3 methods x 2 sizes x 2 densities = 12 model points, x 2 configs x 2 rows = 48
    assert len(points) == 3 * 2 * 2 * 2 * 2
    assert [p.index for p in points] == list(range(len(points)))
    assert len({p.key for p in points}) == len(points)
    assert len({p.model.key for p in points}) == 12
    combos = {(p.model.method, p.model.n_hidden, p.model.weight_density, p.hardware.config,
               dict(p.hardware.overrides)["pe_array.rows"]) for p in points}
    assert combos == set(itertools.product(["sparse_rtrl", "dense_rtrl", "bptt"], [16, 32], [0.1, 0.5],
                                           ["alpha.yaml", "beta_skipping.yaml"], [8, 16]))
    # expansion is deterministic: same spec, same keys, same order
    assert [p.key for p in expand(load_spec(write_spec(tmp_path)))] == [p.key for p in points]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), samples=st.integers(1, 30),
       lo=st.floats(0.01, 0.5), span=st.floats(0.0, 0.5))
def test_random_sampling_is_seeded_in_range_and_unique(tmp_path_factory, seed, samples, lo, span):
    folder = tmp_path_factory.mktemp("rand")
    path = write_spec(folder, sampling={"mode": "random", "samples": samples, "seed": seed},
                      model={"n_hidden": {"min": 8, "max": 64, "log": True},
                             "weight_density": {"min": lo, "max": lo + span}, "method": ["sparse_rtrl", "bptt"]})
    a, b = expand(load_spec(path)), expand(load_spec(path))
    assert [p.key for p in a] == [p.key for p in b]
    assert len({p.key for p in a}) == len(a) <= samples
    for p in a:
        assert 8 <= p.model.n_hidden <= 64 and isinstance(p.model.n_hidden, int)
        assert lo - 1e-6 <= p.model.weight_density <= lo + span + 1e-6
        assert p.model.method in ("sparse_rtrl", "bptt")


def test_parse_spec_rejects_non_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        parse_spec([1, 2], "x.yaml")


def test_shipped_sweep_specs_are_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    specs = sorted((root / "hw_configs" / "sweeps").glob("*.yaml"))
    for path in specs:
        spec = load_spec(path)
        assert len(expand(spec)) >= 1
        assert math.isfinite(len(spec.objectives))


def test_include_adds_baseline_model_points_on_every_hardware_point(tmp_path):
    path = write_spec(tmp_path, model={"method": ["sparse_rtrl"], "n_hidden": [16], "weight_density": [0.1, 0.5]},
                      include=[{"method": "dense_rtrl", "training": {"train_sequences": 7, "epochs": 2}},
                               {"method": "sparse_rtrl", "weight_density": 0.1}])  # the second repeats the grid
    points = expand(load_spec(path))
    hw = 2 * 2  # configs x pe_array.rows
    assert len(points) == 2 * hw + hw
    dense = [p for p in points if p.model.method == "dense_rtrl"]
    assert len(dense) == hw and len({p.model.key for p in dense}) == 1
    m = dense[0].model
    assert (m.n_hidden, m.weight_density, m.train_sequences, m.epochs) == (16, 0.1, 7, 2)
    assert [p.index for p in points] == list(range(len(points)))
