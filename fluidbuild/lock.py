"""One fluidbuild process per build tree.

Two doit processes sharing a dependency database and outputs would corrupt
both; the second one stops with a message naming the first.
"""

from __future__ import annotations

import fcntl
import os

from fluidbuild.errors import FluidError

_held: list[int] = []  # the descriptor stays open for the life of the process


def acquire(path: str) -> None:
    """Take the tree lock at ``path`` or fail naming the process that holds it."""
    if _held:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FluidError(f"another fluidbuild process (pid {holder}) is using this build tree "
                         f"({path}); wait for it to finish") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _held.append(fd)
