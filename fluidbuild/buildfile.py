"""The task graph as plain build rules, shared by the Makefile and ninja exports.

Each task that writes files becomes a :class:`Rule`: its outputs, its declared
inputs, its depfile and its command lines. External commands are kept verbatim
(as argv lists); a Python action becomes ``python -m fluidbuild.buildfile call
FILE``, FILE holding the pickled action (written under ``actions_dir``).
Tasks that write nothing or always run (``run``, ``bench``, ``plugins``) have
no rule. :func:`default_outputs` says what a plain ``make``/``ninja`` builds:
the outputs of the task ``image`` and everything they need, as ``doit`` does.
"""

from __future__ import annotations

import os
import pickle
import sys
from dataclasses import dataclass

from fluidbuild.atomic import write_bytes
from fluidbuild.model import Command, PyAction, TaskSpec

DEFAULT_TASK = "image"


@dataclass
class Rule:
    """One task as a build rule."""

    name: str  # the task's name, "basename:sub"
    outputs: list[str]
    inputs: list[str]
    commands: list[list[str]]  # argv of each command, in order
    depfile: str | None

    @property
    def output_dirs(self) -> list[str]:
        """The folders the outputs go to (make must create them; ninja does)."""
        return sorted({os.path.dirname(o) for o in self.outputs if os.path.dirname(o)})


def rules(tasks: list[TaskSpec], actions_dir: str) -> list[Rule]:
    """The rules of every task that writes files, in the graph's order."""
    found = []
    for task in tasks:
        if not task.targets or task.always:
            continue
        commands = [_argv(action, task, i, actions_dir) for i, action in enumerate(task.actions)]
        found.append(Rule(task.name, list(task.targets), list(dict.fromkeys(task.file_dep)), commands,
                          task.depfile))
    return found


def default_outputs(tasks: list[TaskSpec]) -> list[str]:
    """The outputs a plain build makes: the ``image`` task's, else every task's."""
    for task in tasks:
        if task.name == DEFAULT_TASK and task.targets:
            return list(task.targets)
    return [out for task in tasks if not task.always for out in task.targets]


def _argv(action: Command | PyAction, task: TaskSpec, index: int, actions_dir: str) -> list[str]:
    if isinstance(action, Command):
        return list(action.argv)
    name = task.name.replace(":", "__").replace("/", "_")
    pickled = os.path.join(actions_dir, f"{name}.{index}.pickle")
    write_bytes(pickled, pickle.dumps(action))
    return [sys.executable, "-m", "fluidbuild.buildfile", "call", pickled]


def call(path: str) -> None:
    """Run the pickled Python action in ``path`` (written by :func:`rules` in this tree)."""
    with open(path, "rb") as f:
        action: PyAction = pickle.load(f)
    action.func(**action.kwargs)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "call":
        print(f"usage: python -m {__spec__.name if __spec__ else 'fluidbuild.buildfile'} call ACTION.pickle",
              file=sys.stderr)
        return 2
    call(argv[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
