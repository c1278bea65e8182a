"""Loading plugins and calling their hooks through pluggy, behind one typed facade.

Core code never writes ``pm.hook.fluidbuild_x(...)``: it calls a method of
:class:`Plugins` (as tox 4 puts ``tox.plugin.manager`` in front of pluggy),
which decides which plugins a hook goes to and checks what comes back. The
call itself is pluggy's, so ``FLUIDBUILD_TRACE=1`` traces every one, hook
wrappers (``@hookimpl(wrapper=True)``, old-style ``hookwrapper=True``) wrap
it, an implementation takes the arguments its signature names (through
``functools.wraps`` too) and ``firstresult`` holds:

* a *single* hook (hookspecs.py) goes to the one plugin the manifest names,
  with every plugin's wrappers (a subset hook caller);
* the others go to the plugins the manifest *uses*: the built-in plugins
  (distribution ``fluidbuild``), ``local_plugins`` and test objects always; a
  package's plugin when a target, a section or a delegation (``image.plugin``,
  ``run.<profile>.plugin``, ``cpu_profile.plugin``) names it, when the
  manifest writes a section it owns, lists a benchmark it contributes or its
  distribution under ``requires:``. An installed plugin the manifest does not
  use adds no task, section, tool or error code, and never answers a
  single-result hook such as the CPU profile.

Loading: plugins come from the entry-point group ``fluidbuild.plugins``
(built-ins included), the manifest's ``local_plugins`` (project files, the
way tox reads ``toxfile.py``) and, in tests, plugin objects. A package's
plugin that fails to import, declares an unsupported API range
(``fluidbuild_api``, hookspecs.py), implements an unknown hook or raises
while declaring what it contributes is set aside with its reason: projects
that do not use it keep working, one that does gets that reason as its
error, and ``doit plugins`` lists it. ``disable=NAME,...`` on the doit command
line (or ``FLUIDBUILD_DISABLE``) does not load a plugin for one run, as
pytest's ``-p no:NAME``.

Every hook implementation is wrapped when it is registered (:class:`_Guarded`)
so that an exception it raises becomes one line naming the plugin and the
hook (:class:`~fluidbuild.errors.PluginError`); ``FLUIDBUILD_TRACEBACK=1``
(``doit ... traceback=1``) prints the traceback behind it.
"""

from __future__ import annotations

import difflib
import functools
import glob
import hashlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable, Collection, Generator
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from fluidbuild import __version__, hookspecs
from fluidbuild.errors import FluidError, PluginError
from fluidbuild.model import (
    Benchmark,
    BuildContext,
    FatalCode,
    Manifest,
    Placement,
    Target,
    TargetResult,
    TaskSpec,
    Tool,
    ToolSpec,
)
from fluidbuild.schema import Schema

