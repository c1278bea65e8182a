"""YAML loading that remembers where every value came from.

``yaml.safe_load`` forgets line numbers, yet every manifest error must name
the line. This loader builds plain dicts and lists (subclasses carrying the
line of each key and item), rejects duplicate keys instead of silently keeping
the last one, and constructs only the safe YAML types.
"""

from __future__ import annotations

from typing import Any

import yaml

from fluidbuild.errors import ManifestError


class LineDict(dict):
    """A mapping that knows the line of each of its keys."""

    line: int
    key_lines: dict[str, int]


class LineList(list):
    """A sequence that knows the line of each of its items."""

    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    path = "<manifest>"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise ManifestError(loader.path, line, "", f"keys must be strings, got {key!r}")
        if key in result:
            raise ManifestError(
                loader.path, line, key, f"duplicate key (first defined on line {result.key_lines[key]})"
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, path: str) -> Any:
    """Parse ``text`` (the content of ``path``) with line-aware safe constructors."""
    loader = _Loader(text)
    loader.path = path
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ManifestError(path, line, "", f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(path, None, "", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
