"""image: the ``image`` manifest section and the task writing the bootable disk image.

The seed's layout is stage 1 at LBA 0, stage 2 at 1-8 and the kernel from 9;
the slots come from ``image.layout`` and the parts from targets
(``image.parts``). The placement step is the single hook
``fluidbuild_image_layout`` of the plugin ``image.plugin`` names (this one
by default), so a third-party layout (a bigger stage 2, a partition table)
replaces only that step; that plugin gets the build context and the keys of
its own it declares (``fluidbuild_settings_schema("image")``) as
``image["settings"]``. ``image.modules`` lists the boot modules, each a
target's output or a project file, which the task writes with their
directory after the kernel (boot_modules.py). The ``image`` task writes the
disk atomically and refuses a part larger than its slot and an image larger
than the disk, naming every size; a hard disk without ``hdd_mib`` is sized
for what it holds.
"""

from __future__ import annotations

import os
from typing import Any

from fluidbench import protocol
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.manifest import where_in
from fluidbuild.model import BuildContext, Manifest, Placement, PyAction, TaskSpec
from fluidbuild.schema import (
    Checked,
    Delegated,
    Field,
    Int,
    List,
    Map,
    MapOf,
    RelPath,
    Schema,
    Str,
    TargetRef,
    Where,
)
from fluidbuild_plugins.fluidos import boot_modules, disk

NAME = r"[a-z][a-z0-9_]*"
LAYOUT_SLOT = Map({
    "part": Field(Str(pattern=NAME), required=True),
    "lba": Field(Int(minimum=0), required=True),
    "sectors": Field(Int(minimum=1), doc="slot size; omitted: up to the end of the disk"),
})


# Where the Fluid OS loader looks (src/protocol/protocol.toml): the BIOS runs
# the sector at LBA 0, stage 1 reads stage 2 from its fixed sectors, stage 2
# reads the kernel header at KERNEL_LBA. Slots: LBA -> sectors (None: any).
LOADER_SLOTS = {
    protocol.STAGE1_LBA: 1,
    protocol.STAGE2_LBA: protocol.STAGE2_SECTORS,
    protocol.KERNEL_LBA: None,
}


def _check_layout(image: dict[str, Any], where: Where) -> None:
    for i, slot in enumerate(image["layout"]):
        if slot["part"] not in image["parts"]:
            raise where.child("layout", None).child(i, None).fail(
                f"layout names part '{slot['part']}', which is not in image.parts")
    if image["plugin"] == "image":  # the built-in layout boots the built-in loader
        _check_bootable(image["layout"], where.child("layout", None))


def _check_bootable(layout: list[dict[str, Any]], where: Where) -> None:
    """Refuse a layout the Fluid OS loader cannot boot, naming what it expects."""
    by_lba = {slot["lba"]: slot for slot in layout}
    for lba, sectors in LOADER_SLOTS.items():
        slot = by_lba.get(lba)
        size = f"{sectors} sector(s)" if sectors else "any size"
        if slot is None:
            raise where.fail(f"the loader needs a part at LBA {lba} ({size}); this layout has none "
                             "(a different loader needs its own image.plugin)")
        if sectors and slot["sectors"] != sectors:
            raise where.fail(f"part '{slot['part']}' at LBA {lba} must be {sectors} sector(s) for the "
                             f"loader, not {slot['sectors']}")


def _check_module(module: dict[str, Any], where: Where) -> None:
    if len(module["name"]) > boot_modules.NAME_MAX:
        raise where.child("name", None).fail(
            f"module name '{module['name']}' is {len(module['name'])} characters; at most "
            f"{boot_modules.NAME_MAX} fit the boot info's {protocol.MODULE_NAME_LEN}-byte name")
    if (module["target"] is None) == (module["path"] is None):
        raise where.fail("a boot module takes exactly one of 'target' (a target's output) and 'path' "
                         "(a project file)")
    if module["path"] is not None and module["output"] is not None:
        raise where.fail("'output' picks one of a target's outputs: it goes with 'target', not 'path'")


MODULE = Checked(Map({
    "name": Field(Str(pattern=boot_modules.NAME), required=True,
                  doc=f"what the kernel finds it by (module_find), up to {boot_modules.NAME_MAX} characters"),
    "target": Field(TargetRef(), doc="a target one of whose outputs is the module"),
    "output": Field(Int(minimum=0), doc="with target: which of its outputs, from 0 (default 0)"),
    "path": Field(RelPath(), doc="a project file that is the module (instead of target)"),
}), _check_module)


