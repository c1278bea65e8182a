"""Loading ``manifest.yaml`` into a validated :class:`~fluidbuild.model.Manifest`.

The core owns the sections every build has (``toolchain``, ``cpu_profile``,
``targets``); plugins add their own sections (the disk ``image``, the ``run``
profiles, ``benchmarks``, ...) and the schema of their targets' ``options``.
Unknown keys are errors, globs must match, paths stay inside the project,
target names a section refers to (:class:`~fluidbuild.schema.TargetRef`) and
target dependencies must exist, and dependencies must be acyclic. Every error
names the file, line and key path.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
import sys
from importlib import metadata
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from fluidbuild.errors import FluidError, ManifestError, PluginError
from fluidbuild.model import Manifest, Target
from fluidbuild.plugin import CPU_PROFILE_PLUGIN, Plugins
from fluidbuild.schema import (
    Checked,
    Field,
    Float,
    List,
    Map,
    MapOf,
    PluginName,
    RelPath,
    Schema,
    Str,
    Where,
    shown,
)
from fluidbuild.yamlsource import LineDict, load_yaml

NAME = r"[a-z][a-z0-9_]{0,63}"
MAX_MANIFEST_BYTES = 1 << 20
# doit's own commands: a target of that name could never be asked for.
RESERVED_NAMES = frozenset({"run", "clean", "list", "info", "help", "forget", "ignore", "auto", "dumpdb",
                            "strace", "tabcompletion", "reset_dep"})


class Raw(Schema):
    """Any value, validated later (a target's ``options`` by its plugin)."""

    def validate(self, value: Any, where: Where) -> Any:
        return LineDict() if value is None else value


TARGET = Map({
    "plugin": Field(Str(pattern=NAME), required=True, doc="plugin that builds this target"),
    "doc": Field(Str(), default="", doc="one line shown by doit list"),
    "sources": Field(List(RelPath()), default=[], doc="files or globs, project-relative"),
    "deps": Field(List(Str(pattern=NAME)), default=[], doc="targets whose outputs are inputs"),
    "flags": Field(List(Str()), default=[], doc="extra tool flags"),
    "options": Field(Raw(), default=None, doc="plugin-specific, checked by the plugin"),
})

CPU_PROFILE = Map({
    "plugin": Field(PluginName(hook="fluidbuild_cpu_profile"), default=CPU_PROFILE_PLUGIN,
                    doc="the plugin producing the profile; an installed one never takes over unnamed"),
    "mode": Field(Str(choices=("host", "pinned", "generic")), default="host"),
    "cpu": Field(Str(pattern=r"[a-z0-9_.-]+"), doc="pinned: an LLVM CPU name such as haswell"),
    "features": Field(Str(pattern=r"([+-][a-z0-9_.]+)(,[+-][a-z0-9_.]+)*"),
                      doc="pinned: extra LLVM features, +avx2,-sha"),
})


def _check_cache_url(url: str, where: Where) -> None:
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if not url.strip() or (scheme and scheme.group(1) not in ("http", "https", "file")):
        raise where.fail(f"expected an http://, https:// or file:// URL or a directory, got {url!r}")


CACHE = Map({
    "url": Field(Checked(Str(), _check_cache_url), doc="http(s)://host:port/prefix (Bazel's HTTP remote "
                 "cache) or a directory; FLUIDBUILD_REMOTE_CACHE overrides it"),
    "mode": Field(Str(choices=("read-write", "read-only")), default="read-write",
                  doc="read-only never uploads; FLUIDBUILD_REMOTE_CACHE_MODE overrides it"),
    "salt": Field(Str(), default="", doc="part of every key: a new salt drops every entry"),
    "timeout_s": Field(Float(minimum=0.1, maximum=600), default=5.0,
                       doc="a request taking longer turns the cache off for the build"),
})

class PluginRequirement(Schema):
    """A requirement on a plugin distribution, as pip takes it: ``fluid-crc32>=1.0``."""

    def validate(self, value: Any, where: Where) -> str:
        text = Str().validate(value, where)
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            raise where.fail(f"expected a requirement such as 'fluid-crc32>=1.0', got {shown(text)} "
                             f"({exc})") from None
        return text

    def describe(self) -> str:
        return "a distribution requirement"


CORE_SECTIONS: dict[str, Field] = {
    "project": Field(Map({"name": Field(Str(), default="fluid-os"),
                          "version": Field(Str(), default="0.0.0")})),
    "requires": Field(List(PluginRequirement()), default=[],
                      doc="plugin distributions the manifest needs, with version specifiers"),
    "build_dir": Field(RelPath(), default="build"),
    "local_plugins": Field(MapOf(RelPath(), key_pattern=NAME), default={}),
    "toolchain": Field(MapOf(List(Str(), min_items=1), key_pattern=r"[a-z][a-z0-9_-]*"), default={}),
    "cpu_profile": Field(CPU_PROFILE, default=CPU_PROFILE.validate(None, Where("", "cpu_profile", None))),
    "task_timeout_s": Field(Float(minimum=1, maximum=86_400), default=1800.0,
                            doc="a program a task runs is killed after this long"),
    "targets": Field(MapOf(TARGET, key_pattern=NAME), required=True),
    "cache": Field(CACHE, doc="the shared action cache (fluidbuild.cache)"),
}


def read_manifest(path: str, root: str) -> tuple[LineDict, dict[str, str]]:
    """Parse the manifest file; return its data and its ``local_plugins``."""
    try:
        with open(os.path.join(root, path), "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError(path, None, "", f"cannot read manifest: {exc.strerror}") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(path, None, "", f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ManifestError(path, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                            f"{exc.start})") from None
    data = load_yaml(text, path)
    if not isinstance(data, dict):
        raise ManifestError(path, 1, "", "expected a mapping at the top level")
    where = Where(path, "", getattr(data, "line", 1))
    local = CORE_SECTIONS["local_plugins"].schema.validate(
        data.get("local_plugins"), where.child("local_plugins", data.key_lines.get("local_plugins")))
    for name, file in local.items():
        if not os.path.isfile(os.path.join(root, file)):
            raise where.child("local_plugins", data.key_lines.get("local_plugins")).fail(
                f"plugin file {file!r} for '{name}' does not exist")
    return data, {name: os.path.join(root, file) for name, file in local.items()}


def validate(data: LineDict, path: str, root: str, plugins: Plugins) -> Manifest:
    """Check ``data`` against the core schema plus the plugins' sections, noting which
    plugins the manifest uses (``plugins.used``)."""
    fields = dict(CORE_SECTIONS)
    where = Where(path, "", 1, refs=[], plugins=plugins)
    _check_requires(data, where, plugins)
    try:
        contributed = plugins.manifest_sections()
    except PluginError as exc:
        raise ManifestError(path, None, "", str(exc)) from None
    for section, (owner, schema) in contributed.items():
        if section in data:
            plugins.use(owner)
        elif owner not in plugins.active():  # an unused package adds no section
            continue
        # An absent mapping section reads as its defaults, so plugins need no fallbacks.
        default = schema.validate(None, Where(path, section, None)) if isinstance(schema, Map) else None
        fields[section] = Field(schema, default=default)
    _check_unknown_sections(data, fields, where, plugins)
    top = Map(fields).validate(data, where)
    targets = _targets(top["targets"], data["targets"], where.child("targets", data.key_lines.get(
        "targets")), root, plugins)
    for name, ref in where.refs or []:
        if name not in targets:
            raise ref.fail(f"unknown target '{name}'")
    _check_toolchain(top["toolchain"], data, where, plugins)
    _check_build_dir(top["build_dir"], root, where.child("build_dir", data.key_lines.get("build_dir")))
    return Manifest(
        path=path, root=root, build_dir=top["build_dir"],
        toolchain={k: tuple(v) for k, v in top["toolchain"].items()},
        cpu_profile=top["cpu_profile"], targets=targets, task_timeout_s=top["task_timeout_s"],
        cache=top["cache"],
        sections={name: top[name] for name in contributed if name in fields},
    )


def _targets(specs: dict[str, Any], raw: LineDict, where: Where, root: str,
             plugins: Plugins) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    for name, spec in specs.items():
        here = where.child(name, raw.key_lines.get(name))
        if name in RESERVED_NAMES:
            raise here.fail(f"'{name}' is a doit command; a target cannot have that name")
        entry = raw[name]
        plugin_where = here.child("plugin", entry.key_lines.get("plugin"))
        try:
            schema = plugins.options_schema(spec["plugin"])
        except PluginError as exc:
            raise plugin_where.fail(str(exc)) from None
        plugins.use(spec["plugin"])
        options_where = here.child("options", entry.key_lines.get("options"))
        options = schema.validate(spec["options"], options_where) if schema else {}
        if schema is None and spec["options"]:
            raise options_where.fail(f"plugin '{spec['plugin']}' takes no options")
        sources = _expand(spec["sources"], here.child("sources", entry.key_lines.get("sources")), root)
        for i, dep in enumerate(spec["deps"]):
            if dep not in specs:
                lines = getattr(entry.get("deps"), "item_lines", [])
                raise here.child("deps", entry.key_lines.get("deps")).child(
                    i, lines[i] if i < len(lines) else None).fail(f"unknown target '{dep}'")
        targets[name] = Target(name, spec["plugin"], tuple(sources), tuple(spec["deps"]),
                               tuple(spec["flags"]), options, spec["doc"])
    _check_acyclic(targets, where)
    return targets


def _check_requires(data: LineDict, where: Where, plugins: Plugins) -> None:
    """Every distribution ``requires:`` lists is installed in a matching version, and its
    plugins are loaded (and used); a missing one is named with the pip command."""
    items = data.get("requires")
    if not items:
        return
    here = where.child("requires", data.key_lines.get("requires"))
    texts = List(PluginRequirement()).validate(items, here)
    lines = getattr(items, "item_lines", [])
    for i, text in enumerate(texts):
        item = here.child(i, lines[i] if i < len(lines) else None)
        requirement = Requirement(text)
        pip = f"{sys.executable} -m pip install '{text}'"
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            raise item.fail(f"the plugin distribution '{requirement.name}' is not installed; install it "
                            f"with: {pip}") from None
        if not requirement.specifier.contains(version, prereleases=True):
            raise item.fail(f"'{requirement.name}' {version} is installed, the manifest requires "
                            f"{requirement.name}{requirement.specifier}; install it with: {pip}")
        wanted = canonicalize_name(requirement.name)
        for name, info in plugins.broken.items():
            if canonicalize_name(info.distribution.split(" ")[0]) == wanted:
                raise item.fail(f"'{requirement.name}' is installed but its plugin '{name}' is not loaded: "
                                f"{info.error}")
        for name, info in plugins.info.items():
            if info.distribution and canonicalize_name(info.distribution.split(" ")[0]) == wanted:
                plugins.use(name)


def _check_unknown_sections(data: LineDict, fields: dict[str, Field], where: Where, plugins: Plugins) -> None:
    """A top-level key no loaded plugin owns, while some plugins could not be loaded or are
    disabled for this run: say so (the section may be theirs)."""
    why = [f"'{name}' ({info.where}): {info.error}" for name, info in plugins.broken.items()]
    why += [f"'{name}' (disabled for this run)" for name in sorted(plugins.disabled)]
    for key in data:
        if key not in fields and why:
            raise where.child(key, data.key_lines.get(key)).fail(
                f"unknown section '{key}', and these plugins are not loaded: {'; '.join(why)}")


def _check_toolchain(toolchain: dict[str, Any], data: LineDict, where: Where, plugins: Plugins) -> None:
    """Every ``toolchain:`` key names a tool some plugin declares (a typo would be ignored)."""
    known = sorted({spec.name for spec in plugins.tools()})
    section = data.get("toolchain") or {}
    here = where.child("toolchain", data.key_lines.get("toolchain"))
    for name in toolchain:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise here.child(name, getattr(section, "key_lines", {}).get(name)).fail(
                f"no plugin declares a tool named '{name}'{hint}; known: {', '.join(known)}")


def _check_build_dir(build_dir: str, root: str, where: Where) -> None:
    """The build directory, symlinks resolved, stays inside the project: outputs and
    ``doit clean`` must never touch anything else."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, build_dir))
    if real == real_root or not real.startswith(real_root + os.sep):
        raise where.fail(f"build_dir {build_dir!r} resolves to {real}, outside the project "
                         f"(or the project itself)")


def _expand(patterns: list[str], where: Where, root: str) -> list[str]:
    files: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(os.path.relpath(m, root) for m in glob.glob(os.path.join(root, pattern)))
            if not matches:
                raise where.fail(f"glob {pattern!r} matches no file")
            files.extend(matches)
        elif os.path.isfile(os.path.join(root, pattern)):
            files.append(pattern)
        else:
            raise where.fail(f"source file {pattern!r} does not exist")
    return list(dict.fromkeys(files))


def _check_acyclic(targets: dict[str, Target], where: Where) -> None:
    """Refuse a dependency cycle, naming it (iterative: chains may be long)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in targets:
        if state.get(root):
            continue
        path = [root]
        stack = [iter(targets[root].deps)]
        state[root] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(dep) == 1:
                cycle = " -> ".join([*path[path.index(dep):], dep])
                raise where.fail(f"dependency cycle: {cycle}")
            elif not state.get(dep):
                state[dep] = 1
                path.append(dep)
                stack.append(iter(targets[dep].deps))


def where_in(manifest: Manifest, *keys: str | int) -> Where:
    """Where the value at ``keys`` (mapping keys and list indexes from the top) is written
    in ``manifest``'s file, for an error found after validation (a missing file, a size
    past a limit): the validated manifest keeps no lines, so the file is read again. A key
    it cannot find there keeps its parent's line; the message still names the key path."""
    where = Where(manifest.path, "", None)
    try:
        node: Any = read_manifest(manifest.path, manifest.root)[0]
    except FluidError:
        node = None
    for key in keys:
        line = None
        if isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node):
            line, node = getattr(node, "item_lines", [None] * len(node))[key], node[key]
        elif isinstance(key, str) and isinstance(node, dict) and key in node:
            line, node = getattr(node, "key_lines", {}).get(key), node[key]
        else:
            node = None
        where = where.child(key, line)
    return where


def load(path: str, root: str, disabled: tuple[str, ...] = ()) -> tuple[Manifest, Plugins]:
    """Read, load plugins for (but the ``disabled`` ones), and validate the manifest at ``path``."""
    data, local = read_manifest(path, root)
    plugins = Plugins(local, disabled=disabled)
    return validate(data, path, root, plugins), plugins

