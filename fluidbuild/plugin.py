"""Loading plugins and calling hooks through one typed facade.

Core code never writes ``pm.hook.fluidbuild_x(...)``: it calls a method of
:class:`Plugins`, which knows which hooks go to every plugin and which go to
the single plugin a manifest entry names, and turns any exception a plugin
raises into a :class:`PluginError` naming the plugin and the hook.

Plugins come from the entry-point group ``fluidbuild.plugins`` (built-ins
included) and from the manifest's ``local_plugins`` (project files, the way
tox reads ``toxfile.py``). ``FLUIDBUILD_TRACE=1`` prints every hook call.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from fluidbuild import hookspecs
from fluidbuild.errors import FluidError, PluginError
from fluidbuild.model import (
    BuildContext,
    Manifest,
    Placement,
    Target,
    TargetResult,
    TaskSpec,
    Tool,
    ToolSpec,
)
from fluidbuild.schema import Schema


@dataclass(frozen=True)
class PluginInfo:
    """Where a loaded plugin came from."""

    name: str
    version: str
    origin: str  # distribution name or project file
    path: str  # file of the module


class Plugins:
    """The plugin manager facade used by the core."""

    def __init__(self, local_plugins: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        """Load the installed plugins, then ``local_plugins`` (name -> file), then
        ``extra`` (name -> plugin object, for tests: :mod:`fluidbuild.testing`; one
        replaces the installed plugin of its name)."""
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self._digests: dict[str, str] = {}
        for ep in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            dist = ep.dist
            self._register(ep.name, lambda ep=ep: ep.load(), dist.version if dist else "0",
                           dist.name if dist else "entry point")
        installed = set(self.info)
        for name, path in (local_plugins or {}).items():
            self._register(name, lambda path=path, name=name: _load_file(name, path),
                           "local", f"project file {path}")
        for name, plugin in (extra or {}).items():
            if name in installed:
                self._pm.unregister(name=name)
                del self.info[name]
            self._register(name, lambda plugin=plugin: plugin, "test", "test plugin object")
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(exc.plugin_name if hasattr(exc, "plugin_name") else "?",
                              "check_pending", str(exc)) from None
        if os.environ.get("FLUIDBUILD_TRACE"):
            self._pm.trace.root.setwriter(sys.stderr.write)
            self._pm.enable_tracing()

    def _register(self, name: str, load: Callable[[], Any], version: str, origin: str) -> None:
        if name in self.info:
            raise PluginError(name, "load", f"two plugins are named '{name}' "
                              f"({self.info[name].origin} and {origin})")
        try:
            plugin = load()
            self._pm.register(plugin, name=name)
        except FluidError:
            raise
        except SystemExit as exc:
            raise PluginError(name, "load", f"the plugin called sys.exit({exc.code!r})") from None
        except Exception as exc:  # noqa: BLE001 -- a broken plugin is reported, not a traceback
            raise PluginError(name, "load", f"{type(exc).__name__}: {exc}") from None
        version = getattr(plugin, "__version__", version)
        self.info[name] = PluginInfo(name, version, origin, getattr(plugin, "__file__", "?"))

    def source_digest(self, name: str) -> str:
        """A digest of the plugin's own source: its module file, or every ``.py``
        file of its package's folder, so an edit to a plugin reruns its tasks."""
        if name not in self._digests:
            path = self.info[name].path if name in self.info else ""
            module = self._pm.get_plugin(name)
            package = getattr(module, "__package__", None)
            files = sorted(glob.glob(os.path.join(os.path.dirname(path), "*.py"))) if package else [path]
            digest = hashlib.sha256()
            for file in files:
                try:
                    with open(file, "rb") as f:
                        digest.update(file.encode() + b"\0" + f.read())
                except OSError:
                    digest.update(f"{file}: unreadable".encode())
            self._digests[name] = digest.hexdigest()
        return self._digests[name]

    # -- calling ---------------------------------------------------------------

    def _all(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every plugin; return (plugin name, result) pairs."""
        results = []
        for impl in reversed(getattr(self._pm.hook, hook).get_hookimpls()):
            result = self._invoke(impl.plugin_name, hook, impl.function, kwargs)
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    def _one(self, plugin: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on the single plugin named ``plugin``."""
        self.require(plugin, hook)
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin:
                return self._invoke(plugin, hook, impl.function, kwargs)
        return None

    def require(self, plugin: str, hook: str) -> None:
        """Fail clearly unless ``plugin`` is loaded and implements ``hook``."""
        if plugin not in self.info:
            known = ", ".join(sorted(self.info)) or "none"
            raise PluginError(plugin, hook, f"no plugin named '{plugin}' is installed "
                              f"(known: {known})")
        if not any(i.plugin_name == plugin for i in getattr(self._pm.hook, hook).get_hookimpls()):
            raise PluginError(plugin, hook, "the plugin does not implement this hook")

    def _invoke(self, plugin: str, hook: str, function: Callable[..., Any],
                kwargs: dict[str, Any]) -> Any:
        impl_args = function.__code__.co_varnames[: function.__code__.co_argcount]
        try:
            return function(**{k: v for k, v in kwargs.items() if k in impl_args})
        except FluidError:
            raise
        except SystemExit as exc:
            raise PluginError(plugin, hook, f"the plugin called sys.exit({exc.code!r})") from None
        except Exception as exc:  # noqa: BLE001 -- named in one line instead of a traceback
            raise PluginError(plugin, hook, f"{type(exc).__name__}: {exc}") from None

    def context(self, manifest: Manifest, cpu_profile: dict[str, Any], tools: Callable[[str], Tool],
                variables: dict[str, str] | None = None) -> BuildContext:
        """The :class:`BuildContext` plugins receive, its delegation calls bound to these plugins."""
        return BuildContext(
            root=manifest.root, build_dir=manifest.build_dir, manifest=manifest, cpu_profile=cpu_profile,
            tools=tools, variables=dict(variables or {}), image_layout=self.image_layout,
            qemu_command=lambda run, image, debug=False: self.qemu_command(run, image, tools(run.binary),
                                                                           debug))

    # -- the hooks, typed ----------------------------------------------------------

    def manifest_sections(self) -> dict[str, tuple[str, Schema]]:
        sections: dict[str, tuple[str, Schema]] = {}
        for plugin, contributed in self._all("fluidbuild_manifest_sections"):
            for name, schema in contributed.items():
                if name in sections:
                    raise PluginError(plugin, "fluidbuild_manifest_sections",
                                      f"section '{name}' is already owned by '{sections[name][0]}'")
                sections[name] = (plugin, schema)
        return sections

    def options_schema(self, plugin: str) -> Schema | None:
        self.require(plugin, "fluidbuild_target_tasks")
        impls = self._pm.hook.fluidbuild_options_schema.get_hookimpls()
        if not any(i.plugin_name == plugin for i in impls):
            return None
        return self._one(plugin, "fluidbuild_options_schema")

    def tools(self) -> list[ToolSpec]:
        return [spec for _, specs in self._all("fluidbuild_tools") for spec in specs]

    def cpu_profile(self, request: dict[str, Any], tools: Callable[[str], Tool]) -> dict[str, Any]:
        for plugin, profile in self._all("fluidbuild_cpu_profile", request=request, tools=tools):
            if not isinstance(profile, dict) or "tag" not in profile:
                raise PluginError(plugin, "fluidbuild_cpu_profile", "did not return a profile dict")
            return profile
        raise FluidError("no installed plugin produces a CPU profile")

    def target_tasks(self, target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
        result = self._one(target.plugin, "fluidbuild_target_tasks",
                           target=target, inputs=inputs, ctx=ctx)
        if not isinstance(result, TargetResult):
            raise PluginError(target.plugin, "fluidbuild_target_tasks",
                              f"returned {type(result).__name__}, expected TargetResult")
        return result

    def image_layout(self, plugin: str, image: dict[str, Any], parts: dict[str, str]) -> list[Placement]:
        return list(self._one(plugin, "fluidbuild_image_layout", image=image, parts=parts))

    def tasks(self, manifest: Manifest, ctx: BuildContext,
              outputs: dict[str, list[str]]) -> list[tuple[str, TaskSpec]]:
        """Whole-project tasks, each with the name of the plugin that declared it."""
        return [(plugin, t) for plugin, specs in self._all("fluidbuild_tasks", manifest=manifest, ctx=ctx,
                                                           outputs=outputs) for t in specs]

    def qemu_command(self, profile: Any, image: str, qemu: Tool, debug: bool) -> list[str]:
        return list(self._one(profile.plugin, "fluidbuild_qemu_command", profile=profile,
                              image=image, qemu=qemu, debug=debug))


def _load_file(name: str, path: str) -> ModuleType:
    """Import a project-local plugin file as module ``fluidbuild_local_<name>``."""
    spec = importlib.util.spec_from_file_location(f"fluidbuild_local_{name}", path)
    if spec is None or spec.loader is None:
        raise PluginError(name, "load", f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
