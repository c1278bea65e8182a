"""link: objects to an ELF executable with ld.lld (or GNU ld) and a linker script.

The load address is passed as the symbol ``KERNEL_LOAD_ADDR``, which the
linker script places the image at, so the seed's 0x1000 layout and the
default 1 MiB one are a manifest setting, not two scripts.
"""

from __future__ import annotations

from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, Command, Target, TargetResult, TaskSpec, ToolSpec
from fluidbuild.schema import Field, Int, Map, RelPath, Str
from fluidbuild.toolchain import LINKER


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [LINKER]


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({
        "script": Field(RelPath(), required=True, doc="linker script"),
        "load_addr": Field(Int(minimum=0, maximum=0xFFFFFFFF), default=0x100000),
        "emulation": Field(Str(choices=("elf_i386", "elf_x86_64")), default="elf_i386"),
    })


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    linker = ctx.tools("linker")
    opts = target.options
    objects = [*target.sources, *(i for i in inputs if i.endswith(".o"))]
    out = ctx.out(f"{target.name}.elf")
    argv = [linker.path, "-m", opts["emulation"], "-nostdlib", "--build-id=none",
            f"--defsym=KERNEL_LOAD_ADDR={opts['load_addr']:#x}", "-T", opts["script"],
            *target.flags, "-o", out, *objects]
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"link {out} at {opts['load_addr']:#x}",
        actions=[Command(argv, [out])],
        file_dep=[*objects, opts["script"]],
        targets=[out],
        config={"argv": argv, "tool": linker.identity()},
    )
    return TargetResult([task], [out])
