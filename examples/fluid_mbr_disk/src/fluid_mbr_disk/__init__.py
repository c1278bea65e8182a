"""fluid_mbr_disk: Fluid OS on a partitioned (MBR) hard-disk image, and the run profile that boots it.

A new kind of target and of run profile, as a fluidbuild plugin (``mbr_disk``)::

    targets:
      fluid_mbr:
        plugin: mbr_disk
        deps: [stage1, stage2_stamped, kernel]   # stage 1, stage 2, kernel: one output each
        options: {disk_mib: 16}
    run:
      mbr: {plugin: mbr_disk, disk: fluid_mbr}    # doit run profile=mbr

The disk keeps the loader's fixed layout (stage 1 at LBA 0, stage 2 at LBA
1-8, the kernel from LBA 9: src/protocol/protocol.toml) and adds an MBR
partition table in the boot sector's bytes 446-509, which stage 1 leaves
empty: partition 1, active, type 0x7F, holds stage 2 and the kernel;
partition 2, type 0x83, is the free space from 1 MiB to the end of the disk.
The run profile's own key ``disk`` names the target; the plugin says the run
boots that target's output (``fluidbuild_run_inputs``), so ``doit run
profile=mbr`` rebuilds the disk after a kernel change before it boots it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from fluidbuild.atomic import write_bytes
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, PyAction, Target, TargetResult, TaskSpec, Tool
from fluidbuild.schema import Field, Int, Map, TargetRef

__version__ = "1.0.0"
fluidbuild_api = ">=1.1,<2"  # the fluidbuild plugin API versions this plugin supports

SECTOR = 512
MIB = 1 << 20
STAGE2_LBA, STAGE2_SECTORS, KERNEL_LBA = 1, 8, 9  # the loader's layout (protocol.toml)
TABLE_OFFSET, ENTRY = 446, struct.Struct("<B3sB3sII")  # status, CHS first, type, CHS last, LBA, count
BOOT_TYPE, DATA_TYPE = 0x7F, 0x83  # 0x7F: reserved for experimental systems; 0x83: Linux data
ACTIVE = 0x80
DATA_START = MIB // SECTOR  # partition 2 starts on the first MiB boundary
HEADS, SECTORS_PER_TRACK = 255, 63  # the geometry the CHS fields are written for
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({"disk_mib": Field(Int(minimum=2, maximum=2048), default=16, doc="the disk's size")})


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    if len(inputs) != 3:
        raise FluidError(f"target '{target.name}': deps must give stage 1, stage 2 and the kernel, one file "
                         f"each; they give {len(inputs)} files")
    out = ctx.out(target.name, "fluid-mbr.img")
    size = target.options["disk_mib"] * MIB
    task = TaskSpec(target.name, f"write the partitioned disk {out}",
                    [PyAction(write_disk, {"parts": list(inputs), "path": out, "disk_bytes": size})],
                    file_dep=list(inputs), targets=[out], config={"disk_bytes": size, "layout": "mbr-v1"})
    return TargetResult([task], [out])


@hookimpl
def fluidbuild_settings_schema(section: str) -> Map | None:
    if section == "run":  # the keys of a run profile naming this plugin, besides the qemu plugin's
        return Map({"disk": Field(TargetRef(), required=True, doc="the mbr_disk target to boot")})
    return None


@hookimpl
def fluidbuild_run_inputs(profile: Any, outputs: dict[str, list[str]]) -> list[str]:
    return list(outputs[profile.settings["disk"]])


@hookimpl
def fluidbuild_qemu_command(profile: Any, image: str, qemu: Tool, debug: bool,
                            ctx: BuildContext) -> list[str]:
    argv = [qemu.path, "-accel", profile.accel, "-cpu", profile.cpu, "-m", str(profile.memory_mib),
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none", "-no-reboot",
            "-device", DEBUG_EXIT, "-drive", f"file={image.replace(',', ',,')},format=raw,if=ide,snapshot=on",
            "-boot", "c"]
    if debug:
        argv += ["-d", "int,cpu_reset,guest_errors", "-D", ctx.out("qemu.log"), "-gdb", "tcp:127.0.0.1:1234"]
    return [*argv, *profile.args]


def write_disk(parts: list[str], path: str, disk_bytes: int) -> None:
    """Stage 1 with the partition table, stage 2 and the kernel at the loader's LBAs."""
    stage1, stage2, kernel = (Path(p).read_bytes() for p in parts)
    if len(stage1) != SECTOR or stage1[TABLE_OFFSET:510] != bytes(510 - TABLE_OFFSET):
        raise FluidError(f"{parts[0]}: stage 1 must be one sector that leaves bytes {TABLE_OFFSET}-509 "
                         "(the partition table) zero")
    if len(stage2) != STAGE2_SECTORS * SECTOR:
        raise FluidError(f"{parts[1]}: stage 2 must be {STAGE2_SECTORS * SECTOR} bytes, not {len(stage2)}")
    kernel_sectors = -(-len(kernel) // SECTOR)
    if KERNEL_LBA + kernel_sectors > DATA_START:
        raise FluidError(f"{parts[2]}: the kernel ({len(kernel)} bytes) does not fit before the data "
                         f"partition at LBA {DATA_START}")
    disk = bytearray(disk_bytes)
    disk[0:SECTOR] = stage1
    disk[STAGE2_LBA * SECTOR:KERNEL_LBA * SECTOR] = stage2
    disk[KERNEL_LBA * SECTOR:KERNEL_LBA * SECTOR + len(kernel)] = kernel
    total = disk_bytes // SECTOR
    entries = [(ACTIVE, BOOT_TYPE, STAGE2_LBA, STAGE2_SECTORS + kernel_sectors),
               (0, DATA_TYPE, DATA_START, total - DATA_START)]
    for i, (status, kind, first, count) in enumerate(entries):
        ENTRY.pack_into(disk, TABLE_OFFSET + i * ENTRY.size, status, chs(first), kind, chs(first + count - 1),
                        first, count)
    write_bytes(path, bytes(disk))


def chs(lba: int) -> bytes:
    """The 3-byte CHS address of ``lba`` (head, sector and cylinder bits 8-9, cylinder bits 0-7),
    saturated at cylinder 1023 as partition tables do."""
    cylinder, rest = divmod(lba, HEADS * SECTORS_PER_TRACK)
    head, sector = divmod(rest, SECTORS_PER_TRACK)
    if cylinder > 1023:
        cylinder, head, sector = 1023, HEADS - 1, SECTORS_PER_TRACK - 1
    return bytes([head, (sector + 1) | ((cylinder >> 8) << 6), cylinder & 0xFF])


def partitions(path: str | os.PathLike[str]) -> list[dict[str, int]]:
    """The partition table of a disk image: status, type, first LBA and sector count of each entry used."""
    with open(path, "rb") as f:
        mbr = f.read(SECTOR)
    found = []
    for i in range(4):
        status, _, kind, _, first, count = ENTRY.unpack_from(mbr, TABLE_OFFSET + i * ENTRY.size)
        if kind:
            found.append({"status": status, "type": kind, "first": first, "count": count})
    return found
