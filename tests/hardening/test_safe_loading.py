"""Safe loading everywhere: YAML only through the shared loader (accel_sim/safe_yaml.py: safe,
duplicate keys refused), no pickle, numpy loads with pickling off, no eval/exec, across every
shipped Python file (a static scan, so a new unsafe call fails here)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.hardening.helpers import ROOT

PACKAGES = ("rtrl", "accel_sim", "codesign", "benchmarks", "traces")


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            yield node, owner, name


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in ("pickle", "cPickle", "dill", "shelve", "marshal", "joblib") for n in names):
                found.append(f"line {node.lineno}: imports a pickle-like module")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                base_name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
                if base_name in ("Loader", "FullLoader", "UnsafeLoader", "Constructor", "FullConstructor",
                                 "UnsafeConstructor", "CLoader", "CFullLoader", "CUnsafeLoader"):
                    found.append(f"line {node.lineno}: class {node.name} derives from yaml.{base_name} (use SafeLoader)")
    for node, owner, name in _calls(tree):
        where = f"line {node.lineno}"
        if owner == "yaml" and name in ("load", "load_all", "unsafe_load", "full_load", "unsafe_load_all",
                                        "safe_load", "safe_load_all"):  # safe, but lets duplicate keys through
            found.append(f"{where}: yaml.{name} (use accel_sim.safe_yaml)")
        if name in ("eval", "exec") and owner == "":
            found.append(f"{where}: {name}()")
        if owner in ("np", "numpy") and name == "load":
            kw = {k.arg: k.value for k in node.keywords}
            if not (isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False):
                found.append(f"{where}: np.load without allow_pickle=False")
        for k in node.keywords:
            if k.arg == "allow_pickle" and isinstance(k.value, ast.Constant) and k.value.value is True:
                found.append(f"{where}: allow_pickle=True")
            if k.arg == "Loader":
                found.append(f"{where}: explicit YAML Loader")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unsafe_loading(path):
    assert _problems(path) == []


def test_the_scan_catches_unsafe_calls(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import yaml, pickle\nimport numpy as np\nyaml.load(s)\nnp.load(p)\neval('1')\n"
                   "np.load(p, allow_pickle=True)\nyaml.load(s, Loader=yaml.Loader)\n"
                   "class L(yaml.FullLoader):\n    pass\n")
    problems = _problems(bad)
    assert len(problems) >= 7, problems
    assert any("FullLoader" in p for p in problems), problems


def test_the_shared_yaml_loader_is_safe():
    """The one YAML loader (accel_sim.safe_yaml) is a SafeLoader: no Python objects from tags."""
    import yaml

    from accel_sim.errors import ConfigError
    from accel_sim.safe_yaml import UniqueKeyLoader, load_yaml

    assert issubclass(UniqueKeyLoader, yaml.SafeLoader)
    with pytest.raises(ConfigError, match="line 1"):
        load_yaml("x: !!python/object/apply:os.system [echo hi]\n", "f.yaml")
