"""Load a hardware config: YAML (:mod:`accel_sim.safe_yaml`: safe, duplicate keys refused) ->
overrides -> strict pydantic validation.

Every problem raises :class:`accel_sim.errors.ConfigError` with message ``FILE: field.path: problem``.
Overrides are ``"dotted.key=value"`` strings (the value is parsed as YAML, so it is typed like the
file) or a ``{dotted.key: value}`` dict; a key the schema does not have is an error.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping as MappingABC
from pathlib import Path

import yaml
from yaml.constructor import ConstructorError
from pydantic import BaseModel, ValidationError

from accel_sim.config.schema import SCHEMA_VERSION, HardwareConfig, _FieldProblem
from accel_sim.errors import ConfigError
from accel_sim.safe_yaml import load_yaml, parse
from accel_sim.suggest import did_you_mean, field_names, first_error, unknown_field

_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def load_config(path: str | Path, overrides: Iterable[str] | MappingABC[str, object] = ()) -> HardwareConfig:
    """Read, override and validate the YAML hardware config at ``path``."""
    source = str(path)
    text = read_text(path, source)  # FileNotFoundError / IsADirectoryError propagate (exit 2)
    data = parse_yaml(text, source)
    for key, value in _override_items(overrides, source):
        set_dotted(data, key, value, source)
    return validate_config(data, source)


def read_text(path: str | Path, source: str) -> str:
    """The file's text; a file that is not UTF-8 text is a ConfigError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "(file)", f"not UTF-8 text (byte {exc.start}); expected a YAML config") from None


def parse_yaml(text: str, source: str) -> dict:
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(source, "(top level)", f"expected a mapping of config sections, got {type(data).__name__}")
    return data


def validate_config(data: dict, source: str = "<config>") -> HardwareConfig:
    """Check the schema version, then validate strictly; raise ConfigError naming the field."""
    if "schema" not in data:
        raise ConfigError(source, "schema", f"missing field (expected {SCHEMA_VERSION!r})")
    if data["schema"] != SCHEMA_VERSION:
        raise ConfigError(source, "schema", f"unsupported schema version {data['schema']!r}, expected {SCHEMA_VERSION!r}")
    try:
        return HardwareConfig.model_validate(data)
    except ValidationError as exc:
        raise _first_problem(exc, source) from None


def _first_problem(exc: ValidationError, source: str) -> ConfigError:
    errors = exc.errors()
    err = first_error(errors)
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, _FieldProblem):
        field, problem = inner.field, inner.problem
    else:
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        problem = unknown_field(HardwareConfig, err["loc"]) if err["type"] == "extra_forbidden" else _describe(err)
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return ConfigError(source, field, problem + more)


def _describe(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "missing field"
    msg = msg.removeprefix("Value error, ")
    value = err.get("input")
    if kind not in ("missing",) and not isinstance(value, (dict, list)):
        return f"{msg} (got {value!r})"
    return msg


# ----------------------------------------------------------------------------------- overrides


def _override_items(overrides, source: str) -> list[tuple[str, object]]:
    if isinstance(overrides, MappingABC):
        return list(overrides.items())
    items = []
    for text in overrides:
        key, sep, raw = str(text).partition("=")
        if not sep or not key.strip():
            raise ConfigError(source, str(text), "--set expects dotted.key=value")
        try:
            value = parse(raw) if raw.strip() else raw
        except ConstructorError as exc:  # e.g. {a: 1, a: 2}: valid syntax, refused content
            raise ConfigError(source, key.strip(), f"--set value: {exc.problem}") from None
        except yaml.YAMLError:
            value = raw  # not YAML: the text itself (validated as the field's type)
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e9 (no dot) as a string; on a command line it is a number
        items.append((key.strip(), value))
    return items


def set_dotted(data: dict, key: str, value: object, source: str) -> None:
    """Set ``data[a][b][c] = value`` for key ``a.b.c`` after checking the schema has that key."""
    parts = key.split(".")
    _check_key(parts, data, source, key)
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _check_key(parts: list[str], data: object, source: str, key: str) -> None:
    annotation: object = HardwareConfig
    node = data
    for i, part in enumerate(parts):
        where = ".".join(parts[: i + 1])
        annotation = _unwrap_optional(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = _model_field(annotation, part)
            if field is None:
                raise ConfigError(source, where,
                                  f"--set {key}: no such config field{did_you_mean(part, field_names(annotation))}")
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            key_type, value_type = typing.get_args(annotation)
            allowed = typing.get_args(key_type) if typing.get_origin(key_type) is typing.Literal else ()
            present = isinstance(node, dict) and part in node
            if not present and part not in allowed:
                raise ConfigError(source, where, f"--set {key}: no such config entry")
            annotation = value_type
        else:
            raise ConfigError(source, where, f"--set {key}: {'.'.join(parts[:i])} is a value, not a section")
        node = node.get(part) if isinstance(node, dict) else None


def _unwrap_optional(annotation: object) -> object:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _model_field(model: type[BaseModel], name: str):
    for field_name, field in model.model_fields.items():
        if name == (field.alias or field_name) or name == field_name and field.alias is None:
            return field
    return None