# ``plugin`` names the plugin placing the parts, checked at load; the keys of its own
# (fluidbuild_settings_schema) reach it as image["settings"].
SECTION = Checked(Delegated({
    "plugin": Field(Str(pattern=NAME), default="image", doc="plugin placing the parts"),
    "output": Field(RelPath(), default=None, doc=f"default: <build_dir>/{disk.IMAGE_NAME}"),
    "disk": Field(Str(choices=("floppy", "hdd")), default="floppy"),
    "hdd_mib": Field(Int(minimum=1, maximum=disk.HDD_MAX_MIB), default=None,
                     doc=f"hdd: the disk's size; omitted: what it holds, in whole MiB, at least "
                         f"{disk.HDD_MIN_MIB}"),
    "parts": Field(MapOf(TargetRef(), key_pattern=NAME), required=True,
                   doc="part name -> target providing it"),
    "layout": Field(List(LAYOUT_SLOT, min_items=1), required=True),
    "modules": Field(List(MODULE, max_items=protocol.BOOT_INFO_MODULE_MAX, unique="name"), default=[],
                     doc="boot modules, loaded by stage 2 above the kernel in this order"),
}, hook="fluidbuild_image_layout", section="image", default="image"), _check_layout)


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"image": SECTION}


@hookimpl
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext, outputs: dict[str, list[str]]) -> list[TaskSpec]:
    spec = manifest.sections["image"]
    if spec is None:  # the manifest builds no disk image
        return []
    path = disk.image_path(manifest)
    if not os.path.normpath(path).startswith(os.path.normpath(manifest.build_dir) + os.sep):
        raise FluidError(f"{manifest.path}: image.output {path!r} must be inside the build directory "
                         f"'{manifest.build_dir}' (a build output never overwrites a source)")
    parts: dict[str, str] = {}
    for part, target in spec["parts"].items():
        if not outputs.get(target):  # its own failing task (a missing tool...) runs first and says why
            return [_failing(f"target '{target}' for image part '{part}' cannot be built or has no output",
                             target)]
        parts[part] = outputs[target][0]
    modules = []
    for i, module in enumerate(spec["modules"]):
        target = module["target"]
        if target is not None and not outputs.get(target):
            return [_failing(f"target '{target}' for boot module '{module['name']}' cannot be built or has "
                             "no output", target)]
        modules.append({"name": module["name"], "path": _module_file(manifest, i, module, outputs)})
    size = disk.disk_bytes(spec)
    placements = ctx.image_layout(spec["plugin"], {**spec, "disk_bytes": size,
                                                   "disk_sectors": size // disk.SECTOR}, parts)
    kernel = next((p.part for p in placements if p.lba == protocol.KERNEL_LBA), "")
    if modules and not kernel:
        raise where_in(manifest, "image", "modules").fail(
            f"boot modules follow the kernel, and this layout has no part at LBA {protocol.KERNEL_LBA}")
    write = {"path": path, "placements": placements, "disk_size": size, "modules": modules,
             "modules_after": kernel if modules else "", "kind": spec["disk"],
             "grow": spec["disk"] == "hdd" and spec["hdd_mib"] is None}
    return [TaskSpec(
        name="image",
        doc=f"write the bootable disk image {path}",
        actions=[PyAction(disk.write_image, write)],
        file_dep=[*(p.path for p in placements), *(m["path"] for m in modules)],
        targets=[path],
        config={"placements": [vars(p) for p in placements], "disk_bytes": size,
                "layout_plugin": spec["plugin"], "modules": modules, "modules_after": write["modules_after"],
                "kind": write["kind"], "grow": write["grow"]},
    )]


def _module_file(manifest: Manifest, index: int, module: dict[str, Any],
                 outputs: dict[str, list[str]]) -> str:
    """The file boot module ``index`` is: its target's output or its project file, which
    must exist (the error names the manifest line)."""
    if module["target"] is not None:
        files, pick = outputs[module["target"]], module["output"] or 0
        if pick >= len(files):
            raise where_in(manifest, "image", "modules", index, "output").fail(
                f"target '{module['target']}' has {len(files)} output(s) ({', '.join(files)}); there is no "
                f"output {pick}")
        return files[pick]
    if not os.path.isfile(os.path.join(manifest.root, module["path"])):
        raise where_in(manifest, "image", "modules", index, "path").fail(
            f"boot module '{module['name']}': {module['path']}: no such file")
    return module["path"]


@hookimpl
def fluidbuild_image_layout(image: dict[str, Any], parts: dict[str, str]) -> list[Placement]:
    placements = []
    for slot in image["layout"]:
        if slot["lba"] >= image["disk_sectors"]:
            raise FluidError(f"image.layout: part '{slot['part']}' at LBA {slot['lba']} is beyond the "
                             f"{image['disk_sectors']}-sector disk")
        placements.append(Placement(slot["part"], parts[slot["part"]], slot["lba"], slot["sectors"]))
    return placements


def _failing(why: str, target: str) -> TaskSpec:
    return TaskSpec("image", f"(cannot build: {why})", [PyAction(_unavailable, {"why": why})],
                    task_dep=[target], always=True)


def _unavailable(why: str) -> None:
    raise FluidError(f"cannot write the disk image: {why}")
