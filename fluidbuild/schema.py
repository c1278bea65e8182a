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
from typing import Any

from fluidbuild.errors import ManifestError
from fluidbuild.yamlsource import LineDict


@dataclass
class Where:
    """The position of a value: manifest file, key path and line."""

    path: str
    keypath: str
    line: int | None
    # Target names met while validating (:class:`TargetRef`), checked by the
    # core once every target is known; shared by a Where and its children.
    refs: list[tuple[str, Where]] | None = field(default=None, repr=False, compare=False)

    def child(self, key: str | int, line: int | None) -> Where:
        if isinstance(key, str) and len(key) > SHOWN_CHARS:
            key = key[:SHOWN_CHARS - 3] + "..."
        sub = f"{self.keypath}[{key}]" if isinstance(key, int) else (
            f"{self.keypath}.{key}" if self.keypath else key)
        return Where(self.path, sub, line or self.line, self.refs)

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
    item: Schema
    min_items: int = 0

    def validate(self, value: Any, where: Where) -> list[Any]:
        if not isinstance(value, list):
            raise where.fail(f"expected a list, got {_kind(value)} {shown(value)}")
        if len(value) < self.min_items:
            raise where.fail(f"expected at least {self.min_items} item(s)")
        lines = getattr(value, "item_lines", [])
        return [self.item.validate(item, where.child(i, lines[i] if i < len(lines) else None))
                for i, item in enumerate(value)]

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
