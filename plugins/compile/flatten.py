"""flatten: an ELF executable to the flat binary the loader copies into memory.

Uses pyelftools. The image starts at the lowest loaded address, which must be
the load address the link used (``KERNEL_LOAD_ADDR``), and the entry point
must lie inside it. Section sizes are reported, and a JSON file beside the
binary records load address, entry and BSS end for the stamping step.
"""

from __future__ import annotations

import json
from typing import Any

from fluidbuild.atomic import write_bytes, write_text
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, PyAction, Target, TargetResult, TaskSpec

PT_LOAD = "PT_LOAD"


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    elves = [*target.sources, *(i for i in inputs if i.endswith(".elf"))]
    if len(elves) != 1:
        raise FluidError(f"target '{target.name}': flatten takes exactly one ELF file, got {len(elves)}")
    out = ctx.out(f"{target.name}.bin")
    info = ctx.out(f"{target.name}.json")
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"flatten {elves[0]} to {out}",
        actions=[PyAction(flatten, {"elf_path": elves[0], "output": out, "info_path": info})],
        file_dep=elves,
        targets=[out, info],
        verbosity=2,
    )
    return TargetResult([task], [out, info])


def flatten(elf_path: str, output: str, info_path: str) -> None:
    """Write the loadable bytes of ``elf_path`` and describe them."""
    from elftools.elf.elffile import ELFFile

    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        loads = [s for s in elf.iter_segments() if s["p_type"] == PT_LOAD]
        if not loads:
            raise FluidError(f"{elf_path}: no loadable segment")
        base = min(s["p_paddr"] for s in loads)
        file_end = max(s["p_paddr"] + s["p_filesz"] for s in loads if s["p_filesz"])
        mem_end = max(s["p_paddr"] + s["p_memsz"] for s in loads)
        image = bytearray(file_end - base)
        for seg in loads:
            if seg["p_filesz"]:
                offset = seg["p_paddr"] - base
                image[offset:offset + seg["p_filesz"]] = seg.data()
        entry = elf.header["e_entry"]
        symtab = elf.get_section_by_name(".symtab")
        expected = _symbol(symtab, "KERNEL_LOAD_ADDR")
        sections = {s.name: s["sh_size"] for s in elf.iter_sections()
                    if s["sh_flags"] & 0x2 and s["sh_size"]}  # SHF_ALLOC
    if expected is not None and base != expected:
        raise FluidError(f"{elf_path}: image starts at {base:#x}, not at the load address {expected:#x}")
    if not base <= entry < file_end:
        raise FluidError(f"{elf_path}: entry point {entry:#x} is outside the image "
                         f"[{base:#x}, {file_end:#x})")
    print(f"{elf_path}: load {base:#x}, entry {entry:#x}, "
          + ", ".join(f"{name} {size}" for name, size in sections.items()))
    write_bytes(output, bytes(image))
    write_text(info_path, json.dumps({"load_addr": base, "entry": entry, "bss_end": mem_end,
                                      "bytes": len(image), "sections": sections}, indent=1) + "\n")


def _symbol(symtab: Any, name: str) -> int | None:
    if symtab is None:
        return None
    found = symtab.get_symbol_by_name(name)
    return found[0]["st_value"] if found else None
