"""The Fluid OS disk image: its geometry, where it is written, and the writer.

Shared by the plugins that write the image (``image``) and boot it (``qemu``,
``bench``); none of them owns these facts alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fluidbuild.atomic import write_bytes
from fluidbuild.errors import FluidError
from fluidbuild.model import Manifest, Placement
from fluidbuild_plugins.fluidos import boot_modules

SECTOR = 512
FLOPPY_BYTES = 1_474_560  # 3.5" 1.44 MB: 80 cylinders x 2 heads x 18 sectors x 512 bytes
MIB = 1 << 20
HDD_MIN_MIB = 16  # a hard disk sized for its parts is at least this large
HDD_MAX_MIB = 4096  # the loader's sector numbers and sizes are 32-bit
IMAGE_NAME = "fluid.img"  # under the build directory unless image.output says otherwise


def image_path(manifest: Manifest) -> str:
    """The project-relative path of the disk image the build writes."""
    return manifest.sections["image"]["output"] or f"{manifest.build_dir}/{IMAGE_NAME}"


def disk_bytes(image: dict[str, Any]) -> int:
    """The size of the disk the ``image`` section describes; a hard disk without
    ``hdd_mib`` grows past it to what its parts need (:func:`write_image`)."""
    if image["disk"] == "floppy":
        return FLOPPY_BYTES
    return (image["hdd_mib"] or HDD_MIN_MIB) * MIB


@dataclass(frozen=True)
class Piece:
    """Bytes the image holds at an LBA: a part, the module directory or a module."""

    name: str  # "kernel", "module 'model'": in the list of sizes
    label: str  # "image part 'kernel' (build/kernel.bin)": in a message about this piece
    lba: int
    data: bytes
    max_sectors: int | None = None  # its slot; None: up to the next piece or the disk's end


def check_slots(pieces: list[Piece]) -> None:
    """Refuse a piece larger than its slot or the room before the next piece."""
    ordered = sorted(pieces, key=lambda p: p.lba)
    for p, after in zip(ordered, [*ordered[1:], None], strict=True):
        room = p.max_sectors * SECTOR if p.max_sectors else None
        bound = ""
        if after is not None and (room is None or (after.lba - p.lba) * SECTOR < room):
            room, bound = (after.lba - p.lba) * SECTOR, f" (up to {after.name} at LBA {after.lba})"
        if room is not None and len(p.data) > room:
            raise FluidError(f"{p.label} is {len(p.data)} bytes but its slot at LBA {p.lba} holds "
                             f"{room} bytes{bound}")


def fit_disk(pieces: list[Piece], disk_size: int, kind: str, grow: bool) -> int:
    """The disk's size in bytes: ``disk_size``, or for a ``grow`` disk what the pieces need
    rounded up to whole MiB if that is more. Refuses pieces the disk cannot hold, naming
    every size, the disk's and what to change (``kind``: floppy, hdd or disk)."""
    need = max(p.lba * SECTOR + len(p.data) for p in pieces)
    if grow:
        disk_size = max(disk_size, min(-(-need // MIB), HDD_MAX_MIB) * MIB)
    if need <= disk_size:
        return disk_size
    ordered = sorted(pieces, key=lambda p: p.lba)
    sizes = ", ".join(f"{p.name} {len(p.data)} bytes at LBA {p.lba}" for p in ordered)
    advice = {
        "floppy": "; use `disk: hdd` (a hard disk image sized for its parts)",
        "hdd": (f"; the largest disk image is {HDD_MAX_MIB} MiB" if grow else
                f"; raise image.hdd_mib to {-(-need // MIB)} or leave it out (the disk is then sized for "
                f"its parts)"),
    }.get(kind, "")
    held = f"{disk_size // MIB} MiB hard disk ({disk_size} bytes)" if kind == "hdd" else \
        f"{disk_size}-byte {kind}"
    raise FluidError(f"the image needs {need} bytes ({sizes}), more than the {held} holds{advice}")


def write_image(path: str, placements: list[Placement], disk_size: int,
                modules: list[dict[str, str]] | None = None, modules_after: str = "", kind: str = "disk",
                grow: bool = False) -> None:
    """Assemble the image: each part at its LBA, the boot ``modules`` (``name``, ``path``; none:
    no directory either) and their directory in the sector right after part ``modules_after``,
    zeros elsewhere, written atomically; nothing is written when a check fails."""
    pieces = [Piece(p.part, f"image part '{p.part}' ({p.path})", p.lba, _read(p.path), p.max_sectors)
              for p in placements]
    if modules:
        after = next(p for p in pieces if p.name == modules_after)
        files = [(m["name"], _read(m["path"])) for m in modules]
        laid = boot_modules.lay_out(after.lba + boot_modules.sectors(len(after.data)), files)
        pieces.append(Piece("module directory", "the boot module directory", *laid[0]))
        pieces += [Piece(f"module '{m['name']}'", f"boot module '{m['name']}' ({m['path']})", lba, data)
                   for m, (lba, data) in zip(modules, laid[1:], strict=True)]
    check_slots(pieces)
    disk = bytearray(fit_disk(pieces, disk_size, kind, grow))
    for p in pieces:
        disk[p.lba * SECTOR : p.lba * SECTOR + len(p.data)] = p.data
    write_bytes(path, bytes(disk))


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
