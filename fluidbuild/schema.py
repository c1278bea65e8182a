"""A small schema language for the manifest.

Each schema node validates one value and returns it normalised. Errors carry
the key path and the line, so the user reads ``manifest.yaml:12: manifest
error at 'image.disk': expected one of floppy, hdd, got 'flopy'``.
Plugins contribute schemas for their own options with the same classes.
"""

from __future__ import annotations

import difflib
import math
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fluidbuild.errors import ManifestError, PluginError
from fluidbuild.yamlsource import LineDict


class PluginLookup(Protocol):
    """What a schema may ask of the loaded plugins while the manifest is validated
    (:class:`fluidbuild.plugin.Plugins` provides it)."""

    def delegate(self, plugin: str, hook: str, section: str | None) -> Schema | None:
        """Check that ``plugin`` is loaded and implements ``hook`` (raising
        :class:`~fluidbuild.errors.PluginError`), note that the manifest uses it, and
        return the schema of its own keys in ``section`` (``fluidbuild_settings_schema``)."""
        ...

    def use_benchmark(self, name: str) -> None:
        """Note that the manifest lists benchmark ``name`` (its plugin, if any, is used)."""
        ...


@dataclass
class Where:
    """The position of a value: manifest file, key path and line."""

    path: str
    keypath: str
    line: int | None
    # Target names met while validating (:class:`TargetRef`), checked by the
    # core once every target is known; shared by a Where and its children.
    refs: list[tuple[str, Where]] | None = field(default=None, repr=False, compare=False)
    # The loaded plugins, for the nodes that name one (:class:`PluginName`, :class:`Delegated`).
    plugins: PluginLookup | None = field(default=None, repr=False, compare=False)

    def child(self, key: str | int, line: int | None) -> Where:
        if isinstance(key, str) and len(key) > SHOWN_CHARS:
            key = key[:SHOWN_CHARS - 3] + "..."
        sub = f"{self.keypath}[{key}]" if isinstance(key, int) else (
            f"{self.keypath}.{key}" if self.keypath else key)
        return Where(self.path, sub, line or self.line, self.refs, self.plugins)

    def fail(self, message: str) -> ManifestError:
        return ManifestError(self.path, self.line, self.keypath, message)


SHOWN_CHARS = 60  # a value quoted in an error message is cut here


def shown(value: Any) -> str:
    """``repr(value)`` for an error message, cut short: a huge value (a YAML alias
    bomb) must not make the message itself huge or slow."""
    if isinstance(value, (dict, list)) and len(value) > 8:
        return f"<{_kind(value)} of {len(value)} items>"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _kind(value: Any) -> str:
    """How a value reads in an error message."""
    for kind, name in ((bool, "a boolean"), (dict, "a mapping"), (list, "a list"),
                       (str, "a string"), (int, "an integer"), (float, "a number")):
        if isinstance(value, kind):
            return name
    return "nothing" if value is None else type(value).__name__


def _mapping(value: Any, where: Where) -> tuple[dict[str, Any], dict[str, int]]:
    """``value`` as a mapping (absent: empty) with the line of each key."""
    if value is None:
        value = LineDict()
    if not isinstance(value, dict):
        raise where.fail(f"expected a mapping, got {_kind(value)} {shown(value)}")
    return value, getattr(value, "key_lines", {})


class Schema:
    """Base class: ``validate`` returns the normalised value or raises ManifestError."""

    doc = ""

    def validate(self, value: Any, where: Where) -> Any:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__.lower()


