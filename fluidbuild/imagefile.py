"""Writing the disk image from the placements the image plugin chose."""

from __future__ import annotations

import os

from fluidbuild.atomic import write_bytes
from fluidbuild.errors import FluidError
from fluidbuild.model import Placement

SECTOR = 512


def check_fits(placements: list[Placement], sizes: dict[str, int], disk_bytes: int) -> None:
    """Refuse a part larger than its slot or the disk, naming both sizes."""
    slots = sorted(placements, key=lambda p: p.lba)
    for i, p in enumerate(slots):
        size = sizes[p.part]
        start = p.lba * SECTOR
        room = (p.max_sectors * SECTOR) if p.max_sectors else disk_bytes - start
        if i + 1 < len(slots):
            room = min(room, slots[i + 1].lba * SECTOR - start)
        if size > room:
            raise FluidError(f"image part '{p.part}' ({p.path}) is {size} bytes but its slot at "
                             f"LBA {p.lba} holds {room} bytes")
        if start + size > disk_bytes:
            raise FluidError(f"image part '{p.part}' ends at byte {start + size}, beyond the "
                             f"{disk_bytes}-byte disk")


def write_image(path: str, placements: list[Placement], disk_bytes: int) -> None:
    """Assemble the image: each part at its LBA, zeros elsewhere."""
    sizes = {p.part: os.path.getsize(p.path) for p in placements}
    check_fits(placements, sizes, disk_bytes)
    disk = bytearray(disk_bytes)
    for p in placements:
        with open(p.path, "rb") as f:
            data = f.read()
        disk[p.lba * SECTOR : p.lba * SECTOR + len(data)] = data
    write_bytes(path, bytes(disk))
