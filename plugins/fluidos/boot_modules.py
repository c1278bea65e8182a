"""Boot modules on the disk: the module directory stage 2 reads after the kernel and
where each module goes (docs/boot-protocol.md "Boot modules").

The directory is one sector at ``dir_lba`` (the sector after the kernel's last):
the spec's ``module_dir`` header, then one ``module_entry`` per module (name, LBA,
size, CRC-32), zeros to the end of the sector, and the header's ``crc32`` over the
whole sector computed with that field read as zero. The modules follow from the next
sector on, in the given order, each starting on a sector of its own.
"""

from __future__ import annotations

import struct
import zlib

from fluidbench import protocol
from fluidbuild.errors import FluidError

SECTOR = protocol.SECTOR_SIZE
# At most MODULE_NAME_LEN - 1 characters: the boot info's name stays NUL-terminated.
NAME_MAX = protocol.MODULE_NAME_LEN - 1
NAME = r"[a-z][a-z0-9_]*"
MAX_BYTES = 0xFFFFFFFF  # module_entry.bytes is a u32
HEADER = struct.Struct(protocol.MODULE_DIR_FORMAT)
ENTRY = struct.Struct(protocol.MODULE_ENTRY_FORMAT)
CRC_FIELD = struct.Struct("<I")


def sectors(size: int) -> int:
    """Whole sectors that hold ``size`` bytes."""
    return -(-size // SECTOR)


def lay_out(dir_lba: int, modules: list[tuple[str, bytes]]) -> list[tuple[int, bytes]]:
    """The directory of ``modules`` (name, contents) at ``dir_lba`` and the modules after
    it: ``(lba, bytes)`` pieces in disk order, the directory sector first."""
    if not 1 <= len(modules) <= protocol.BOOT_INFO_MODULE_MAX:
        raise FluidError(f"{len(modules)} boot modules; the directory holds 1 to "
                         f"{protocol.BOOT_INFO_MODULE_MAX}")
    sector = bytearray(SECTOR)
    HEADER.pack_into(sector, 0, protocol.MODULE_DIR_MAGIC, protocol.MODULE_DIR_VERSION, len(modules), 0, 0)
    pieces = []
    lba = dir_lba + 1
    for i, (name, data) in enumerate(modules):
        if len(name) > NAME_MAX or not name.isascii():
            raise FluidError(f"boot module name {name!r}: at most {NAME_MAX} ASCII characters")
        if len(data) > MAX_BYTES:
            raise FluidError(f"boot module '{name}' is {len(data)} bytes; at most {MAX_BYTES} fit its entry")
        ENTRY.pack_into(sector, HEADER.size + i * ENTRY.size, name.encode("ascii"), lba, len(data),
                        zlib.crc32(data), 0)
        pieces.append((lba, data))
        lba += sectors(len(data))
    CRC_FIELD.pack_into(sector, protocol.MDIR_CRC32, zlib.crc32(sector))
    return [(dir_lba, bytes(sector)), *pieces]