@dataclass
class Str(Schema):
    choices: tuple[str, ...] = ()
    pattern: str = ""

    def validate(self, value: Any, where: Where) -> str:
        if not isinstance(value, str):
            raise where.fail(f"expected {self.describe()}, got {_kind(value)} {shown(value)}")
        if self.choices and value not in self.choices:
            raise where.fail(f"expected {self.describe()}, got {shown(value)}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise where.fail(f"expected a string matching {self.pattern}, got {shown(value)}")
        return value

    def describe(self) -> str:
        return f"one of {', '.join(self.choices)}" if self.choices else "a string"


@dataclass
class Int(Schema):
    minimum: int | None = None
    maximum: int | None = None

    def validate(self, value: Any, where: Where) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.fail(f"expected {self.describe()}, got {_kind(value)} {shown(value)}")
        if self.minimum is not None and value < self.minimum:
            raise where.fail(f"expected {self.describe()}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise where.fail(f"expected {self.describe()}, got {value}")
        return value

    def describe(self) -> str:
        lo = "" if self.minimum is None else f" >= {self.minimum}"
        hi = "" if self.maximum is None else f" <= {self.maximum}"
        return f"an integer{lo}{' and' if lo and hi else ''}{hi}"


@dataclass
class Float(Schema):
    minimum: float | None = None
    maximum: float | None = None

    def validate(self, value: Any, where: Where) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.fail(f"expected a number, got {_kind(value)} {shown(value)}")
        if not math.isfinite(value):
            raise where.fail(f"expected a finite number, got {value}")
        if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum):
            raise where.fail(f"expected a number in [{self.minimum}, {self.maximum}], got {value}")
        return float(value)


@dataclass
class Bool(Schema):
    def validate(self, value: Any, where: Where) -> bool:
        if not isinstance(value, bool):
            raise where.fail(f"expected true or false, got {_kind(value)} {shown(value)}")
        return value


@dataclass
class RelPath(Schema):
    """A path relative to the project root that may not escape it."""

    def validate(self, value: Any, where: Where) -> str:
        text = Str().validate(value, where)
        if not text or text.startswith("/") or "\\" in text:
            raise where.fail(f"expected a relative path inside the project, got {shown(text)}")
        norm = posixpath.normpath(text)
        if norm == ".." or norm.startswith("../"):
            raise where.fail(f"path {shown(text)} escapes the project root")
        return norm


@dataclass
class Field:
    """One key of a :class:`Map`."""

    schema: Schema
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass
class Map(Schema):
    fields: dict[str, Field] = field(default_factory=dict)

    def validate(self, value: Any, where: Where) -> dict[str, Any]:
        value, lines = _mapping(value, where)
        for key in value:
            if key not in self.fields:
                close = difflib.get_close_matches(key, self.fields, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                known = ", ".join(self.fields)
                raise where.child(key, lines.get(key)).fail(
                    f"unknown key '{key}'{hint}; expected one of: {known}")
        result: dict[str, Any] = {}
        for key, spec in self.fields.items():
            if key in value:
                result[key] = spec.schema.validate(value[key], where.child(key, lines.get(key)))
            elif spec.required:
                raise where.fail(f"missing required key '{key}' ({spec.schema.describe()})")
            else:
                result[key] = spec.default
        return result

    def describe(self) -> str:
        return "a mapping"


@dataclass
class MapOf(Schema):
    """A mapping with free keys (matching ``key_pattern``) and uniform values."""

    value: Schema
    key_pattern: str = r"[A-Za-z_][A-Za-z0-9_.-]*"

    def validate(self, value: Any, where: Where) -> dict[str, Any]:
        value, lines = _mapping(value, where)
        result = {}
        for key, item in value.items():
            sub = where.child(key, lines.get(key))
            if not re.fullmatch(self.key_pattern, key):
                raise sub.fail(f"invalid name {shown(key)} (expected {self.key_pattern})")
            result[key] = self.value.validate(item, sub)
        return result

    def describe(self) -> str:
        return "a mapping"


@dataclass
class List(Schema):
    """A list of ``item``; ``unique`` names a key of mapping items whose value no two
    items may share (the second one is the error, at its line)."""

    item: Schema
    min_items: int = 0
    max_items: int | None = None
    unique: str = ""

    def validate(self, value: Any, where: Where) -> list[Any]:
        if not isinstance(value, list):
            raise where.fail(f"expected a list, got {_kind(value)} {shown(value)}")
        if len(value) < self.min_items:
            raise where.fail(f"expected at least {self.min_items} item(s)")
        if self.max_items is not None and len(value) > self.max_items:
            raise where.fail(f"expected at most {self.max_items} item(s), got {len(value)}")
        lines = getattr(value, "item_lines", [])
        result, seen = [], {}
        for i, item in enumerate(value):
            here = where.child(i, lines[i] if i < len(lines) else None)
            result.append(self.item.validate(item, here))
            if self.unique:
                key = result[-1][self.unique]
                if key in seen:
                    taken = where.child(seen[key], None).keypath
                    raise here.fail(f"{self.unique} {shown(key)} is already taken by {taken}")
                seen[key] = i
        return result

    def describe(self) -> str:
        return "a list"


@dataclass
class Scalar(Schema):
    """A string, integer or boolean (preprocessor define values)."""

    def validate(self, value: Any, where: Where) -> str | int | bool:
        if not isinstance(value, (str, int, bool)):
            raise where.fail(f"expected a string, integer or boolean, got {_kind(value)}")
        return value


@dataclass
class TargetRef(Str):
    """The name of a manifest target; the core checks that it exists (naming the line)."""

    pattern: str = r"[a-z][a-z0-9_]*"

    def validate(self, value: Any, where: Where) -> str:
        name = super().validate(value, where)
        if where.refs is not None:
            where.refs.append((name, where))
        return name

    def describe(self) -> str:
        return "a target name"


@dataclass
class Checked(Schema):
    """``schema``, then ``check(value, where)``: rules across keys (raise ``where.fail``)."""

    schema: Schema
    check: Callable[[Any, Where], None]

    def validate(self, value: Any, where: Where) -> Any:
        result = self.schema.validate(value, where)
        self.check(result, where)
        return result

    def describe(self) -> str:
        return self.schema.describe()


PLUGIN_NAME = r"[a-z][a-z0-9_]{0,63}"


@dataclass
class PluginName(Str):
    """The name of a plugin that must be loaded and implement ``hook``: checked while
    the manifest loads (naming the line), not when a task runs; it marks the plugin
    used by the manifest."""

    hook: str = ""
    pattern: str = PLUGIN_NAME

    def validate(self, value: Any, where: Where) -> str:
        name = super().validate(value, where)
        _delegate(name, self.hook, None, where)
        return name

    def describe(self) -> str:
        return "a plugin name"


def _delegate(plugin: str, hook: str, section: str | None, where: Where) -> Schema | None:
    """Ask the plugins about ``plugin`` (see :class:`PluginLookup`); a missing one is an
    error at ``where``."""
    if where.plugins is None:
        return None
    try:
        return where.plugins.delegate(plugin, hook, section)
    except PluginError as exc:
        raise where.fail(str(exc)) from None


@dataclass
class Delegated(Map):
    """A mapping whose ``plugin`` key names the plugin doing its work (``default`` when
    absent), which must implement ``hook``; the keys this schema does not know are that
    plugin's own, validated by its ``fluidbuild_settings_schema(section)`` and returned
    under ``settings`` (the ``image`` section, each ``run`` profile)."""

    hook: str = ""
    section: str = ""
    default: str = ""

    def validate(self, value: Any, where: Where) -> dict[str, Any]:
        value, lines = _mapping(value, where)
        plugin_where = where.child("plugin", lines.get("plugin"))
        name = Str(pattern=PLUGIN_NAME).validate(value["plugin"], plugin_where) if "plugin" in value \
            else self.default
        own = _delegate(name, self.hook, self.section, plugin_where)
        extra: dict[str, Field] = {}
        if own is not None:
            if not isinstance(own, Map):
                raise plugin_where.fail(f"plugin '{name}': fluidbuild_settings_schema must return a Map")
            clash = sorted(set(own.fields) & set(self.fields))
            if clash:
                raise plugin_where.fail(f"plugin '{name}': its settings {', '.join(clash)} clash with the "
                                        f"keys of {self.section or 'this section'}")
            extra = own.fields
        result = Map({**self.fields, **extra}).validate(value, where)
        result["plugin"] = name
        result["settings"] = {key: result.pop(key) for key in extra}
        return result


@dataclass
class BenchmarkRef(Str):
    """The name of a benchmark: a project source (``src/bench/<name>.c``) or one a plugin
    contributes (``fluidbuild_benchmarks``), whose plugin it marks used."""

    pattern: str = r"[a-z][a-z0-9_]*"

    def validate(self, value: Any, where: Where) -> str:
        name = super().validate(value, where)
        if where.plugins is not None:
            try:
                where.plugins.use_benchmark(name)
            except PluginError as exc:
                raise where.fail(str(exc)) from None
        return name

    def describe(self) -> str:
        return "a benchmark name"

