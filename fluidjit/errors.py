"""The JIT's user-facing error: one line naming the input and the cause."""

from __future__ import annotations


class JitError(Exception):
    """Bad input to the JIT: unreadable or foreign bitcode, a missing symbol, a bad CPU profile."""
