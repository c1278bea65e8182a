"""``compile_commands.json`` for the C sources: what editors and clangd read.

One entry per C compile task (the ``clang_ir`` and ``native`` plugins' tasks,
and any other task whose command is a compiler run with ``-c`` on one ``.c``
file), in the JSON compilation database format: ``directory`` (the project),
``file`` (the source), ``arguments`` (the exact command line the build runs)
and ``output``. A source compiled several times (generic and tuned variants,
the kernel and the JIT module) has one entry per compile, as CMake writes;
clangd uses the first. ``python -m fluidbuild.export compdb`` writes it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fluidbuild.atomic import write_text
from fluidbuild.model import Command, TaskSpec

C_SUFFIXES = (".c",)


def _is_compiler(program: str) -> bool:
    name = os.path.basename(program)
    return name.startswith(("clang", "gcc", "cc")) or name in ("cc", "c99")


def entries(tasks: list[TaskSpec], root: str) -> list[dict[str, Any]]:
    """The compilation database entries of ``tasks``, in the graph's order."""
    found = []
    for task in tasks:
        for action in task.actions:
            if not isinstance(action, Command) or "-c" not in action.argv or not _is_compiler(action.argv[0]):
                continue
            sources = [a for a in action.argv[1:] if a.endswith(C_SUFFIXES) and a in task.file_dep]
            if len(sources) != 1:
                continue
            argv = list(action.argv)
            entry: dict[str, Any] = {"directory": root, "file": sources[0], "arguments": argv}
            if "-o" in argv and argv.index("-o") + 1 < len(argv):
                entry["output"] = argv[argv.index("-o") + 1]
            found.append(entry)
    return found


def render(tasks: list[TaskSpec], root: str) -> str:
    """The text of ``compile_commands.json``."""
    return json.dumps(entries(tasks, root), indent=1) + "\n"


def export(tasks: list[TaskSpec], root: str, path: str) -> None:
    """Write ``path`` (``compile_commands.json``)."""
    write_text(path, render(tasks, root))
