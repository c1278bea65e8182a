"""The task graph in Graphviz dot: one node per task, an edge from the task
writing a file to each task reading it (and from each ``task_dep``, dashed).

``grouped`` draws one node per target (``kernel_ir`` for its 23 per-file
tasks, labelled with their count), which stays readable at thousands of
tasks. Tasks that always run (``run``, ``bench``) are drawn dashed.
``python -m fluidbuild.export dot [--group]`` writes it; render it with
``dot -Tsvg build/graph.dot -o graph.svg``.
"""

from __future__ import annotations

from collections import Counter

from fluidbuild.atomic import write_text
from fluidbuild.model import TaskSpec


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def edges(tasks: list[TaskSpec]) -> list[tuple[str, str, bool]]:
    """(from task, to task, is a task_dep) for every dependency between tasks."""
    writer = {out: task.name for task in tasks for out in task.targets}
    names = {task.name for task in tasks}
    found: dict[tuple[str, str], bool] = {}
    for task in tasks:
        for dep in task.file_dep:
            if dep in writer and writer[dep] != task.name:
                found[(writer[dep], task.name)] = False
        for dep in task.task_dep:
            if dep in names:
                found.setdefault((dep, task.name), True)
    return [(a, b, order_only) for (a, b), order_only in found.items()]


def render(tasks: list[TaskSpec], grouped: bool = False) -> str:
    """The dot text of the graph of ``tasks``."""

    def node(name: str) -> str:
        return name.split(":", 1)[0] if grouped else name

    counts = Counter(node(t.name) for t in tasks)
    always = {node(t.name) for t in tasks if t.always}
    lines = ["digraph fluidbuild {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for name in counts:
        label = f"{name} ({counts[name]})" if grouped and counts[name] > 1 else name
        style = ", style=dashed" if name in always else ""
        lines.append(f"  {_quote(name)} [label={_quote(label)}{style}];")
    drawn: set[tuple[str, str]] = set()
    for a, b, order_only in edges(tasks):
        pair = (node(a), node(b))
        if pair[0] == pair[1] or pair in drawn:
            continue
        drawn.add(pair)
        lines.append(f"  {_quote(pair[0])} -> {_quote(pair[1])}{' [style=dashed]' if order_only else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def export(tasks: list[TaskSpec], path: str, grouped: bool = False) -> None:
    """Write ``path`` (see :func:`render`)."""
    write_text(path, render(tasks, grouped))
