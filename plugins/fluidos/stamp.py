"""stamp: fill in what the loader checks before it runs a binary (docs/boot-protocol.md).

``part: kernel`` (the default) fills in the kernel's FLUD header. The loader
trusts this header instead of a hard-coded sector count: it reads
``kernel_sectors`` sectors, copies them to ``load_addr``, checks the CRC-32
of the whole image and jumps to ``entry``. The CPU feature bits and tag of
the active profile tell the kernel what its tuned code assumes. Everything
stage 2 would refuse at boot (except the E820 check, which depends on the
machine) is refused here, at build time.

``part: stage2`` fills in the checksum of stage 2's trailer, which stage 1
checks before it jumps to stage 2.

The layouts are the protocol's (src/protocol/protocol.toml, through the
generated fluidbench.protocol).
"""

from __future__ import annotations

import json
import struct
import zlib

from fluidbench import protocol
from fluidbuild.atomic import write_bytes
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, PyAction, Target, TargetResult, TaskSpec
from fluidbuild.schema import Field, Int, Map, Str

SECTOR = protocol.SECTOR_SIZE
MAGIC = protocol.FLUD_MAGIC
HEADER_SIZE = protocol.FLUD_HEADER_SIZE
HEADER = struct.Struct(protocol.FLUD_HEADER_FORMAT)  # every field, in protocol.FLUD_HEADER_FIELDS order
CRC_FIELD = struct.Struct("<I")  # image_crc32, at protocol.HDR_IMAGE_CRC32
LOW_MEMORY_START = protocol.KERNEL_LOW_MIN  # below: the boot-info area
LOW_MEMORY_LIMIT = protocol.KERNEL_LOW_LIMIT  # stage 1 lives here: a low kernel must end below it
HIGH_MEMORY_START = protocol.KERNEL_HIGH_MIN
ADDRESS_SPACE = 1 << 32  # the loader and the kernel use 32-bit physical addresses

STAGE2_BYTES = protocol.STAGE2_SECTORS * SECTOR
TRAILER = struct.Struct(protocol.STAGE2_TRAILER_FORMAT)  # signature, checksum
WORD = struct.Struct("<H")
WORD_MASK = 0xFFFF  # stage 1 adds 16-bit words modulo 2^16
PARTS = ("kernel", "stage2")


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({
        "part": Field(Str(choices=PARTS), default="kernel",
                      doc="kernel: a flat kernel's FLUD header; stage2: stage 2's trailer checksum"),
        "max_bytes": Field(Int(minimum=HEADER_SIZE), doc="refuse a larger kernel (default: layout room)"),
        "tag": Field(Str(pattern=r"[A-Za-z0-9_.]{1,15}"), doc="override the profile's tag"),
    })


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    if target.options["part"] == "stage2":
        return _stage2_task(target, inputs, ctx)
    flat = [i for i in inputs if i.endswith(".bin")]
    info = [i for i in inputs if i.endswith(".json")]
    if len(flat) != 1 or len(info) != 1:
        raise FluidError(f"target '{target.name}': stamp needs one flat binary and its .json "
                         "description (depend on a flatten target)")
    out = ctx.out(f"{target.name}.bin")
    params = {
        "features": ctx.cpu_profile["feature_bits"],
        "tag": target.options.get("tag") or ctx.cpu_profile["tag"],
        "max_bytes": target.options.get("max_bytes"),
    }
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"stamp the FLUD header into {out}",
        actions=[PyAction(stamp, {"flat_path": flat[0], "info_path": info[0], "output": out, **params})],
        file_dep=[flat[0], info[0]],
        targets=[out],
        # The layout comes from the committed protocol module, not a file
        # dependency: a changed layout must restamp too.
        config={**params, "layout": [protocol.FLUD_HEADER_FORMAT, list(protocol.FLUD_HEADER_FIELDS),
                                     protocol.FLUD_HEADER_VERSION, protocol.HDR_IMAGE_CRC32,
                                     LOW_MEMORY_START, LOW_MEMORY_LIMIT, HIGH_MEMORY_START]},
    )
    return TargetResult([task], [out])


def _stage2_task(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    raw = [i for i in inputs if i.endswith(".bin")]
    if len(raw) != 1:
        raise FluidError(f"target '{target.name}': stamp with part: stage2 needs one stage 2 binary "
                         "(depend on the target that assembles it)")
    out = ctx.out(f"{target.name}.bin")
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"stamp the stage 2 trailer into {out}",
        actions=[PyAction(stamp_stage2, {"raw_path": raw[0], "output": out})],
        file_dep=[raw[0]],
        targets=[out],
        config={"part": "stage2", "layout": [STAGE2_BYTES, protocol.STAGE2_TRAILER_FORMAT,
                                             protocol.STAGE2_SIGNATURE, protocol.STAGE2_WORD_SUM]},
    )
    return TargetResult([task], [out])


