"""Up-to-date checks for everything that is not a file.

doit fingerprints files but not actions: a changed command line would leave a
task "up to date". Every task therefore carries a :class:`Fingerprint` of its
configuration (rendered command lines, manifest entries, plugin name and
version, tool path and version, CPU profile values it reads). It is saved in
doit's database after a successful run; a different value reruns the task.

With ``explain=1`` on the doit command line (or ``FLUIDBUILD_EXPLAIN=1``)
every rerun caused by a configuration change prints which keys changed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

_KEY = "fluidbuild:config"
_DIGEST = "fluidbuild:digest"


def canonical(config: Any) -> str:
    """A stable JSON text for ``config`` (sorted keys, no whitespace)."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def describe_changes(old: Any, new: Any) -> list[str]:
    """Human-readable differences between two configurations."""
    before, after = _flatten(old), _flatten(new)
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            changes.append(f"{key} added: {after[key]!r}")
        elif key not in after:
            changes.append(f"{key} removed (was {before[key]!r})")
        elif before[key] != after[key]:
            changes.append(f"{key}: {before[key]!r} -> {after[key]!r}")
    return changes


class Fingerprint:
    """A doit ``uptodate`` callable comparing a task's configuration with the last run."""

    def __init__(self, config: dict[str, Any], explain: bool = False) -> None:
        self.text = canonical(config)
        self.digest = hashlib.sha256(self.text.encode()).hexdigest()
        self.explain = explain

    def __call__(self, task: Any, values: dict[str, Any]) -> bool:
        task.value_savers.append(lambda: {_DIGEST: self.digest, _KEY: self.text})
        previous = values.get(_DIGEST)
        if previous == self.digest:
            return True
        if self.explain:
            if previous is None:
                print(f"[explain] {task.name}: never built (or built before fingerprints)",
                      file=sys.stderr)
            else:
                old = json.loads(values.get(_KEY, "{}"))
                for change in describe_changes(old, json.loads(self.text)) or ["(unknown)"]:
                    print(f"[explain] {task.name}: {change}", file=sys.stderr)
        return False
