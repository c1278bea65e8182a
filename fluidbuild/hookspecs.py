"""The fluidbuild plugin contract, version :data:`API_VERSION` of the plugin API.

A plugin is a module (or object) registered under the entry-point group
``fluidbuild.plugins``; its entry-point name is the name a manifest uses
(``plugin: nasm``). The built-in plugins in ``plugins/`` are registered
through that same group, so a third-party package can add a plugin, or a
manifest can swap a built-in for one, without touching fluidbuild. The guide
for authors is ``docs/plugins.md``.

Hooks run in build order:

1. **Configuration** -- :func:`fluidbuild_manifest_sections`,
   :func:`fluidbuild_options_schema`, :func:`fluidbuild_settings_schema` and
   :func:`fluidbuild_tools` extend what the manifest accepts and which
   programs are needed; :func:`fluidbuild_benchmarks` and
   :func:`fluidbuild_fatal_codes` contribute benchmarks and loader error codes.
2. **CPU profile** -- :func:`fluidbuild_cpu_profile` turns the manifest's
   ``cpu_profile`` request into the profile every tuned stage uses.
3. **Task graph** -- :func:`fluidbuild_target_tasks` declares the tasks of
   one manifest target, :func:`fluidbuild_tasks` adds whole-project tasks
   (the disk image, ``run``, ``bench``, ``jit`` come from plugins this way).
4. **Delegation** -- a plugin that owns a section may let the manifest name
   another plugin for one step, called through the build context:
   :func:`fluidbuild_image_layout` places the parts on a disk image
   (``ctx.image_layout``), :func:`fluidbuild_qemu_command` builds the
   emulator command line of a run profile (``ctx.qemu_command``) and
   :func:`fluidbuild_run_inputs` says which files that run boots and needs
   (``ctx.run_inputs``).

Hooks marked *single* are called only on the plugin the manifest names for
that target, image, run profile or CPU profile, and are ``firstresult``: a
wrapper around one receives and returns that plugin's result itself (not a
list of results). The others are called on
every plugin the manifest *uses* (see :mod:`fluidbuild.plugin`: the built-in
plugins always; a package's plugin when the manifest names it, lists its
distribution under ``requires:``, writes a section it owns or lists a
benchmark it contributes), except the declarations marked *every loaded
plugin*. Every call goes through pluggy, so ``FLUIDBUILD_TRACE=1`` traces it
and hook wrappers (``@hookimpl(wrapper=True)``) apply.

An implementation may take any subset of a hook's arguments, in any order;
it never has to take an argument added by a later API version. Plugins
receive plain data (:mod:`fluidbuild.model`) and return plain data; they
never call each other.

**Versions.** :data:`API_VERSION` is the version of this contract: the minor
number grows when hooks or arguments are added (an older plugin keeps
working), the major one when anything is removed or changed. A plugin
declares the versions it supports in a module attribute ``fluidbuild_api``
(a PEP 440 specifier such as ``">=1.1,<2"``; without one, ``">=1.0,<2"``);
outside that range it is refused with one message naming both versions and
its distribution. Hooks are listed below with the version that added them.
"""

from __future__ import annotations

from typing import Any

import pluggy

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

PROJECT = "fluidbuild"
ENTRY_POINT_GROUP = "fluidbuild.plugins"
# 1.0: the hooks up to fluidbuild_qemu_command. 1.1: fluidbuild_settings_schema,
# fluidbuild_benchmarks, fluidbuild_fatal_codes, fluidbuild_run_inputs, and the ctx
# argument of fluidbuild_image_layout and fluidbuild_qemu_command.
API_VERSION = "1.1"
API_ATTRIBUTE = "fluidbuild_api"  # the plugin's supported range: fluidbuild_api = ">=1.1,<2"
DEFAULT_API_RANGE = ">=1.0,<2"  # what a plugin without fluidbuild_api is taken to support

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- 1. configuration -------------------------------------------------------


