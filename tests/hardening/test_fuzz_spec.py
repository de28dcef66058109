"""Sweep specs under generated bad input (``accel-sim sweep SPEC --dry-run``): every mutation of a
valid spec either validates or exits 2 with one line naming the spec file (and the field); config
paths cannot escape the spec's folder; huge grids are refused instead of hanging."""

from __future__ import annotations

import copy
import os

import pytest
import yaml
from hypothesis import given, strategies as st

from accel_sim.errors import ConfigError
from codesign.sweep import load_spec
from tests.hardening.helpers import CONFIGS, assert_bad_input, assert_ok_or_bad_input, cli, examples, files_under
from tests.hardening.test_fuzz_config import mutate

VALID = {
    "schema": "accel-sim/sweep/1", "name": "fz", "evaluator": {"kind": "synthetic"},
    "sampling": {"mode": "grid", "seed": 0},
    "model": {"method": ["sparse_rtrl", "bptt"], "n_hidden": [8, 16], "weight_density": [0.25]},
    "training": {"epochs": 1, "trace_sequences": 2},
    "include": [{"method": "dense_rtrl"}],
    "hardware": {"configs": ["a.yaml"], "set": {"pe_array.rows": [4, 8]}, "fidelity": ["L0"]},
    "objectives": [{"metric": "energy_pj", "goal": "min"}],
    "constraints": [{"metric": "test_accuracy", "min": 0.1}],
}


@st.composite
def mutated_spec(draw):
    return mutate(draw, VALID)


@examples(40)
@given(data=mutated_spec())
def test_mutated_specs_validate_or_exit_2_naming_the_file(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("spec")
    (folder / "a.yaml").write_text("# placeholder for the synthetic evaluator\n")
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    before = files_under(folder)
    code, _, err = cli(["sweep", path, "--dry-run"])
    assert_ok_or_bad_input(code, err, path)
    assert files_under(folder) == before  # a dry run writes nothing


def _spec(folder, **hardware):
    data = copy.deepcopy(VALID)
    data["hardware"].update(hardware)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("config", ["/etc/passwd", "../outside.yaml", "sub/../../outside.yaml", "link.yaml"])
def test_config_paths_cannot_escape_the_spec_folder(tmp_path, monkeypatch, config):
    monkeypatch.chdir(tmp_path)  # the working directory is another allowed root: keep it out of the way
    outside = tmp_path / "outside.yaml"
    outside.write_text("secret: 1\n")
    folder = tmp_path / "specs" / "here"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    (folder / "link.yaml").symlink_to(outside)
    path = _spec(folder, configs=[config])
    code, _, err = cli(["sweep", path, "--dry-run"])
    assert_bad_input(code, err, path, "hardware.configs.0", "escape")
    with pytest.raises(ConfigError) as exc:
        load_spec(path)
    assert exc.value.field == "hardware.configs.0"


def test_shipped_configs_may_be_named_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _spec(tmp_path, configs=[str(CONFIGS / "edge_tiny.yaml")])
    code, out, err = cli(["sweep", path, "--dry-run"])
    assert code == 0, err


@pytest.mark.parametrize("change, field", [
    ({"model": {"n_hidden": list(range(1, 200)), "seed": list(range(600))}}, "grid has"),
    ({"sampling": {"mode": "random", "samples": 10**9}}, "sampling.samples"),
    ({"model": {"n_hidden": [10**9]}}, "model.n_hidden"),
    ({"name": ".."}, "name"),
    ({"training": {"learning_rate": float("inf")}}, "training.learning_rate"),
    ({"constraints": [{"metric": "cycles", "max": float("nan")}]}, "constraints.0.max"),
])
def test_specs_that_would_hang_or_escape_are_refused(tmp_path, change, field):
    (tmp_path / "a.yaml").write_text("#\n")
    data = {**copy.deepcopy(VALID), **change}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = cli(["sweep", path, "--dry-run"])
    assert_bad_input(code, err, path, field)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00", b"[" * 5000, b"a: &a [1]\nb: *a\n" + b"c: [" * 3000])
def test_unreadable_yaml_exits_2(tmp_path, content):
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    code, _, err = cli(["sweep", path, "--dry-run"])
    assert_bad_input(code, err, path)


def test_no_spec_file_is_opened_outside_its_folder_by_symlinked_spec_dir(tmp_path, monkeypatch):
    """A spec reached through a symlinked folder resolves configs against the link's target folder."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.yaml").write_text("#\n")
    _spec(real, configs=["a.yaml"])
    os.symlink(real, tmp_path / "alias")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(["sweep", tmp_path / "alias" / "spec.yaml", "--dry-run"])
    assert code == 0, err