BUILTIN_DISTRIBUTION = "fluidbuild"  # its plugins are always active
CPU_PROFILE_PLUGIN = "cpu_flags"  # answers fluidbuild_cpu_profile unless cpu_profile.plugin names another
TRACE_ENV = "FLUIDBUILD_TRACE"
DISABLE_ENV = "FLUIDBUILD_DISABLE"  # comma-separated plugin names not to load
TRACE_LINE_CHARS = 200  # a traced argument is cut here (a manifest is long)
MARKER = f"{hookspecs.PROJECT}_impl"  # the attribute @hookimpl puts on a function
BENCHMARK_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin came from, and why it is not loaded if it is not."""

    name: str
    version: str
    origin: str  # "entry point <module>", "project file <path>", "test plugin object"
    path: str  # file of the module
    distribution: str = ""  # "<name> <version>" of the package; "" for project files and test objects
    api: str = hookspecs.DEFAULT_API_RANGE  # the plugin API versions it supports
    always: bool = True  # active whatever the manifest says (built-in, project file, test object)
    error: str = ""  # why it is not loaded ("" when it is)

    @property
    def where(self) -> str:
        """Its distribution, else its origin, for messages."""
        return f"distribution {self.distribution}" if self.distribution else self.origin


class Plugins:
    """The plugin manager facade used by the core."""

    def __init__(self, local_plugins: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None, disabled: Collection[str] = ()) -> None:
        """Load the installed plugins, then ``local_plugins`` (name -> file), then
        ``extra`` (name -> plugin object, for tests: :mod:`fluidbuild.testing`; one
        replaces the installed plugin of its name); skip the ``disabled`` names and
        those of ``$FLUIDBUILD_DISABLE``."""
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}  # loaded plugins
        self.broken: dict[str, PluginInfo] = {}  # set aside, with their error
        self.disabled = {*disabled, *_names(os.environ.get(DISABLE_ENV, ""))}
        self.used: set[str] = set()  # named by the manifest (see the module docstring)
        self._digests: dict[str, str] = {}
        self._recorded: list[tuple[str, Any]] | None = None
        self._catalog: dict[str, list[tuple[str, Benchmark]]] | None = None
        extra = dict(extra or {})
        dists: dict[Any, tuple[str, str]] = {}  # reading a distribution's metadata parses a file
        for ep in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if ep.name in self.disabled or ep.name in extra:
                continue
            dist_name, version = _distribution(ep.dist, dists)
            self._register(PluginInfo(ep.name, version or "0", f"entry point {ep.value}", "?",
                                      f"{dist_name} {version}" if dist_name else "",
                                      always=dist_name.lower() in ("", BUILTIN_DISTRIBUTION)), ep.load)
        for name, path in (local_plugins or {}).items():
            if name not in self.disabled:
                self._register(PluginInfo(name, "local", f"project file {path}", path),
                               lambda path=path, name=name: _load_file(name, path))
        for name, plugin in extra.items():
            self._register(PluginInfo(name, "test", "test plugin object", "?"), lambda plugin=plugin: plugin)
        if os.environ.get(TRACE_ENV, "") not in ("", "0"):
            self._pm.trace.root.setwriter(_trace)
            self._pm.enable_tracing()

    # -- loading ------------------------------------------------------------------

    def _register(self, info: PluginInfo, load: Callable[[], Any]) -> None:
        """Load, check and register one plugin; a package's plugin that fails is set aside."""
        name = info.name
        guarded = None
        try:
            other = self.info.get(name) or self.broken.get(name)
            if other is not None:
                raise PluginError(name, "load", f"two plugins are named '{name}' ({other.where} and "
                                  f"{info.where})")
            try:
                plugin = load()
            except SystemExit as exc:
                raise PluginError(name, "load", f"the plugin called sys.exit({exc.code!r})", exc) from None
            except FluidError:
                raise
            except Exception as exc:  # noqa: BLE001 -- a broken plugin is reported, not a traceback
                raise PluginError(name, "load", f"{type(exc).__name__}: {exc}", exc) from None
            api = getattr(plugin, hookspecs.API_ATTRIBUTE, None) or hookspecs.DEFAULT_API_RANGE
            info = replace(info, version=str(getattr(plugin, "__version__", info.version)),
                           path=getattr(plugin, "__file__", None) or info.path, api=str(api))
            _check_api(info)
            guarded = _Guarded(plugin, name, self._record)
            try:
                self._pm.register(guarded, name=name)
            except pluggy.PluginValidationError as exc:
                guarded = None
                raise PluginError(name, "register", " ".join(str(exc).split()), exc) from None
            self._check_hooks(name, guarded)
        except PluginError as exc:
            if guarded is not None and self._pm.is_registered(guarded):
                self._pm.unregister(guarded)
            if info.always:
                raise
            self.broken[name] = replace(info, error=str(exc))
            return
        self.info[name] = info

    def _check_hooks(self, name: str, guarded: _Guarded) -> None:
        """Refuse a hook implementation that names no hook of this API version."""
        for caller in self._pm.get_hookcallers(guarded) or []:
            own = [i for i in caller.get_hookimpls() if i.plugin is guarded]
            if caller.spec is None and not any(i.optionalhook for i in own):
                known = [h for h in vars(hookspecs) if h.startswith("fluidbuild_")]
                close = difflib.get_close_matches(caller.name, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise PluginError(name, caller.name, f"no such hook in fluidbuild's plugin API "
                                  f"{hookspecs.API_VERSION}{hint}; a hook of a later version may be marked "
                                  "@hookimpl(optionalhook=True)")

    def _set_aside(self, name: str, error: str) -> None:
        """Unload a package's plugin that failed: projects that do not use it keep working."""
        self._pm.unregister(name=name)
        self.broken[name] = replace(self.info.pop(name), error=error)

    def source_digest(self, name: str) -> str:
        """A digest of the plugin's own source: its module file, or every ``.py``
        file of its package's folder, so an edit to a plugin reruns its tasks.
        Files are named by their base name only: the digest (part of every task's
        configuration and cache key) does not depend on where the checkout is."""
        if name not in self._digests:
            path = self.info[name].path if name in self.info else ""
            module = self._pm.get_plugin(name)
            package = getattr(module, "__package__", None)
            files = sorted(glob.glob(os.path.join(os.path.dirname(path), "*.py"))) if package else [path]
            digest = hashlib.sha256()
            for file in files:
                try:
                    with open(file, "rb") as f:
                        digest.update(os.path.basename(file).encode() + b"\0" + f.read())
                except OSError:
                    digest.update(f"{os.path.basename(file)}: unreadable".encode())
            self._digests[name] = digest.hexdigest()
        return self._digests[name]

    # -- which plugins a hook goes to ---------------------------------------------------

    def use(self, name: str) -> None:
        """Note that the manifest uses plugin ``name``."""
        self.used.add(name)

    def active(self) -> set[str]:
        """The plugins hooks other than *single* ones go to (see the module docstring)."""
        return {name for name, info in self.info.items() if info.always or name in self.used}

    def implements(self, plugin: str, hook: str) -> bool:
        """Whether ``plugin`` has an implementation (not only a wrapper) of ``hook``."""
        return any(i.plugin_name == plugin and not (i.wrapper or i.hookwrapper)
                   for i in getattr(self._pm.hook, hook).get_hookimpls())

    def require(self, plugin: str, hook: str) -> None:
        """Fail clearly unless ``plugin`` is loaded and implements ``hook``."""
        if plugin in self.broken:
            raise PluginError(plugin, hook, f"the plugin is not loaded: {self.broken[plugin].error}")
        if plugin in self.disabled:
            raise PluginError(plugin, hook, f"the plugin is disabled for this run (disable= or "
                              f"{DISABLE_ENV})")
        if plugin not in self.info:
            known = ", ".join(sorted(self.info)) or "none"
            raise PluginError(plugin, hook, f"no plugin named '{plugin}' is installed (known: {known}); "
                              "a package's plugin is installed with pip (list its distribution under "
                              "'requires:' and the manifest names the command)")
        if not self.implements(plugin, hook):
            raise PluginError(plugin, hook, "the plugin does not implement this hook")

    def delegate(self, plugin: str, hook: str, section: str | None) -> Schema | None:
        """A manifest entry names ``plugin`` for ``hook``: check it, note the use, and return
        the schema of its own keys in ``section`` (:class:`fluidbuild.schema.PluginLookup`)."""
        self.require(plugin, hook)
        self.use(plugin)
        if section and self.implements(plugin, "fluidbuild_settings_schema"):
            return self._one(plugin, "fluidbuild_settings_schema", section=section)
        return None

    def _caller(self, hook: str, plugins: Collection[str]) -> pluggy.HookCaller:
        """``hook`` restricted to ``plugins``: other plugins' implementations are left
        out, every wrapper stays."""
        caller = getattr(self._pm.hook, hook)
        drop = [i.plugin for i in caller.get_hookimpls()
                if i.plugin_name not in plugins and not (i.wrapper or i.hookwrapper)]
        return self._pm.subset_hook_caller(hook, drop)

    def _one(self, plugin: str, hook: str, **kwargs: Any) -> Any:
        """Call *single* hook ``hook`` (firstresult, hookspecs.py) on ``plugin``, inside every
        wrapper; its result."""
        self.require(plugin, hook)
        return self._caller(hook, {plugin})(**kwargs)

    def _all(self, hook: str, plugins: Collection[str] | None = None, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` once on ``plugins`` (default: the active ones); (plugin, result)
        pairs, a result a wrapper put in its place named after the wrapper's plugin."""
        caller = self._caller(hook, self.active() if plugins is None else plugins)
        outer, self._recorded = self._recorded, []
        try:
            results = caller(**kwargs)
        finally:
            recorded, self._recorded = self._recorded, outer
        by_id = {id(result): plugin for plugin, result in recorded}
        wrappers = [i.plugin_name for i in caller.get_hookimpls() if i.wrapper or i.hookwrapper]
        return [(by_id.get(id(r), wrappers[-1] if wrappers else "?"), r) for r in results]

    def _every_loaded(self, hook: str) -> list[tuple[str, Any]]:
        """``hook`` on every loaded plugin (declarations needed before the manifest says
        what it uses); a package's plugin that raises is set aside and the call repeated."""
        while True:
            try:
                return self._all(hook, plugins=set(self.info))
            except PluginError as exc:
                if exc.plugin not in self.info or self.info[exc.plugin].always:
                    raise
                self._set_aside(exc.plugin, str(exc))

    def _always_first(self, pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """(plugin, result) pairs, those of always-active plugins first, then in the order the
        plugins were loaded: of two claiming the same thing, the package, else the later
        one, is the one named."""
        order = {name: i for i, name in enumerate(self.info)}
        return sorted(pairs, key=lambda pair: (not (pair[0] in self.info and self.info[pair[0]].always),
                                               order.get(pair[0], len(order))))

    def _record(self, plugin: str, result: Any) -> None:
        if self._recorded is not None:
            self._recorded.append((plugin, result))

    # -- the hooks, typed ----------------------------------------------------------

    def manifest_sections(self) -> dict[str, tuple[str, Schema]]:
        """Every section a loaded plugin contributes: name -> (plugin, schema). A package
        claiming a section another plugin owns is set aside."""
        sections: dict[str, tuple[str, Schema]] = {}
        for plugin, contributed in self._always_first(self._every_loaded("fluidbuild_manifest_sections")):
            for name, schema in contributed.items():
                owner = sections.get(name, (None,))[0]
                if owner is None:
                    sections[name] = (plugin, schema)
                    continue
                why = f"section '{name}' is already owned by '{owner}'"
                loser = plugin if not self.info[plugin].always else owner
                if self.info[loser].always:
                    raise PluginError(plugin, "fluidbuild_manifest_sections", why)
                self._set_aside(loser, str(PluginError(loser, "fluidbuild_manifest_sections", why)))
                sections = {k: v for k, v in sections.items() if v[0] != loser}
                if loser == owner:
                    sections[name] = (plugin, schema)
        return sections

    def options_schema(self, plugin: str) -> Schema | None:
        self.require(plugin, "fluidbuild_target_tasks")
        if not self.implements(plugin, "fluidbuild_options_schema"):
            return None
        return self._one(plugin, "fluidbuild_options_schema")

    def tools(self) -> list[ToolSpec]:
        return [spec for _, specs in self._all("fluidbuild_tools") for spec in specs]

    def _benchmark_catalog(self) -> dict[str, list[tuple[str, Benchmark]]]:
        if self._catalog is None:
            catalog: dict[str, list[tuple[str, Benchmark]]] = {}
            for plugin, items in self._always_first(self._every_loaded("fluidbuild_benchmarks")):
                for item in items:
                    if not isinstance(item, Benchmark) or not BENCHMARK_NAME.fullmatch(item.name):
                        raise PluginError(plugin, "fluidbuild_benchmarks", f"expected Benchmark objects "
                                          f"named like {BENCHMARK_NAME.pattern}, got {item!r}")
                    catalog.setdefault(item.name, []).append((plugin, item))
            self._catalog = catalog
        return self._catalog

    def use_benchmark(self, name: str) -> None:
        """The manifest lists benchmark ``name``: its plugin, if a plugin contributes it, is
        used; two contributing it, or a source that is not installed, is an error."""
        found = self._benchmark_catalog().get(name, [])
        if len(found) > 1:
            raise PluginError(found[1][0], "fluidbuild_benchmarks", f"benchmark '{name}' is also "
                              f"contributed by '{found[0][0]}'")
        for plugin, bench in found:
            if not os.path.isabs(bench.source) or not os.path.isfile(bench.source):
                raise PluginError(plugin, "fluidbuild_benchmarks", f"the source of benchmark '{name}', "
                                  f"{bench.source!r}, is not an installed file (an absolute path; is it "
                                  "package data?)")
            self.use(plugin)

    def benchmarks(self) -> dict[str, Benchmark]:
        """The benchmarks plugins contribute, by name (those two contribute left out)."""
        return {name: found[0][1] for name, found in self._benchmark_catalog().items() if len(found) == 1}

    def fatal_codes(self) -> dict[int, FatalCode]:
        """The loader error codes of the active plugins, by code."""
        codes: dict[int, tuple[str, FatalCode]] = {}
        for plugin, items in self._always_first(self._all("fluidbuild_fatal_codes")):
            for item in items:
                if not isinstance(item, FatalCode) or not 0 <= item.code <= 0xFF:
                    raise PluginError(plugin, "fluidbuild_fatal_codes", f"expected FatalCode objects with a "
                                      f"code from 0x00 to 0xFF, got {item!r}")
                if item.code in codes and codes[item.code][1] != item:
                    owner, other = codes[item.code]
                    raise PluginError(plugin, "fluidbuild_fatal_codes", f"code 0x{item.code:02X} "
                                      f"({item.name}) is already '{owner}''s {other.name}")
                codes[item.code] = (plugin, item)
        return {code: item for code, (_, item) in sorted(codes.items())}

    def cpu_profile(self, request: dict[str, Any], tools: Callable[[str], Tool]) -> dict[str, Any]:
        """The profile from the plugin ``request["plugin"]`` names (``cpu_flags`` by default)."""
        plugin = request.get("plugin") or CPU_PROFILE_PLUGIN
        profile = self._one(plugin, "fluidbuild_cpu_profile", request=request, tools=tools)
        if not isinstance(profile, dict) or "tag" not in profile:
            raise PluginError(plugin, "fluidbuild_cpu_profile", "did not return a profile dict")
        return profile

    def target_tasks(self, target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
        result = self._one(target.plugin, "fluidbuild_target_tasks", target=target, inputs=inputs, ctx=ctx)
        if not isinstance(result, TargetResult):
            raise PluginError(target.plugin, "fluidbuild_target_tasks",
                              f"returned {type(result).__name__}, expected TargetResult")
        return result

    def tasks(self, manifest: Manifest, ctx: BuildContext,
              outputs: dict[str, list[str]]) -> list[tuple[str, TaskSpec]]:
        """Whole-project tasks, each with the name of the plugin that declared it."""
        return [(plugin, t) for plugin, specs in self._all("fluidbuild_tasks", manifest=manifest, ctx=ctx,
                                                           outputs=outputs) for t in specs]

    def image_layout(self, plugin: str, image: dict[str, Any], parts: dict[str, str],
                     ctx: BuildContext) -> list[Placement]:
        return list(self._one(plugin, "fluidbuild_image_layout", image=image, parts=parts, ctx=ctx))

    def qemu_command(self, profile: Any, image: str, qemu: Tool, debug: bool, ctx: BuildContext) -> list[str]:
        return list(self._one(profile.plugin, "fluidbuild_qemu_command", profile=profile, image=image,
                              qemu=qemu, debug=debug, ctx=ctx))

    def run_inputs(self, profile: Any, ctx: BuildContext, outputs: dict[str, list[str]]) -> list[str] | None:
        """The files a run of ``profile`` boots (first) and needs; None: the plugin does not say."""
        if not self.implements(profile.plugin, "fluidbuild_run_inputs"):
            return None
        files = self._one(profile.plugin, "fluidbuild_run_inputs", profile=profile, ctx=ctx, outputs=outputs)
        if not files or not all(isinstance(f, str) for f in files):
            raise PluginError(profile.plugin, "fluidbuild_run_inputs",
                              f"expected a non-empty list of paths, the image first, got {files!r}")
        return list(files)

    def context(self, manifest: Manifest, cpu_profile: dict[str, Any], tools: Callable[[str], Tool],
                variables: dict[str, str] | None = None) -> BuildContext:
        """The :class:`BuildContext` plugins receive, its delegation calls bound to these plugins."""
        ctx = BuildContext(root=manifest.root, build_dir=manifest.build_dir, manifest=manifest,
                           cpu_profile=cpu_profile, tools=tools, variables=dict(variables or {}),
                           benchmarks=self.benchmarks(), fatal_codes=self.fatal_codes())
        ctx.image_layout = lambda plugin, image, parts: self.image_layout(plugin, image, parts, ctx)
        ctx.qemu_command = lambda run, image, debug=False: self.qemu_command(run, image, tools(run.binary),
                                                                             debug, ctx)
        ctx.run_inputs = lambda profile, outputs: self.run_inputs(profile, ctx, outputs)
        return ctx

    # -- doit plugins ------------------------------------------------------------------

    def hooks_of(self, name: str) -> list[str]:
        """The hooks plugin ``name`` implements (``(wrapper)`` marks a wrapper)."""
        found = []
        for caller in self._pm.get_hookcallers(self._pm.get_plugin(name)) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin_name == name:
                    kind = " (wrapper)" if impl.wrapper or impl.hookwrapper else ""
                    found.append(caller.name.removeprefix("fluidbuild_") + kind)
        return sorted(found)

    def report(self, cpu_plugin: str = CPU_PROFILE_PLUGIN) -> str:
        """What ``doit plugins`` prints: every plugin with its version, distribution,
        origin, the hooks it implements and whether this manifest uses it; the plugins not
        loaded and why; which plugin answers the single-result CPU-profile hook."""
        width = max([len(n) for n in [*self.info, *self.broken]] + [6])
        lines = [f"fluidbuild {__version__}, plugin API {hookspecs.API_VERSION}. used: yes (this manifest "
                 "names it), always (built-in, project file or test object), no", "",
                 f"{'plugin':<{width}}  {'version':<9}  {'distribution':<24}  {'used':<6}  origin"]
        for name, info in sorted(self.info.items()):
            used = "yes" if name in self.used else ("always" if info.always else "no")
            lines.append(f"{name:<{width}}  {info.version:<9}  {info.distribution or '-':<24}  {used:<6}  "
                         f"{info.origin} ({info.path})")
            lines.append(f"{'':<{width}}  hooks: {', '.join(self.hooks_of(name)) or 'none'}")
        others = sorted(n for n in self.info
                        if n != cpu_plugin and self.implements(n, "fluidbuild_cpu_profile"))
        lines += ["", f"CPU profile (single result): '{cpu_plugin}', named by cpu_profile.plugin"
                  + (f"; also implemented by {', '.join(others)}, used only where a manifest names it"
                     if others else "")]
        if self.broken:
            lines += ["", "not loaded (a manifest using one fails with the reason; others are unaffected):"]
            lines += [f"{name:<{width}}  {info.where}: {info.error}"
                      for name, info in sorted(self.broken.items())]
        if self.disabled:
            lines += ["", f"disabled for this run: {', '.join(sorted(self.disabled))}"]
        return "\n".join(lines)


class _Guarded:
    """What the plugin manager registers for one plugin: the plugin's hook implementations,
    each wrapped so that an exception it raises becomes a :class:`PluginError` naming the
    plugin and the hook. Its other attributes are the plugin's."""

    def __init__(self, plugin: Any, name: str, record: Callable[[str, Any], None]) -> None:
        self._plugin = plugin
        for attr in dir(plugin):
            function = getattr(plugin, attr, None)
            opts = getattr(function, MARKER, None) if inspect.isroutine(function) else None
            if isinstance(opts, dict):
                setattr(self, attr, _guard(function, name, opts.get("specname") or attr, opts, record))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._plugin, attr)


def _guard(function: Callable[..., Any], plugin: str, hook: str, opts: dict[str, Any],
           record: Callable[[str, Any], None]) -> Callable[..., Any]:
    """``function`` raising a one-line PluginError instead of any other exception; its
    signature stays visible to pluggy (``functools.wraps``: pluggy reads the argument
    names through ``__wrapped__``). A wrapper's generator is guarded as it runs."""
    if opts.get("wrapper") or opts.get("hookwrapper"):
        @functools.wraps(function)
        def guarded_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            try:
                return (yield from function(*args, **kwargs))
            except FluidError:
                raise
            except (Exception, SystemExit) as exc:  # noqa: BLE001 -- named in one line
                raise _failure(plugin, hook, exc) from None

        return guarded_wrapper

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
        except FluidError:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001 -- named in one line
            raise _failure(plugin, hook, exc) from None
        record(plugin, result)
        return result

    return guarded


def _failure(plugin: str, hook: str, exc: BaseException) -> PluginError:
    if isinstance(exc, SystemExit):
        return PluginError(plugin, hook, f"the plugin called sys.exit({exc.code!r})", exc)
    return PluginError(plugin, hook, f"{type(exc).__name__}: {exc}", exc)


def _check_api(info: PluginInfo) -> None:
    """Refuse a plugin whose declared API range excludes this fluidbuild's."""
    try:
        supported = SpecifierSet(info.api)
    except InvalidSpecifier:
        raise PluginError(info.name, "load", f"its {hookspecs.API_ATTRIBUTE} {info.api!r} is not a version "
                          "range such as '>=1.1,<2'") from None
    if not supported.contains(hookspecs.API_VERSION, prereleases=True):
        dist = info.distribution.split(" ")[0] or info.name
        raise PluginError(info.name, "load", f"the plugin ({info.where}) supports fluidbuild plugin API "
                          f"{info.api}, but this fluidbuild ({__version__}) provides plugin API "
                          f"{hookspecs.API_VERSION}: install a release of {dist} made for API "
                          f"{hookspecs.API_VERSION}, or a fluidbuild whose API is in {info.api}")


def _distribution(dist: Any, known: dict[Any, tuple[str, str]]) -> tuple[str, str]:
    """The name and version of an entry point's distribution (("", "") without one),
    read once per distribution."""
    if dist is None:
        return "", ""
    key = getattr(dist, "_path", None) or id(dist)
    if key not in known:
        metadata = dist.metadata
        known[key] = (metadata["Name"] or "", metadata["Version"] or "")
    return known[key]


def _names(text: str) -> list[str]:
    """The plugin names of a comma-separated list (``disable=a,b``)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _trace(text: str) -> None:
    """pluggy's trace writer: each line to stderr, cut at TRACE_LINE_CHARS."""
    for line in text.splitlines():
        cut = line if len(line) <= TRACE_LINE_CHARS else line[:TRACE_LINE_CHARS - 3] + "..."
        sys.stderr.write(f"fluidbuild-trace: {cut}\n")


def _load_file(name: str, path: str) -> ModuleType:
    """Import a project-local plugin file as module ``fluidbuild_local_<name>``."""
    spec = importlib.util.spec_from_file_location(f"fluidbuild_local_{name}", path)
    if spec is None or spec.loader is None:
        raise PluginError(name, "load", f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