@hookspec
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    """Contribute top-level manifest sections owned by this plugin.

    Called once per build on every loaded plugin, before the manifest is
    validated. A built-in plugin's section is always part of the manifest
    (an absent mapping section reads as its defaults); a package's only when
    the manifest writes it, which makes the manifest use the plugin.

    :return: a mapping of section name (``"benchmarks"``) to the schema of
        that section. A section named by two plugins, or by a plugin and the
        core, is an error. The validated value is available to all plugins as
        ``manifest.sections[name]``.
    """


@hookspec(firstresult=True)
def fluidbuild_options_schema() -> Schema | None:
    """*Single.* The schema of ``options:`` for targets that use this plugin.

    Called while validating each target whose ``plugin:`` names this plugin.

    :return: a :class:`fluidbuild.schema.Map` (unknown keys become errors that
        name the line), or ``None`` if the plugin takes no options.
    """


@hookspec(firstresult=True)
def fluidbuild_settings_schema(section: str) -> Schema | None:
    """*Single* (API 1.1). The schema of this plugin's own keys in a section that names it.

    Called while validating the ``image:`` section (``section="image"``) when
    its ``plugin:`` names this plugin, and each ``run:`` profile
    (``section="run"``) whose ``plugin:`` names it. The keys the owning
    plugin does not know are validated here and handed to this plugin as
    ``settings`` (``image["settings"]``, ``profile.settings``).

    :param section: the section being validated, ``"image"`` or ``"run"``.
    :return: a :class:`fluidbuild.schema.Map` of the extra keys, or ``None``
        (then any extra key is an error naming the line).
    """


@hookspec
def fluidbuild_tools() -> list[ToolSpec]:
    """Declare the external programs this plugin runs.

    Called once per build on every used plugin. The core finds each program
    (the manifest's ``toolchain:`` may override the candidates), records its
    resolved path and version as part of every task that uses it, and reports
    a missing one in a single line naming the Debian package.

    :return: a list of :class:`fluidbuild.model.ToolSpec`.
    """


@hookspec
def fluidbuild_benchmarks() -> list[Benchmark]:
    """Contribute benchmarks (API 1.1).

    Called once per build on every loaded plugin; only the benchmarks the
    manifest's ``benchmarks:`` lists are built, and listing one makes the
    manifest use the plugin.

    :return: a list of :class:`fluidbuild.model.Benchmark`: the name, the
        absolute path of the C source shipped in the package (headers beside
        it), the default size and the host reference. A name also used by a
        project source (``src/bench/<name>.c``) or another plugin is an error
        when the manifest lists it.
    """


@hookspec
def fluidbuild_fatal_codes() -> list[FatalCode]:
    """Name the loader error codes this plugin's loader may print (API 1.1).

    Called once per build on every used plugin. ``doit run`` and ``doit
    bench`` report ``FATAL ERROR: 0xD3`` as ``0xD3 (NO_LBA: ...)`` instead of
    ``unknown code``. The built-in loader's codes come from the ``protocol``
    plugin this way.

    :return: a list of :class:`fluidbuild.model.FatalCode`; a code two used
        plugins define is an error naming both.
    """


# -- 2. CPU profile -----------------------------------------------------------


@hookspec(firstresult=True)
def fluidbuild_cpu_profile(request: dict[str, Any], tools: Any) -> dict[str, Any] | None:
    """*Single.* Produce the CPU profile the tuned code is built for.

    Called on the plugin the manifest's ``cpu_profile.plugin`` names (the
    built-in ``cpu_flags`` by default), when the cached
    ``build/cpu_profile.json`` is missing or was made from a different
    request or host. An installed plugin implementing this hook never takes
    over unless the manifest names it; ``doit plugins`` shows which one
    answers. First result wins (a wrapper may still replace it).

    :param request: the manifest's validated ``cpu_profile`` section
        (``mode``: ``host``, ``pinned`` or ``generic``, plus pinned values).
    :param tools: a callable resolving a tool name to a :class:`Tool`.
    :return: a JSON-serialisable profile with at least ``tag`` (``"AVX2"``),
        ``llvm_cpu``, ``llvm_features``, ``clang_flags`` (list) and
        ``feature_bits`` (the boot-protocol bit mask the tuned code assumes).
    """


