"""What a compiler's include search saw, as a fingerprint.

A depfile lists the headers the compiler found, not the places it looked
first: a header added earlier on the search path (``src/kernel/bench.h``
shadowing ``src/bench/bench.h``, a new ``stdint.h`` in an include folder)
changes the output without changing any listed dependency. Compile tasks
therefore put :func:`search_digest` in their configuration: the file names
found under every folder searched (the source's own folder, then each
``-I``), so a new or removed header there reruns them. Only project folders
are listed (a system include folder is the toolchain's). Listings are cached
per process by absolute path; a no-op build lists each folder once.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache

# What an #include or %include names in this project: headers, never sources.
HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".inc", ".inl", ".def", ".mac")


@cache
def _listing(folder: str) -> tuple[str, ...]:
    """Every header path under the absolute ``folder``, sorted (empty when it does not exist)."""
    found = []
    for path, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(os.path.relpath(os.path.join(path, name), folder) for name in sorted(files)
                     if name.endswith(HEADER_SUFFIXES))
    return tuple(found)


def search_folders(argv: list[str], source: str) -> list[str]:
    """The folders a C or NASM compiler searches for ``source``'s includes: its
    own folder, then the ``-I`` folders in order."""
    folders = [os.path.dirname(source) or "."]
    for i, arg in enumerate(argv):
        if arg == "-I" and i + 1 < len(argv):
            folders.append(argv[i + 1])
        elif arg.startswith("-I") and len(arg) > 2:
            folders.append(arg[2:])
    return list(dict.fromkeys(os.path.normpath(f) for f in folders))


def search_digest(argv: list[str], source: str, build_dir: str) -> str:
    """A digest of what the include search of ``argv`` compiling ``source`` sees.

    Folders inside ``build_dir`` are left out: what the build generates there
    is already a file dependency of the tasks that include it, and listing it
    would change the digest between the first build and the next."""
    digest = hashlib.sha256()
    inside = os.path.normpath(build_dir) + os.sep
    for folder in search_folders(argv, source):
        if os.path.isabs(folder) or (folder + os.sep).startswith(inside):
            continue  # system folders are the system's; generated headers are file_dep already
        listing = _listing(os.path.abspath(folder))
        digest.update(folder.encode() + b"\0" + "\0".join(listing).encode() + b"\1")
    return digest.hexdigest()
