"""Reading the make-style dependency files that compilers write (``-MD``).

Header and ``%include`` dependencies come from the tools themselves, never
from a scanner of ours. The file from the previous run is read when the graph
is built: a first build has none, but then the target is missing anyway.

Every dependency is tracked, inside the project (by project-relative path) or
outside it (by absolute path: a package's benchmark headers in
site-packages), except the system's own headers: the C library's
(``/usr/include``) and the compiler's (``lib/clang/<version>/include``,
``lib/gcc/...``), which are part of the tool's identity (its version is in
every task's fingerprint).
"""

from __future__ import annotations

import os
import re

# Where the system's and the compilers' own headers live.
SYSTEM_HEADERS = re.compile(r"^/usr(/local)?/include/|/lib(64)?/(clang|gcc)/")


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
    """Dependencies recorded in ``path``: project-relative inside the project, absolute
    outside it, system headers left out.

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
        if rel == ".." or rel.startswith(".." + os.sep):
            if SYSTEM_HEADERS.search(absolute):
                continue  # the system's headers are part of the tool's identity
            rel = absolute
        (existing if os.path.exists(absolute) else vanished).append(rel)
    return existing, vanished
