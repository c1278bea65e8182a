"""The Fluid OS disk image: its geometry, where it is written, and the writer.

Shared by the plugins that write the image (``image``) and boot it (``qemu``,
``bench``); none of them owns these facts alone.
"""

from __future__ import annotations

import os
from typing import Any

from fluidbuild.atomic import write_bytes
from fluidbuild.errors import FluidError
from fluidbuild.model import Manifest, Placement

SECTOR = 512
FLOPPY_BYTES = 1_474_560  # 3.5" 1.44 MB: 80 cylinders x 2 heads x 18 sectors x 512 bytes
MIB = 1 << 20
IMAGE_NAME = "fluid.img"  # under the build directory unless image.output says otherwise


def image_path(manifest: Manifest) -> str:
    """The project-relative path of the disk image the build writes."""
    return manifest.sections["image"]["output"] or f"{manifest.build_dir}/{IMAGE_NAME}"


def disk_bytes(image: dict[str, Any]) -> int:
    """The size of the disk the ``image`` section describes."""
    return FLOPPY_BYTES if image["disk"] == "floppy" else image["hdd_mib"] * MIB


def check_fits(placements: list[Placement], sizes: dict[str, int], disk_size: int) -> None:
    """Refuse a part larger than its slot or the disk, naming both sizes."""
    slots = sorted(placements, key=lambda p: p.lba)
    for i, p in enumerate(slots):
        size = sizes[p.part]
        start = p.lba * SECTOR
        room = (p.max_sectors * SECTOR) if p.max_sectors else disk_size - start
        if i + 1 < len(slots):
            room = min(room, slots[i + 1].lba * SECTOR - start)
        if size > room:
            raise FluidError(f"image part '{p.part}' ({p.path}) is {size} bytes but its slot at "
                             f"LBA {p.lba} holds {room} bytes")
        if start + size > disk_size:
            raise FluidError(f"image part '{p.part}' ends at byte {start + size}, beyond the "
                             f"{disk_size}-byte disk")


def write_image(path: str, placements: list[Placement], disk_size: int) -> None:
    """Assemble the image: each part at its LBA, zeros elsewhere, written atomically."""
    sizes = {p.part: os.path.getsize(p.path) for p in placements}
    check_fits(placements, sizes, disk_size)
    disk = bytearray(disk_size)
    for p in placements:
        with open(p.path, "rb") as f:
            data = f.read()
        disk[p.lba * SECTOR : p.lba * SECTOR + len(data)] = data
    write_bytes(path, bytes(disk))
