"""How doit decides that a file changed: its signature, then its content.

doit's MD5 checker trusts an unchanged modification time, so an edit of the
same size with the old mtime put back (``touch -d``, an editor that restores
it, a checkout) goes unseen. Like git's index, this checker compares the
whole stat signature (mtime, size, inode, ctime: putting an mtime back
changes the ctime) and hashes the content only when the signature differs,
so a no-op build still reads no file. Registered through ``DOIT_CONFIG``
(``check_file_uptodate``).
"""

from __future__ import annotations

import os
from typing import Any

from doit.dependency import FileChangedChecker, get_file_md5


def signature(stat: os.stat_result) -> list[float | int]:
    """The stat fields whose change means the file may have changed."""
    return [stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns]


# The MD5 of a file by path and signature: a regenerated header that came out the
# same (build/gen/protocol.h) is hashed once per build, not once per task including it.
_md5s: dict[tuple[str, tuple[float | int, ...]], str] = {}


def md5_for(path: str, sig: list[float | int]) -> str:
    """The MD5 of ``path``, whose stat signature is ``sig`` (remembered by both)."""
    key = (path, tuple(sig))
    found = _md5s.get(key)
    if found is None:
        found = _md5s[key] = get_file_md5(path)
    return found


class SignatureChecker(FileChangedChecker):
    """Modified unless the stat signature is the same; a different signature
    with the same content (a fresh checkout) is not a modification."""

    def check_modified(self, file_path: str, file_stat: os.stat_result, state: Any) -> bool:
        if not isinstance(state, list) or len(state) != 2:  # recorded by another checker
            return True
        old_signature, old_md5 = state
        sig = signature(file_stat)
        if sig == old_signature:
            return False
        return md5_for(file_path, sig) != old_md5

    def get_state(self, dep: str, current_state: Any) -> Any:
        sig = signature(os.stat(dep))
        if isinstance(current_state, list) and len(current_state) == 2 and current_state[0] == sig:
            return None  # unchanged: keep the record, hash nothing
        return [sig, md5_for(dep, sig)]
