"""Every invalid config gives exit code 2 and ``FILE: field.path: problem`` (hypothesis-generated)."""

import copy
import re

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from codesign.cli import main
from tests.sim.helpers import CONFIGS

BASE = yaml.safe_load((CONFIGS / "edge_tiny.yaml").read_text())
NUMERIC = [("pe_array", "rows"), ("pe_array", "cols"), ("pe_array", "macs_per_cycle"), ("sram.buffer", "size_bytes"),
           ("sram.act", "width_bytes"), ("sram.buffer", "banks"), ("dram", "bandwidth_bytes_per_cycle"),
           ("index_units", "indices_per_cycle"), ("interconnect", "bytes_per_cycle"), ("clock_hz", None)]
REQUIRED = [("pe_array", "rows"), ("pe_array", "mac_energy_pj"), ("sram.buffer", "width_bytes"), ("dram", "energy_pj_per_bit"),
            ("index_units", "count"), ("mapping", "tensors"), ("interconnect", None), ("name", None)]


def _node(data, dotted):
    for part in dotted.split("."):
        data = data[part]
    return data


def _check(tmp_path, data_or_text, expect_field, capsys, extra=()):
    path = tmp_path / "bad.yaml"
    path.write_text(data_or_text if isinstance(data_or_text, str) else yaml.safe_dump(data_or_text))
    code = main(["validate-config", str(path), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1
    assert re.match(rf"error: {re.escape(str(path))}: {re.escape(expect_field)}: \S", err), err


settings_ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_
@given(target=st.sampled_from(NUMERIC), value=st.sampled_from([0, -1, -3.5, "many", True, [1], "12 pJ"]))
def test_bad_numbers(tmp_path, capsys, target, value):
    section, key = target
    data = copy.deepcopy(BASE)
    if key is None:
        data[section] = value
        field = section
    else:
        _node(data, section)[key] = value
        field = f"{section}.{key}"
    if isinstance(value, float) and key in ("bandwidth_bytes_per_cycle", "indices_per_cycle", "bytes_per_cycle"):
        pass  # negative float still invalid (gt 0)
    _check(tmp_path, data, field, capsys)


@settings_
@given(target=st.sampled_from(REQUIRED))
def test_missing_fields(tmp_path, capsys, target):
    section, key = target
    data = copy.deepcopy(BASE)
    if key is None:
        del data[section]
        field = section
    else:
        del _node(data, section)[key]
        field = f"{section}.{key}"
    _check(tmp_path, data, field, capsys)


@settings_
@given(section=st.sampled_from(["pe_array", "dram", "sram.act", "index_units", "mapping.tensors.state", None]),
       key=st.from_regex(r"[a-z]{3,8}_x", fullmatch=True))
def test_unknown_fields(tmp_path, capsys, section, key):
    data = copy.deepcopy(BASE)
    (_node(data, section) if section else data)[key] = 1
    _check(tmp_path, data, f"{section}.{key}" if section else key, capsys)


@settings_
@given(version=st.sampled_from(["accel-sim/hw/2", "", "hw/1", 1]))
def test_wrong_schema_version(tmp_path, capsys, version):
    data = copy.deepcopy(BASE)
    data["schema"] = version
    _check(tmp_path, data, "schema", capsys)


@settings_
@given(case=st.sampled_from([("pe_array.rowz", "pe_array.rowz"), ("sram.nope.size_bytes", "sram.nope"),
                             ("dram", "dram"), ("pe_array.rows.deep", "pe_array.rows.deep"), ("nothing", "nothing")]))
def test_set_on_missing_key(tmp_path, capsys, case):
    key, field = case
    _check(tmp_path, copy.deepcopy(BASE), field, capsys, extra=["--set", f"{key}=3"])


def test_set_is_typed(tmp_path, capsys):
    _check(tmp_path, copy.deepcopy(BASE), "pe_array.rows", capsys, extra=["--set", "pe_array.rows=many"])
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert main(["validate-config", str(path), "--set", "pe_array.rows=32", "--set", "sram.act.size_bytes=1 MiB"]) == 0


def test_yaml_syntax_error(tmp_path, capsys):
    _check(tmp_path, "schema: accel-sim/hw/1\npe_array: {rows: [1, 2\n", "line 3, column 1", capsys)


def test_unknown_level_reference(tmp_path, capsys):
    data = copy.deepcopy(BASE)
    data["mapping"]["tensors"]["influence"]["level"] = "l9"
    _check(tmp_path, data, "mapping.tensors.influence.level", capsys)


def test_shipped_configs_are_valid(capsys):
    for path in sorted(CONFIGS.glob("*.yaml")):
        assert main(["validate-config", str(path)]) == 0, capsys.readouterr().err


BAD_ACTIONS = [  # (action, the field the error must name)
    ({"target": "Q", "action": "skipping", "condition_on": ["A"]}, "sparsity.actions.0.target"),
    ({"target": "B", "action": "skipping", "condition_on": ["nothing"]}, "sparsity.actions.0.condition_on.0"),
    ({"target": "B", "action": "gating", "condition_on": ["A", "B"]}, "sparsity.actions.0.condition_on.1"),
    ({"target": "weights", "action": "skipping", "condition_on": ["weights"]}, "sparsity.actions.0.condition_on.0"),
    ({"target": "B", "action": "skipping", "condition_on": ["A"], "level": "l9"}, "sparsity.actions.0.level"),
    ({"target": "B", "action": "dropping", "condition_on": ["A"]}, "sparsity.actions.0.action"),
    ({"target": "B", "action": "skipping", "condition_on": []}, "sparsity.actions.0.condition_on"),
]


@settings_
@given(case=st.sampled_from(BAD_ACTIONS))
def test_bad_sparse_actions_name_the_field(tmp_path, capsys, case):
    action, field = case
    data = copy.deepcopy(BASE)
    data["sparsity"] = {"actions": [action]}
    _check(tmp_path, data, field, capsys)


def test_bad_formats_and_levels_name_the_field(tmp_path, capsys):
    cases = [
        ({"via": ["nowhere"], "level": "buffer"}, "mapping.tensors.weights.via.0"),
        ({"via": ["buffer"], "level": "buffer"}, "mapping.tensors.weights.via"),
        ({"level": "buffer", "formats": {"act": "csr"}}, "mapping.tensors.weights.formats.act"),
        ({"level": "buffer", "formats": {"buffer": "zip"}}, "mapping.tensors.weights.formats.buffer.type"),
        ({"level": "buffer", "formats": {"buffer": {"type": "rle"}}}, "mapping.tensors.weights.formats.buffer"),
    ]
    for placement, field in cases:
        data = copy.deepcopy(BASE)
        data["mapping"]["tensors"]["weights"] = placement
        _check(tmp_path, data, field, capsys)


def test_handling_and_actions_together_are_refused(tmp_path, capsys):
    data = copy.deepcopy(BASE)
    data["sparsity"]["handling"] = "skipping"
    _check(tmp_path, data, "sparsity.actions", capsys)
