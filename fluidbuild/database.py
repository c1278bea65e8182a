"""doit's dependency database, committed task by task.

doit's own SQLite backend writes everything once, when the run ends: a build
killed with ``kill -9`` loses the record of every task it finished. This
backend commits each task's record the moment doit saves it (its last key is
``deps:``), in WAL mode, so a killed build reruns at most the task it was
running. A full disk or a damaged file ends the build with one message
instead of a traceback from sqlite. Registered with doit as the backend
``fluidbuild`` (entry-point group ``doit.BACKEND``).
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

from doit.dependency import SqliteDB

LAST_KEY = "deps:"  # doit's save_success sets it last, once per finished task


class StateError(SystemExit):
    """The database cannot be written: the build stops with one message (exit 3)."""

    def __init__(self, path: str, exc: Exception) -> None:
        print(f"fluidbuild: error: cannot record the build state in {path}: {exc}", file=sys.stderr)
        super().__init__(3)


class CommittingSqliteDB(SqliteDB):
    """doit's SQLite backend, committing each finished task."""

    desc = "SQLite, committed after every task (fluidbuild)"

    def __init__(self, name: str, codec: Any, *, module_name: str | None = None) -> None:
        try:
            super().__init__(name, codec, module_name=module_name)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StateError(name, exc) from None

    def set(self, task_id: str, dependency: str, value: Any) -> None:
        super().set(task_id, dependency, value)
        if dependency == LAST_KEY:
            self._write([task_id])

    def cached(self, task_id: str) -> dict[str, Any] | None:
        """The task's record as this process last read or wrote it (None: not read),
        the same as the file's once the build ended (:mod:`fluidbuild.noop` reads it)."""
        return self._cache.get(task_id)

    def dump(self) -> None:
        self._write(list(self._dirty))
        self._conn.close()

    def _write(self, task_ids: list[str]) -> None:
        try:
            for task_id in task_ids:
                self._conn.execute("insert or replace into doit values (?,?)",
                                   (task_id, self.codec.encode(self._cache[task_id])))
                self._dirty.discard(task_id)
            self._conn.commit()
        except sqlite3.Error as exc:
            raise StateError(self.name, exc) from None