# -- 3. task graph ------------------------------------------------------------


@hookspec(firstresult=True)
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    """*Single.* Declare the tasks that build one manifest target.

    Called once per target, in dependency order, on the plugin the target
    names.

    :param target: the validated target (sources with globs expanded,
        flags, plugin options).
    :param inputs: the outputs of the targets listed in ``deps``, in order.
    :param ctx: build directory, CPU profile, tool lookup, manifest,
        contributed benchmarks.
    :return: a :class:`TargetResult`: the task descriptions (each with its
        commands, file dependencies, targets and the configuration its output
        depends on) and the output files later targets receive as inputs.
    """


@hookspec
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext,
                     outputs: dict[str, list[str]]) -> list[TaskSpec]:
    """Add whole-project tasks (``image``, ``run``, ``bench``, ``jit``, ...).

    Called once per build on every used plugin, after every target's tasks
    are declared. A plugin that adds no task returns an empty list (or
    nothing).

    :param manifest: the validated manifest; a plugin's own section is
        ``manifest.sections[name]``.
    :param ctx: build directory, CPU profile, tool lookup, delegation calls.
    :param outputs: each target's output files, by target name.
    :return: task descriptions; names must not clash with other tasks.
    """


# -- 4. delegation ------------------------------------------------------------------


@hookspec(firstresult=True)
def fluidbuild_image_layout(image: dict[str, Any], parts: dict[str, str],
                            ctx: BuildContext) -> list[Placement]:
    """*Single.* Place the built parts on the disk image.

    Called by the plugin that writes the disk image (``ctx.image_layout``),
    on the plugin named by ``image.plugin``.

    :param image: the validated ``image`` section (disk kind, size, layout),
        with ``disk_bytes`` and ``disk_sectors`` filled in; this plugin's own
        keys (:func:`fluidbuild_settings_schema`) are ``image["settings"]``.
    :param parts: part name (``"stage1"``) to the built file providing it.
    :param ctx: the build context (API 1.1).
    :return: the placements; the image writer writes the image atomically
        and checks that every part fits its slot and the disk.
    """


@hookspec(firstresult=True)
def fluidbuild_qemu_command(profile: Any, image: str, qemu: Tool, debug: bool,
                            ctx: BuildContext) -> list[str]:
    """*Single.* Build the emulator command line for one run profile.

    Called when ``doit run``, ``doit debug`` or ``doit bench`` starts
    (``ctx.qemu_command``), on the plugin named by the run profile.

    :param profile: the validated run profile, a
        :class:`fluidbench.qemu.RunProfile` (binary, accelerator, CPU model,
        memory, drive kind, extra arguments; this plugin's own keys are
        ``profile.settings``).
    :param image: path of the disk image to boot: the first file
        :func:`fluidbuild_run_inputs` named, else the manifest's image.
    :param qemu: the resolved emulator.
    :param debug: true for ``doit debug`` (CPU and interrupt log, GDB stub).
    :param ctx: the build context (API 1.1).
    :return: the argv; the serial console must go to standard output and the
        ``isa-debug-exit`` device must be present so the guest can end QEMU.
    """


@hookspec(firstresult=True)
def fluidbuild_run_inputs(profile: Any, ctx: BuildContext, outputs: dict[str, list[str]]) -> list[str]:
    """*Single* (API 1.1). The files a run of this profile boots and depends on.

    Called while the ``run``, ``debug`` and ``bench`` tasks are declared, on
    the plugin named by the run profile. The tasks depend on these files, so
    doit rebuilds them first: a run never boots a stale disk. A plugin that
    does not implement it boots the manifest's ``image``.

    :param profile: the validated run profile (its own keys in ``profile.settings``).
    :param ctx: the build context.
    :param outputs: each target's output files, by target name.
    :return: project-relative paths, the disk image to boot first.
    """
