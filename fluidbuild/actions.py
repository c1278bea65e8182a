"""Running task actions: external commands and Python functions.

Both kinds write their outputs atomically, report failures in a few lines
that name the task and the program (no traceback for a user's mistake), and
echo what the tool printed on success (warnings matter).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Any

from doit.dependency import get_file_md5
from doit.exceptions import TaskFailed

from fluidbuild.atomic import temp_path
from fluidbuild.errors import FluidError, details
from fluidbuild.model import Command, PyAction

# The whole environment a tool sees (as Bazel runs actions): variables such as
# CPATH, C_INCLUDE_PATH or CCC_OVERRIDE_OPTIONS would change a compiler's output
# without changing any fingerprint. Tools are resolved to absolute paths.
TOOL_ENV_KEEP = ("PATH", "TMPDIR")
TOOL_ENV_SET = {"LC_ALL": "C"}


def tool_environment() -> dict[str, str]:
    """The explicit environment external programs run with."""
    env = {k: os.environ[k] for k in TOOL_ENV_KEEP if k in os.environ}
    return {**env, **TOOL_ENV_SET}


def run_command(cmd: Command, root: str, task: str, timeout_s: float) -> TaskFailed | None:
    """Run ``cmd`` with its outputs redirected to temporaries, then rename them;
    a program still running after ``timeout_s`` is killed and named."""
    temps = {out: temp_path(out) for out in cmd.outputs}
    argv = [temps.get(arg, arg) for arg in cmd.argv]
    for out in cmd.outputs:
        os.makedirs(os.path.join(root, os.path.dirname(out)), exist_ok=True)
    try:
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False,
                              env=tool_environment(), timeout=timeout_s)
    except FileNotFoundError:
        return TaskFailed(f"{task}: program not found: {argv[0]}")
    except subprocess.TimeoutExpired:
        _remove(root, temps.values())
        return TaskFailed(f"{task}: {os.path.basename(argv[0])} did not finish in {timeout_s:g} s "
                          f"(task_timeout_s) and was killed\n  command: {' '.join(argv)}")
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        _remove(root, temps.values())
        return TaskFailed(f"{task}: {os.path.basename(argv[0])} exited with status "
                          f"{proc.returncode}\n  command: {' '.join(argv)}\n{output}")
    if output:
        print(output, file=sys.stderr)
    missing = [out for out, tmp in temps.items() if not os.path.exists(os.path.join(root, tmp))]
    if missing:
        _remove(root, temps.values())
        return TaskFailed(f"{task}: {os.path.basename(argv[0])} did not write {', '.join(missing)}")
    if cmd.verify:
        try:
            cmd.verify({out: os.path.join(root, tmp) for out, tmp in temps.items()})
        except FluidError as exc:
            _remove(root, temps.values())
            return TaskFailed(f"{task}: {exc}")
    for out, tmp in temps.items():
        os.replace(os.path.join(root, tmp), os.path.join(root, out))
    return None


def run_python(action: PyAction, task: str, plugin: str) -> TaskFailed | None:
    """Call a plugin's Python action (doit runs from the project root)."""
    try:
        action.func(**action.kwargs)
    except FluidError as exc:
        return TaskFailed(f"{task}: {exc}")
    except SystemExit as exc:
        return TaskFailed(f"{task}: plugin '{plugin}' called sys.exit({exc.code!r}) in "
                          f"{action.func.__name__}")
    except Exception as exc:  # noqa: BLE001 -- a plugin bug is named, not dumped
        trace = details(exc)  # FLUIDBUILD_TRACEBACK=1: the traceback first
        return TaskFailed(f"{trace}\n" * bool(trace) + f"{task}: plugin '{plugin}' failed in "
                          f"{action.func.__name__}: {type(exc).__name__}: {exc}")
    return None


def input_digests(paths: list[str], root: str) -> dict[str, str]:
    """md5 of every input file that exists, to compare before and after a task."""
    digests = {}
    for path in paths:
        full = os.path.join(root, path)
        if os.path.isfile(full):
            digests[path] = get_file_md5(full)
    return digests


class InputGuard:
    """The first and last actions of a task: a source saved while its own build
    ran makes the task fail instead of being recorded as up to date with an
    output of the old text (doit's issue #119)."""

    def __init__(self, task: str, paths: list[str], root: str) -> None:
        self.task, self.paths, self.root = task, paths, root
        self.before: dict[str, str] = {}

    def snapshot(self) -> None:
        self.before = input_digests(self.paths, self.root)

    def check(self) -> TaskFailed | None:
        after = input_digests(self.paths, self.root)
        changed = sorted(p for p in set(self.before) | set(after) if self.before.get(p) != after.get(p))
        if changed:
            return TaskFailed(f"{self.task}: {', '.join(changed)} changed while the task ran; its "
                              "output may be stale, so it is not recorded: run the build again")
        return None


def _remove(root: str, paths: Any) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root, path))
