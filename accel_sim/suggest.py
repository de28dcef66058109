"""Unknown keys named with the close match a user probably meant (``rwos`` -> ``rows``), for the
strict pydantic schemas of hardware configs and sweep specs (``extra="forbid"``)."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable

from pydantic import BaseModel


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, else the known names (or '')."""
    choices = sorted(set(choices))
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(choices)})" if choices else ""


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys a YAML mapping for ``model`` may hold (aliases where set)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def field_model(model: type[BaseModel], name: str) -> object | None:
    """The annotation of the field ``name`` (alias or attribute name) of ``model``, or None."""
    for attr, f in model.model_fields.items():
        if name in (attr, f.alias):
            return f.annotation
    return None


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The BaseModel classes an annotation can hold (through Optional / Union / Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models_in(a)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _step(annotation: object, part: object) -> list[object]:
    """Annotations reached from ``annotation`` by one location part (field, dict key, list index)."""
    out: list[object] = []
    for model in _models_in(annotation):
        found = field_model(model, str(part))
        if found is not None:
            out.append(found)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _step(typing.get_args(annotation)[0], part)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if not _models_in(arg):
                out += _step(arg, part)
    elif origin is dict:
        out.append(typing.get_args(annotation)[1])
    elif origin is list and isinstance(part, int):
        out.append(typing.get_args(annotation)[0])
    return out


def unknown_field(root: type[BaseModel], loc: tuple) -> str:
    """Problem text for the unknown key at pydantic error location ``loc`` under ``root``:
    ``unknown field (did you mean 'rows'?)`` (the location itself names the key). Location parts that name no field (pydantic's
    union tags such as ``function-after[...]``) are skipped."""
    current: list[object] = [root]
    for part in [p for p in loc[:-1] if not (isinstance(p, str) and "[" in p)]:
        nxt = [a for c in current for a in _step(c, part)]
        current = nxt or current  # a union tag: stay where we are
    names = [n for c in current for m in _models_in(c) for n in field_names(m)]
    return "unknown field" + did_you_mean(str(loc[-1]), names)


def first_error(errors: list[dict]) -> dict:
    """The error to report first: an unknown key explains the 'missing field' errors it causes."""
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
