"""Reading the make-style dependency files that compilers write (``-MD``).

Header and ``%include`` dependencies come from the tools themselves, never
from a scanner of ours. The file from the previous run is read when the graph
is built: a first build has none, but then the target is missing anyway.
"""

from __future__ import annotations

import os


def parse(text: str) -> list[str]:
    """The prerequisites listed in a make rule ``target: dep dep \\ ...``."""
    joined = text.replace("\\\n", " ")
    deps: list[str] = []
    for rule in joined.splitlines():
        if ":" not in rule:
            continue
        _, _, rest = rule.partition(": ")
        token = ""
        chars = iter(rest)
        for ch in chars:
            if ch == "\\":  # an escaped space belongs to the file name
                token += next(chars, "")
            elif ch.isspace():
                if token:
                    deps.append(token)
                token = ""
            else:
                token += ch
        if token:
            deps.append(token)
    return deps


def read(path: str, root: str) -> tuple[list[str], list[str]]:
    """Dependencies recorded in ``path`` as project-relative paths.

    :return: (existing dependencies, vanished ones). A vanished header must
        rerun the task rather than make doit fail on a missing file.
    """
    try:
        with open(os.path.join(root, path)) as f:
            text = f.read()
    except FileNotFoundError:
        return [], []
    existing, vanished = [], []
    for dep in dict.fromkeys(parse(text)):
        absolute = os.path.normpath(os.path.join(root, dep))
        rel = os.path.relpath(absolute, root)
        if rel.startswith(".."):
            continue  # system headers are part of the tool's identity
        (existing if os.path.exists(absolute) else vanished).append(rel)
    return existing, vanished
