"""Errors a user can cause and fix: shown as one clear message, never a traceback.

A plugin author who needs the traceback behind such a message sets
``FLUIDBUILD_TRACEBACK=1`` (or passes ``traceback=1`` on the doit command
line): :func:`details` then gives it.
"""

from __future__ import annotations

import os
import traceback

TRACEBACK_ENV = "FLUIDBUILD_TRACEBACK"


def traceback_wanted() -> bool:
    """Whether full tracebacks were asked for (``FLUIDBUILD_TRACEBACK=1``, ``doit ... traceback=1``)."""
    return os.environ.get(TRACEBACK_ENV, "") not in ("", "0")


def details(exc: BaseException) -> str:
    """The traceback of the plugin code behind ``exc`` (a :class:`PluginError` keeps the
    exception it replaced), or of ``exc`` itself; empty unless tracebacks were asked for."""
    if not traceback_wanted():
        return ""
    original = getattr(exc, "original", None) or exc
    return "".join(traceback.format_exception(original)).rstrip()


class FluidError(Exception):
    """A user-facing error: bad manifest, missing tool, failing plugin, bad image."""


class ManifestError(FluidError):
    """A manifest that does not match the schema, located by file, line and key path."""

    def __init__(self, path: str, line: int | None, keypath: str, message: str) -> None:
        self.path, self.line, self.keypath = path, line, keypath
        where = f"{path}:{line}" if line else path
        key = f" at '{keypath}'" if keypath else ""
        super().__init__(f"{where}: manifest error{key}: {message}")


class ToolMissing(FluidError):
    """A required program is not installed."""

    def __init__(self, tool: str, candidates: list[str], package: str) -> None:
        tried = ", ".join(candidates)
        super().__init__(
            f"missing tool: {tool} (tried {tried}); install the Debian package '{package}'"
        )


class PluginError(FluidError):
    """A plugin raised, or a manifest named a plugin that is not installed.

    ``original`` is the exception the plugin raised, kept for :func:`details`.
    """

    def __init__(self, plugin: str, hook: str, message: str, original: BaseException | None = None) -> None:
        self.plugin, self.hook, self.original = plugin, hook, original
        super().__init__(f"plugin '{plugin}' failed in hook {hook}: {message}")
