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


MAX_DEPTH = 32  # nesting of mappings and lists
MAX_VALUES = 100_000  # values after expanding aliases (a "billion laughs" stays bounded)


def _check_size(node: yaml.Node | None, path: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH or expanding, with its
    aliases, to more than MAX_VALUES values, before anything is constructed."""
    expanded: dict[int, int] = {}  # node id -> values it expands to
    stack: list[tuple[yaml.Node, int, bool]] = [(node, 1, False)] if node is not None else []
    while stack:
        current, depth, children_done = stack.pop()
        if id(current) in expanded:
            continue
        if depth > MAX_DEPTH:
            raise ManifestError(path, current.start_mark.line + 1, "",
                                f"nesting deeper than {MAX_DEPTH} levels")
        children = _children(current)
        if not children_done:
            stack.append((current, depth, True))
            stack.extend((child, depth + 1, False) for child in children if id(child) not in expanded)
            continue
        expanded[id(current)] = total = 1 + sum(expanded.get(id(c), 1) for c in children)
        if total > MAX_VALUES:
            raise ManifestError(path, current.start_mark.line + 1, "",
                                f"the document expands to more than {MAX_VALUES} values (YAML aliases?)")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def load_yaml(text: str, path: str) -> Any:
    """Parse ``text`` (the content of ``path``) with line-aware safe constructors."""
    try:
        loader = _Loader(text)  # the reader refuses control characters here
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise ManifestError(path, line, "", f"invalid YAML: character {exc.character:#04x} is not "
                            "allowed in a manifest") from None
    loader.path = path
    try:
        node = loader.get_single_node()
        _check_size(node, path)
        return loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ManifestError(path, line, "", f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(path, None, "", f"invalid YAML: {exc}") from None
    except RecursionError:
        raise ManifestError(path, None, "", f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
