"""image: the disk layout of the seed: stage 1 at LBA 0, stage 2 at 1-8, kernel from 9.

The slots come from the manifest's ``image.layout``; this plugin maps them to
the built parts. A third-party layout (an LBA-only loader with a bigger
stage 2, a partition table) replaces it by name.
"""

from __future__ import annotations

from typing import Any

from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import Placement


@hookimpl
def fluidbuild_image_layout(image: dict[str, Any], parts: dict[str, str]) -> list[Placement]:
    placements = []
    for slot in image["layout"]:
        if slot["lba"] >= image["disk_sectors"]:
            raise FluidError(f"image.layout: part '{slot['part']}' at LBA {slot['lba']} is beyond the "
                             f"{image['disk_sectors']}-sector disk")
        placements.append(Placement(slot["part"], parts[slot["part"]], slot["lba"], slot["sectors"]))
    return placements
