"""Errors a user can cause and fix: shown as one clear message, never a traceback."""

from __future__ import annotations


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
    """A plugin raised, or a manifest named a plugin that is not installed."""

    def __init__(self, plugin: str, hook: str, message: str) -> None:
        self.plugin, self.hook = plugin, hook
        super().__init__(f"plugin '{plugin}' failed in hook {hook}: {message}")
