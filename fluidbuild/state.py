"""The build tree's own state, checked before each build so a crash cannot wedge it.

Called with the tree lock held (no other fluidbuild process is writing):
a damaged dependency database is set aside with one warning (every task then
reruns, which is always correct), and the temporary files of writes a killed
build left behind (``*.tmp-<pid>``, see :mod:`fluidbuild.atomic`) are removed.
``doit clean`` also sweeps what no current task produces (:func:`sweep_orphans`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import sys

_LEFTOVER = re.compile(r"\.tmp-\d+$")


def check_database(path: str) -> None:
    """Set ``path`` (doit's SQLite database) aside if SQLite cannot read it."""
    if not os.path.exists(path):
        return
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            db.execute("PRAGMA quick_check").fetchall()
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "doit" not in tables:
                raise sqlite3.DatabaseError("no 'doit' table")
    except sqlite3.DatabaseError as exc:
        aside = f"{path}.corrupt"
        os.replace(path, aside)
        print(f"fluidbuild: warning: {path} is damaged ({exc}); set aside as {aside}; "
              "every task reruns", file=sys.stderr)


def remove_leftovers(build_dir: str) -> None:
    """Delete the ``*.tmp-<pid>`` files interrupted writes left under ``build_dir``."""
    for folder, _, files in os.walk(build_dir):
        for name in files:
            if _LEFTOVER.search(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))


def sweep_orphans(build_dir: str, known: set[str], keep: set[str], dryrun: bool = False) -> None:
    """Remove files under ``build_dir`` that no current task produces (outputs and
    depfiles of renamed or deleted sources), except ``keep``; then empty folders."""
    for folder, _, files in os.walk(build_dir, topdown=False):
        for name in files:
            path = os.path.normpath(os.path.join(folder, name))
            if path in known or path in keep:
                continue
            print(f"clean - removing orphaned file '{path}'")
            if not dryrun:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        if not dryrun and folder != build_dir:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only when empty
