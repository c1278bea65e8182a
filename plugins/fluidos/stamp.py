"""stamp: fill in the kernel's FLUD header (docs/boot-protocol.md).

The loader trusts this header instead of a hard-coded sector count: it reads
``kernel_sectors`` sectors, copies them to ``load_addr``, checks the CRC-32
of the body and jumps to ``entry``. The CPU feature bits and tag of the
active profile tell the kernel what its tuned code assumes. The header's
layout is the protocol's (src/protocol/protocol.toml, through the generated
fluidbench.protocol).
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
CRC_FIELD = struct.Struct("<I")  # body_crc32, at protocol.HDR_BODY_CRC32
LOW_MEMORY_LIMIT = 0x7C00  # stage 1 lives here: a low kernel must end below it
HIGH_MEMORY_START = 0x100000


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({
        "max_bytes": Field(Int(minimum=HEADER_SIZE), doc="refuse a larger kernel (default: layout room)"),
        "tag": Field(Str(pattern=r"[A-Za-z0-9_.]{1,15}"), doc="override the profile's tag"),
    })


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
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
                                     protocol.FLUD_HEADER_VERSION]},
    )
    return TargetResult([task], [out])


def room_at(load_addr: int) -> int | None:
    """Bytes the loader can place at ``load_addr`` (None: limited by the disk only)."""
    if load_addr >= HIGH_MEMORY_START:
        return None
    if load_addr < LOW_MEMORY_LIMIT:
        return LOW_MEMORY_LIMIT - load_addr
    raise FluidError(f"load address {load_addr:#x} is neither below {LOW_MEMORY_LIMIT:#x} nor at or "
                     f"above {HIGH_MEMORY_START:#x}")


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
    room = room_at(info["load_addr"])
    for limit, what in ((room, f"the room below {LOW_MEMORY_LIMIT:#x} at load address "
                                f"{info['load_addr']:#x}"), (max_bytes, "options.max_bytes")):
        if limit is not None and size > limit:
            raise FluidError(f"kernel is {size} bytes, larger than {what} ({limit} bytes)")
    header = dict(zip(protocol.FLUD_HEADER_FIELDS, HEADER.unpack_from(image), strict=True))
    header.update(version=protocol.FLUD_HEADER_VERSION, header_size=HEADER_SIZE,
                  load_addr=info["load_addr"], entry=info["entry"], kernel_bytes=size,
                  kernel_sectors=-(-size // SECTOR), body_crc32=0, cpu_features=features,
                  cpu_tag=tag.encode().ljust(protocol.FLUD_CPU_TAG_LEN, b"\0"), bss_end=info["bss_end"])
    HEADER.pack_into(image, 0, *(header[name] for name in protocol.FLUD_HEADER_FIELDS))
    crc = zlib.crc32(bytes(image[HEADER_SIZE:])) & 0xFFFFFFFF
    CRC_FIELD.pack_into(image, protocol.HDR_BODY_CRC32, crc)
    write_bytes(output, bytes(image))