def room_at(load_addr: int) -> int | None:
    """Bytes the loader can place at ``load_addr`` (None: limited by the disk and RAM only)."""
    if load_addr >= HIGH_MEMORY_START:
        return None
    if LOW_MEMORY_START <= load_addr < LOW_MEMORY_LIMIT:
        return LOW_MEMORY_LIMIT - load_addr
    raise FluidError(f"load address {load_addr:#x} is neither in [{LOW_MEMORY_START:#x}, "
                     f"{LOW_MEMORY_LIMIT:#x}) nor at or above {HIGH_MEMORY_START:#x}")


def image_crc32(image: bytes | bytearray) -> int:
    """The header's image_crc32: CRC-32 of the whole image with that field read as zero."""
    at = protocol.HDR_IMAGE_CRC32
    return zlib.crc32(bytes(image[at + CRC_FIELD.size:]),
                      zlib.crc32(bytes(CRC_FIELD.size), zlib.crc32(bytes(image[:at]))))


def stamp(flat_path: str, info_path: str, output: str, features: int, tag: str,
          max_bytes: int | None) -> None:
    """Write ``output``: the flat kernel with every header field filled in."""
    with open(flat_path, "rb") as f:
        image = bytearray(f.read())
    with open(info_path) as f:
        info = json.load(f)
    if image[:protocol.FLUD_MAGIC_LEN] != MAGIC:
        raise FluidError(f"{flat_path} does not start with the {MAGIC.decode()} header "
                         "(entry.asm must put section .header first)")
    size = len(image)
    load, entry = info["load_addr"], info["entry"]
    room = room_at(load)
    for limit, what in ((room, f"the room below {LOW_MEMORY_LIMIT:#x} at load address "
                                f"{load:#x}"), (max_bytes, "options.max_bytes")):
        if limit is not None and size > limit:
            raise FluidError(f"kernel is {size} bytes, larger than {what} ({limit} bytes)")
    if load + size > ADDRESS_SPACE:
        raise FluidError(f"kernel of {size} bytes at {load:#x} would end past 4 GiB")
    if not load + HEADER_SIZE <= entry < load + size:
        raise FluidError(f"entry point {entry:#x} is outside the kernel's code "
                         f"[{load + HEADER_SIZE:#x}, {load + size:#x}) (past the header, inside the image)")
    if info["bss_end"] < load + size:
        raise FluidError(f"bss_end {info['bss_end']:#x} lies before the end of the image {load + size:#x}")
    header = dict(zip(protocol.FLUD_HEADER_FIELDS, HEADER.unpack_from(image), strict=True))
    header.update(version=protocol.FLUD_HEADER_VERSION, header_size=HEADER_SIZE,
                  load_addr=load, entry=entry, kernel_bytes=size,
                  kernel_sectors=-(-size // SECTOR), image_crc32=0, cpu_features=features,
                  cpu_tag=tag.encode().ljust(protocol.FLUD_CPU_TAG_LEN, b"\0"), bss_end=info["bss_end"])
    HEADER.pack_into(image, 0, *(header[name] for name in protocol.FLUD_HEADER_FIELDS))
    CRC_FIELD.pack_into(image, protocol.HDR_IMAGE_CRC32, image_crc32(image))
    write_bytes(output, bytes(image))


def stage2_checksum(image: bytes | bytearray) -> int:
    """The trailer checksum that makes the 16-bit words of ``image`` (its own
    word read as zero) add up to STAGE2_WORD_SUM modulo 2^16."""
    at = len(image) - TRAILER.size + protocol.TRAILER_CHECKSUM
    words = sum(WORD.unpack_from(image, i)[0] for i in range(0, len(image), WORD.size) if i != at)
    return (protocol.STAGE2_WORD_SUM - words) & WORD_MASK


def stamp_stage2(raw_path: str, output: str) -> None:
    """Write ``output``: stage 2 with its trailer's checksum filled in."""
    with open(raw_path, "rb") as f:
        image = bytearray(f.read())
    if len(image) != STAGE2_BYTES:
        raise FluidError(f"{raw_path} is {len(image)} bytes; stage 2 is exactly {STAGE2_BYTES}")
    trailer = len(image) - TRAILER.size
    signature, _ = TRAILER.unpack_from(image, trailer)
    if signature != protocol.STAGE2_SIGNATURE:
        raise FluidError(f"{raw_path} does not end with the stage 2 trailer (signature "
                         f"{protocol.STAGE2_SIGNATURE:#06x}, then the checksum word); stage2.asm "
                         "must reserve it")
    TRAILER.pack_into(image, trailer, signature, stage2_checksum(image))
    write_bytes(output, bytes(image))
