"""The fluidbuild plugin contract.

A plugin is a module (or object) registered under the entry-point group
``fluidbuild.plugins``; its entry-point name is the name a manifest uses
(``plugin: nasm``). The built-in plugins in ``plugins/`` are registered
through that same group, so a third-party package can add a plugin, or a
manifest can swap a built-in for one, without touching fluidbuild.

Hooks run in build order:

1. **Configuration** -- :func:`fluidbuild_manifest_sections`,
   :func:`fluidbuild_options_schema` and :func:`fluidbuild_tools` extend
   what the manifest accepts and which programs are needed.
2. **CPU profile** -- :func:`fluidbuild_cpu_profile` turns the manifest's
   ``cpu_profile`` request into the profile every tuned stage uses.
3. **Task graph** -- :func:`fluidbuild_target_tasks` declares the tasks of
   one manifest target, :func:`fluidbuild_tasks` adds whole-project tasks
   (the disk image, ``run``, ``bench``, ``jit`` come from plugins this way).
4. **Delegation** -- a plugin that owns a section may let the manifest name
   another plugin for one step, called through the build context:
   :func:`fluidbuild_image_layout` places the parts on a disk image
   (``ctx.image_layout``), :func:`fluidbuild_qemu_command` builds the
   emulator command line of a run profile (``ctx.qemu_command``).

Hooks marked *single* are called only on the plugin the manifest names for
that target, image or run profile; the others are called on every plugin.
Plugins receive plain data (:mod:`fluidbuild.model`) and return plain data;
they never call each other. The core knows nothing about disks, emulators or
benchmarks: those are sections and tasks of the plugins that own them.
"""

from __future__ import annotations

from typing import Any

import pluggy

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

PROJECT = "fluidbuild"
ENTRY_POINT_GROUP = "fluidbuild.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- 1. configuration -------------------------------------------------------


@hookspec
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    """Contribute top-level manifest sections owned by this plugin.

    Called once per build on every plugin, before the manifest is validated.

    :return: a mapping of section name (``"benchmarks"``) to the schema of
        that section. A section named by two plugins, or by a plugin and the
        core, is an error. The validated value is available to all plugins as
        ``manifest.sections[name]``.
    """


@hookspec
def fluidbuild_options_schema() -> Schema | None:
    """*Single.* The schema of ``options:`` for targets that use this plugin.

    Called while validating each target whose ``plugin:`` names this plugin.

    :return: a :class:`fluidbuild.schema.Map` (unknown keys become errors that
        name the line), or ``None`` if the plugin takes no options.
    """


@hookspec
def fluidbuild_tools() -> list[ToolSpec]:
    """Declare the external programs this plugin runs.

    Called once per build on every plugin. The core finds each program (the
    manifest's ``toolchain:`` may override the candidates), records its
    resolved path and version as part of every task that uses it, and reports
    a missing one in a single line naming the Debian package.

    :return: a list of :class:`fluidbuild.model.ToolSpec`.
    """


# -- 2. CPU profile -----------------------------------------------------------


@hookspec(firstresult=True)
def fluidbuild_cpu_profile(request: dict[str, Any], tools: Any) -> dict[str, Any] | None:
    """Produce the CPU profile the tuned code is built for.

    Called when the cached ``build/cpu_profile.json`` is missing or was made
    from a different request or host; the first non-``None`` result wins.

    :param request: the manifest's validated ``cpu_profile`` section
        (``mode``: ``host``, ``pinned`` or ``generic``, plus pinned values).
    :param tools: a callable resolving a tool name to a :class:`Tool`.
    :return: a JSON-serialisable profile with at least ``tag`` (``"AVX2"``),
        ``llvm_cpu``, ``llvm_features``, ``clang_flags`` (list) and
        ``feature_bits`` (the boot-protocol bit mask the tuned code assumes).
    """


# -- 3. task graph ------------------------------------------------------------


@hookspec
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    """*Single.* Declare the tasks that build one manifest target.

    Called once per target, in dependency order, on the plugin the target
    names.

    :param target: the validated target (sources with globs expanded,
        flags, plugin options).
    :param inputs: the outputs of the targets listed in ``deps``, in order.
    :param ctx: build directory, CPU profile, tool lookup, manifest.
    :return: a :class:`TargetResult`: the task descriptions (each with its
        commands, file dependencies, targets and the configuration its output
        depends on) and the output files later targets receive as inputs.
    """


@hookspec
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext,
                     outputs: dict[str, list[str]]) -> list[TaskSpec]:
    """Add whole-project tasks (``image``, ``run``, ``bench``, ``jit``, ...).

    Called once per build on every plugin, after every target's tasks are
    declared. A plugin that adds no task returns an empty list (or nothing).

    :param manifest: the validated manifest; a plugin's own section is
        ``manifest.sections[name]``.
    :param ctx: build directory, CPU profile, tool lookup, delegation calls.
    :param outputs: each target's output files, by target name.
    :return: task descriptions; names must not clash with other tasks.
    """


# -- 4. delegation ------------------------------------------------------------------


@hookspec
def fluidbuild_image_layout(image: dict[str, Any], parts: dict[str, str]) -> list[Placement]:
    """*Single.* Place the built parts on the disk image.

    Called by the plugin that writes the disk image (``ctx.image_layout``),
    on the plugin named by ``image.plugin``.

    :param image: the validated ``image`` section (disk kind, size, layout),
        with ``disk_bytes`` and ``disk_sectors`` filled in.
    :param parts: part name (``"stage1"``) to the built file providing it.
    :return: the placements; the image writer writes the image atomically
        and checks that every part fits its slot and the disk.
    """


@hookspec
def fluidbuild_qemu_command(profile: Any, image: str, qemu: Tool, debug: bool) -> list[str]:
    """*Single.* Build the emulator command line for one run profile.

    Called when ``doit run``, ``doit debug`` or ``doit bench`` starts
    (``ctx.qemu_command``), on the plugin named by the run profile.

    :param profile: the validated run profile, a
        :class:`fluidbench.qemu.RunProfile` (binary, accelerator, CPU model,
        memory, drive kind, extra arguments).
    :param image: path of the disk image to boot.
    :param qemu: the resolved emulator.
    :param debug: true for ``doit debug`` (CPU and interrupt log, GDB stub).
    :return: the argv; the serial console must go to standard output and the
        ``isa-debug-exit`` device must be present so the guest can end QEMU.
    """
