"""Up-to-date checks for everything that is not a file.

doit fingerprints files but not actions: a changed command line would leave a
task "up to date". Every task therefore carries a :class:`Fingerprint` of its
configuration (rendered command lines, manifest entries, plugin name and
version, tool path and version, CPU profile values it reads). It is saved in
doit's database after a successful run; a different value reruns the task.

After a successful run the outputs' signatures and digests are saved too; an
output changed since (a flipped byte, a swapped or emptied file) reruns the
task that wrote it.

With ``explain=1`` on the doit command line (or ``FLUIDBUILD_EXPLAIN=1``)
every rerun caused by a configuration change prints which keys changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any

from doit.dependency import get_file_md5

from fluidbuild.filesig import signature

_KEY = "fluidbuild:config"
_DIGEST = "fluidbuild:digest"
_OUTPUTS = "fluidbuild:outputs"
# The keys of the values doit saves for a task (read by fluidbuild.noop's record).
DIGEST_KEY, OUTPUTS_KEY = _DIGEST, _OUTPUTS


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


def output_states(paths: list[str], root: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each output's state, [stat signature, md5], by project-relative path: the
    md5 is reused from ``previous`` while the signature is unchanged."""
    states: dict[str, Any] = {}
    for path in paths:
        full = os.path.join(root, path)
        try:
            sig = signature(os.stat(full))
        except OSError:
            continue
        old = (previous or {}).get(path)
        states[path] = old if old and old[0] == sig else [sig, get_file_md5(full)]
    return states


def damaged_outputs(recorded: dict[str, Any], root: str) -> list[str]:
    """The outputs whose content is no longer what the task wrote (a no-op
    only stats them; a copied tree hashes them once)."""
    damaged = []
    for path, (sig, md5) in recorded.items():
        full = os.path.join(root, path)
        try:
            now = signature(os.stat(full))
        except OSError:
            damaged.append(path)
            continue
        if now != sig and get_file_md5(full) != md5:
            damaged.append(path)
    return damaged


class Fingerprint:
    """A doit ``uptodate`` callable comparing a task's configuration with the last
    run, and its outputs with what that run wrote (a damaged output reruns its
    task, as Bazel checks its outputs' digests)."""

    def __init__(self, config: dict[str, Any], explain: bool = False, targets: list[str] | None = None,
                 root: str = ".") -> None:
        self.text = canonical(config)
        self.digest = hashlib.sha256(self.text.encode()).hexdigest()
        self.explain = explain
        self.targets = list(targets or [])
        self.root = root
        # Why the last call said "rerun" (the build trace shows it; explain=1 prints it).
        self.reasons: list[str] = []

    def __call__(self, task: Any, values: dict[str, Any]) -> bool:
        recorded = values.get(_OUTPUTS) or {}
        task.value_savers.append(lambda: {_DIGEST: self.digest, _KEY: self.text,
                                          _OUTPUTS: output_states(self.targets, self.root, recorded)})
        previous = values.get(_DIGEST)
        if previous == self.digest:
            damaged = damaged_outputs(recorded, self.root)
            if not damaged:
                self.reasons = []
                return True
            self.reasons = [f"output changed since it was built: {', '.join(damaged)}"]
        elif previous is None:
            self.reasons = ["never built (or built before fingerprints)"]
        else:
            old = json.loads(values.get(_KEY, "{}"))
            self.reasons = describe_changes(old, json.loads(self.text)) or ["(unknown)"]
        if self.explain:
            for reason in self.reasons:
                print(f"[explain] {task.name}: {reason}", file=sys.stderr)
        return False
