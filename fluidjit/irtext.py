"""LLVM IR text cut into the pieces the JIT rewrites.

llvmlite's binding reads modules but cannot edit them (no RAUW, no new
instructions), so the JIT edits the textual IR LLVM prints and parses the
result back. LLVM's printer keeps every top-level entity on one line except
function bodies, which run from ``define ... {`` to a lone ``}``; that
regularity is all this module relies on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# A global symbol reference: @name, @"quoted name" or @42.
SYMBOL = re.compile(r'@("(?:[^"\\]|\\[0-9A-Fa-f]{2})*"|[-a-zA-Z$._][-a-zA-Z$._0-9]*|\d+)')
LINKAGES = frozenset({
    "private", "internal", "available_externally", "linkonce", "weak", "common", "appending",
    "extern_weak", "linkonce_odr", "weak_odr", "external",
})
LOCAL_LINKAGES = frozenset({"private", "internal"})
# Return attributes that change how the value is passed back.
RETURN_ABI = frozenset({"zeroext", "signext", "inreg", "noundef", "noalias"})
# Calling conventions: every keyword ending in "cc", or "cc <n>".
CALLING_CONV = re.compile(r"(?<![\w.])(?:[a-z_0-9]*cc|cc \d+)(?![\w.])")
COMDAT_USE = re.compile(r",? comdat(?:\(\$[^)]*\))?")
_OPEN, _CLOSE = "([{<", ")]}>"


def symbol_name(token: str) -> str:
    """The linker-level name of a symbol token as printed after ``@``."""
    if not token.startswith('"'):
        return token
    return re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), token[1:-1])


def derived(token: str, suffix: str) -> str:
    """The token of ``token`` with ``suffix`` appended to its name, quoted as needed."""
    return token[:-1] + suffix + '"' if token.startswith('"') else token + suffix


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, bracket depth after it) for every character outside quotes."""
    depth, quoted = 0, False
    for i in range(start, len(text)):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            depth += (ch in _OPEN) - (ch in _CLOSE)
            yield i, ch, depth


def split_top_level(text: str) -> list[str]:
    """Split a comma-separated list (parameters, arguments) at nesting depth 0."""
    parts, start = [], 0
    for i, ch, depth in _scan(text):
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    last = text[start:].strip()
    return [*parts, last] if last or parts else []


def _matching_paren(text: str, open_at: int) -> int:
    for i, _, depth in _scan(text, open_at):
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in: {text[:120]}")


def set_linkage(prefix: str, linkage: str) -> str:
    """Replace the linkage keyword among the words of ``prefix`` ("" means external)."""
    words = [w for w in prefix.split(" ") if w and w not in LINKAGES]
    if linkage:
        words.insert(1 if words and words[0] in ("define", "declare") else 0, linkage)
    return " ".join(words) + " "


@dataclass
class Function:
    """One ``define``: ``{head}@{name}({params}){tail}{{`` then the body lines and ``}``."""

    name: str
    head: str
    params: str
    tail: str
    body: list[str]

    @classmethod
    def parse_header(cls, line: str) -> Function:
        at = SYMBOL.search(line)
        if at is None:
            raise ValueError(f"no function name in: {line[:120]}")
        close = _matching_paren(line, at.end())
        tail = line[close + 1:].rstrip()
        return cls(at.group(1), line[:at.start()], line[at.end() + 1:close], tail.removesuffix("{"), [])

    def text(self, name: str | None = None, head: str | None = None, tail: str | None = None) -> str:
        """The definition, optionally renamed or with another head or tail."""
        header = f"{head if head is not None else self.head}@{name or self.name}({self.params})"
        return "\n".join([f"{header}{tail if tail is not None else self.tail}{{", *self.body, "}"])

    def declaration(self) -> str:
        """A ``declare`` of this function with the same signature."""
        head = set_linkage(self.head.replace("define", "declare", 1), "")
        return f"{head}@{self.name}({self.params}){COMDAT_USE.sub('', self.tail)}"

    def call_shape(self, ret: str) -> tuple[str, str]:
        """(calling convention, ABI return attributes) of the header, as a call needs them."""
        head = self.head.rstrip()
        prefix = head[: len(head) - len(ret)] if head.endswith(ret) else head
        cc = CALLING_CONV.search(prefix)
        attrs = " ".join(w for w in prefix.split() if w in RETURN_ABI)
        return (cc.group(0) if cc else ""), attrs

    def refs(self) -> set[str]:
        """Symbols the body mentions."""
        return {m.group(1) for line in self.body for m in SYMBOL.finditer(line)}

    @property
    def linkage(self) -> str:
        """The linkage keyword of the header ("" when external)."""
        return next((w for w in self.head.split() if w in LINKAGES), "")

    def attribute_groups(self) -> set[str]:
        """The attribute groups (``#3``) the header names."""
        return set(re.findall(r"#\d+", self.tail))


@dataclass
class Module:
    """A module's text by kind of top-level entity, each keyed by symbol token where it has one."""

    preamble: list[str] = field(default_factory=list)
    globals: dict[str, str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    declarations: dict[str, str] = field(default_factory=dict)
    attributes: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Module:
        mod, current = cls(), None
        for line in text.splitlines():
            if current is not None:
                if line == "}":
                    mod.functions[current.name] = current
                    current = None
                else:
                    current.body.append(line)
            elif not line.strip() or line.startswith(";"):
                continue
            elif line.startswith("define "):
                current = Function.parse_header(line)
            elif line.startswith("declare "):
                name = SYMBOL.search(line)
                mod.declarations[name.group(1) if name else line] = line
            elif line.startswith("@"):
                mod.globals[SYMBOL.match(line).group(1)] = line
            elif line.startswith("attributes #"):
                mod.attributes.append(line)
            elif line.startswith("!"):
                mod.metadata.append(line)
            else:
                mod.preamble.append(line)
        if current is not None:
            raise ValueError(f"function @{current.name} has no closing brace")
        return mod


def global_parts(line: str) -> tuple[str, list[str], str]:
    """``@name = <words> global|constant|alias ...`` as (name, words before the kind, rest)."""
    name = SYMBOL.match(line)
    words = line[name.end():].split(" ")[2:]  # skip "" and "="
    for i, word in enumerate(words):
        if word in ("global", "constant", "alias", "ifunc"):
            return name.group(1), words[:i], " ".join(words[i:])
    raise ValueError(f"not a global definition: {line[:120]}")


def with_global_linkage(line: str, linkage: str) -> str:
    """The global's line with its linkage replaced ("" means external) and comdat dropped."""
    name, words, rest = global_parts(line)
    words = [w for w in words if w not in LINKAGES]
    if linkage:
        words.insert(0, linkage)
    return COMDAT_USE.sub("", " ".join([f"@{name} =", *words, rest]))


def global_linkage(line: str) -> str:
    """The linkage keyword of a global's line ("" when external)."""
    _, words, _ = global_parts(line)
    return next((w for w in words if w in LINKAGES), "")


def global_refs(line: str) -> set[str]:
    """Symbols a global's initializer mentions."""
    return {m.group(1) for m in SYMBOL.finditer(line, SYMBOL.match(line).end())}


def is_constant(line: str) -> bool:
    """Whether a global's line defines a constant (never written)."""
    return global_parts(line)[2].startswith("constant")
