"""Finding the external programs plugins need, and identifying them.

A tool's identity (resolved path and version line) is part of every task
that runs it, so upgrading clang rebuilds exactly the clang tasks. Asking a
program for its version costs a process start, so versions are cached in
``build/.fluidbuild/tools.json`` keyed by the executable's path, size and
modification time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess

from fluidbuild.atomic import write_text
from fluidbuild.errors import FluidError, ToolMissing
from fluidbuild.model import Tool, ToolSpec

# The programs the built-in plugins run, with the Debian package providing each.
CLANG = ToolSpec("clang", ("clang-22", "clang-21", "clang-20", "clang-19", "clang-18", "clang"),
                 "clang-19")
NASM = ToolSpec("nasm", ("nasm",), "nasm", ("-v",))
LINKER = ToolSpec("linker", ("ld.lld-22", "ld.lld-21", "ld.lld-20", "ld.lld-19", "ld.lld", "ld"),
                  "lld-19")


class Toolbox:
    """Resolves logical tool names (``clang``) to :class:`Tool` on demand."""

    def __init__(self, specs: list[ToolSpec], overrides: dict[str, tuple[str, ...]],
                 cache_path: str) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self._overrides = overrides
        self._cache_path = cache_path
        self._resolved: dict[str, Tool] = {}
        try:
            with open(cache_path) as f:
                self._cache: dict[str, dict[str, object]] = json.load(f)
        except (OSError, ValueError):
            self._cache = {}
        self._dirty = False

    def __call__(self, name: str) -> Tool:
        """Resolve ``name``; raise :class:`ToolMissing` naming its Debian package."""
        if name not in self._resolved:
            self._resolved[name] = self._find(name)
        return self._resolved[name]

    def resolved(self) -> list[Tool]:
        """The tools resolved so far (:mod:`fluidbuild.noop` records their files)."""
        return list(self._resolved.values())

    def _find(self, name: str) -> Tool:
        spec = self._specs.get(name)
        if spec is None:
            raise FluidError(f"no plugin declares a tool named '{name}'")
        candidates = self._overrides.get(name) or spec.candidates
        for candidate in candidates:
            path = shutil.which(candidate)
            if path:
                return Tool(name, os.path.abspath(path), self._version(path, spec))
        raise ToolMissing(name, list(candidates), spec.package)

    def _version(self, path: str, spec: ToolSpec) -> str:
        real = os.path.realpath(path)
        st = os.stat(real)
        key = f"{real}|{' '.join(spec.version_args)}"
        stamp = [st.st_size, st.st_mtime_ns]
        cached = self._cache.get(key)
        if cached and cached.get("stamp") == stamp:
            return str(cached["version"])
        try:
            proc = subprocess.run([path, *spec.version_args], capture_output=True, text=True,
                                  timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FluidError(f"cannot ask {path} for its version: {exc}") from None
        lines = (proc.stdout or proc.stderr).strip().splitlines()
        version = lines[0].strip() if lines else "unknown"
        self._cache[key] = {"stamp": stamp, "version": version}
        self._dirty = True
        return version

    def save(self) -> None:
        """Persist newly learned versions (called once after the graph is built)."""
        if self._dirty:
            with contextlib.suppress(OSError):  # a cache: a read-only tree just asks again next time
                write_text(self._cache_path, json.dumps(self._cache, indent=1, sort_keys=True))
            self._dirty = False
