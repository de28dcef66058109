"""Hardware configs and ``--set`` overrides under generated bad input: every mutation of a shipped
config, every random override and arbitrary text either validates (and then simulates, exit 0 or
2) or exits 2 with one line ``error: FILE: field.path: problem``; never a traceback or exit 1."""

from __future__ import annotations

import copy

import pytest
import yaml
from hypothesis import given, strategies as st

from accel_sim import load_config
from accel_sim.errors import ConfigError
from tests.hardening.helpers import CONFIGS, assert_bad_input, assert_ok_or_bad_input, cli, examples

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
SAMPLE_TRACE = CONFIGS.parent / "traces" / "sparse_rtrl_h16.arrows"

weird_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["64 KiB", "1 GHz", "2 nJ", "-1 KiB", "1e400", "64 pJ", "1.5 B", "inf", "nan", "0", "1e-300 Hz"]),
)
weird_values = st.one_of(weird_scalars, st.lists(weird_scalars, max_size=3),
                         st.dictionaries(st.text(max_size=6), weird_scalars, max_size=3))


def _paths(node, prefix=()):
    """Every key path in a decoded YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))


def mutate(draw, data: dict) -> dict:
    """1-3 random replace / delete / add edits of a nested mapping (a copy), drawn by ``draw``."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(weird_values)
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[draw(st.text(min_size=1, max_size=8))] = draw(weird_values)
    return data


@st.composite
def mutated_config(draw):
    return mutate(draw, yaml.safe_load(draw(st.sampled_from(SHIPPED)).read_text()))


def _simulate_if_valid(path):
    code, _, err = cli(["validate-config", path])
    assert_ok_or_bad_input(code, err, path)
    if code == 0:  # a config that validates must also simulate (or refuse with exit 2), at L0 and L1
        for fidelity in ("L0", "L1"):
            code, _, err = cli(["simulate", SAMPLE_TRACE, "--config", path, "--fidelity", fidelity])
            assert_ok_or_bad_input(code, err)


@examples(25)
@given(data=mutated_config())
def test_mutated_shipped_configs_validate_or_exit_2_naming_file_and_field(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cfg") / "mutated.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    _simulate_if_valid(path)


@examples(25)
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_is_refused_with_the_file_named(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "text.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    code, _, err = cli(["validate-config", path])
    assert_bad_input(code, err, path)


@examples(15)
@given(raw=st.binary(min_size=1, max_size=64))
def test_binary_files_are_refused_with_the_file_named(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("cfg") / "binary.yaml"
    path.write_bytes(b"\xff" + raw)  # never valid UTF-8
    code, _, err = cli(["validate-config", path])
    assert_bad_input(code, err, path, "UTF-8")


def _schema_keys():
    data = yaml.safe_load((CONFIGS / "edge_tiny.yaml").read_text())
    return [".".join(p) for p in _paths(data)]


override_keys = st.one_of(st.sampled_from(_schema_keys()),
                          st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=8),
                                   min_size=1, max_size=4).map(".".join))
override_values = st.one_of(
    st.sampled_from(["", "[", "{a: 1}", "!!python/object/apply:os.system ['true']", "1e9", "-1", "0", ".inf",
                     ".nan", "true", "null", "10**30", "1" + "0" * 30, "2 GHz", "'x'\nname: y"]),
    st.text(max_size=10),
)


@examples(40)
@given(overrides=st.lists(st.tuples(override_keys, override_values), min_size=1, max_size=3))
def test_random_set_overrides_validate_or_exit_2(overrides):
    config = CONFIGS / "edge_tiny.yaml"
    args = ["validate-config", config]
    for key, value in overrides:
        args += ["--set", f"{key}={value}"]
    code, _, err = cli(args)
    assert_ok_or_bad_input(code, err, config)
    if code == 0:
        args[0:2] = ["simulate", SAMPLE_TRACE, "--config", config, "--fidelity", "L0"]
        code, _, err = cli(args)
        assert_ok_or_bad_input(code, err)


def test_python_api_raises_config_error_with_source_and_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text((CONFIGS / "edge_tiny.yaml").read_text())
    with pytest.raises(ConfigError) as exc:
        load_config(path, ["clock_hz=.inf"])
    assert exc.value.source == str(path) and exc.value.field == "clock_hz"
