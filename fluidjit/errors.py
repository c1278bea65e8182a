"""The JIT's errors, each one line: bad input (JitError) and code that could not be made (CompileError)."""

from __future__ import annotations


class JitError(Exception):
    """Bad input to the JIT: unreadable or foreign bitcode, a missing symbol, a bad CPU profile."""


class CompileError(Exception):
    """Code for one tier could not be compiled or linked; the message is one line."""


def first_line(text: str, default: str) -> str:
    """The first non-blank line of ``text``, stripped; ``default`` if there is none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else default
