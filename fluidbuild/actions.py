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

from doit.exceptions import TaskFailed

from fluidbuild.atomic import temp_path
from fluidbuild.errors import FluidError
from fluidbuild.model import Command, PyAction


def run_command(cmd: Command, root: str, task: str) -> TaskFailed | None:
    """Run ``cmd`` with its outputs redirected to temporaries, then rename them."""
    temps = {out: temp_path(out) for out in cmd.outputs}
    argv = [temps.get(arg, arg) for arg in cmd.argv]
    for out in cmd.outputs:
        os.makedirs(os.path.join(root, os.path.dirname(out)), exist_ok=True)
    try:
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return TaskFailed(f"{task}: program not found: {argv[0]}")
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
        return TaskFailed(f"{task}: plugin '{plugin}' failed in {action.func.__name__}: "
                          f"{type(exc).__name__}: {exc}")
    return None


def _remove(root: str, paths: Any) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root, path))
