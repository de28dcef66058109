"""The one YAML loader of the project: safe (``yaml.SafeLoader``: plain data only, never Python
objects) and strict about duplicate mapping keys, which YAML itself resolves silently to the last
value (a config with ``cols:`` twice would quietly use the second).

Every YAML the project reads (hardware configs, ``--set`` values, sweep specs) goes through
:func:`load_yaml`; problems raise :class:`accel_sim.errors.ConfigError` as
``FILE: line L, column C: problem``.
"""

from __future__ import annotations

from collections.abc import Hashable

import yaml
from yaml.constructor import ConstructorError

from accel_sim.errors import ConfigError

_MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping holding the same key twice. Keys brought in by a
    merge (``<<: *base``) may be overridden: only keys written out in one mapping count."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Hashable, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    continue  # SafeConstructor reports unhashable keys itself
                if key in seen:
                    first = seen[key].start_mark.line + 1
                    raise ConstructorError(None, None, f"duplicate key {key!r} (first given on line {first})",
                                           key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def parse(text: str) -> object:
    """Decode one YAML document with :class:`UniqueKeyLoader`. Raises ``yaml.YAMLError`` (nesting
    too deep for the parser included, rather than a ``RecursionError``)."""
    loader = UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    except RecursionError:
        raise yaml.YAMLError("nesting too deep") from None
    finally:
        loader.dispose()


def load_yaml(text: str, source: str) -> object:
    """:func:`parse`, with any YAML problem as a ``ConfigError`` naming ``source`` and the line."""
    try:
        return parse(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if not isinstance(exc, ConstructorError):  # a duplicate key or an unknown tag is not a syntax error
            problem = f"YAML syntax error: {problem}"
        raise ConfigError(source, where, problem) from None
