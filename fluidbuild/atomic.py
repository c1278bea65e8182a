"""Atomic file output: write to a temporary file in the same directory, then rename.

A build killed mid-write leaves only a ``*.tmp-<pid>`` file, which no task
lists as a target, so the next build never trusts a partial output.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


def temp_path(path: str) -> str:
    """The temporary sibling of ``path`` used while it is being written."""
    return f"{path}.tmp-{os.getpid()}"


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """Yield a temporary path; rename it to ``path`` if the block succeeds."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode())
