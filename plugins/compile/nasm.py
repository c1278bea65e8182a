"""nasm: assembly to a flat binary (boot sectors) or an ELF object (kernel entry).

``%include`` dependencies come from nasm itself: a dependency-only pass
(``-M -MF``), because nasm 2.16's ``-MD`` during assembly omits the included
files. A flat binary can
be required to have an exact size, which the BIOS and stage 1 rely on (512
bytes for the boot sector, 4096 for stage 2). Generated includes from
dependency targets (inputs ending in ``.inc``, such as the protocol
constants) are file dependencies, and their directories are on the include
path.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.includes import search_digest
from fluidbuild.model import BuildContext, Command, Target, TargetResult, TaskSpec, ToolSpec
from fluidbuild.schema import Field, Int, List, Map, MapOf, RelPath, Scalar, Str
from fluidbuild.toolchain import NASM

SUFFIX = {"bin": ".bin", "elf32": ".o", "elf64": ".o"}


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [NASM]


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({
        "format": Field(Str(choices=tuple(SUFFIX)), default="bin"),
        "size": Field(Int(minimum=1), doc="exact size in bytes a flat binary must have"),
        "include_dirs": Field(List(RelPath()), default=[]),
        "defines": Field(MapOf(Scalar(), key_pattern=r"[A-Za-z_][A-Za-z0-9_]*"), default={}),
    })


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    nasm = ctx.tools("nasm")
    opts = target.options
    headers = [i for i in inputs if i.endswith(".inc")]
    header_dirs = [f"-I{d}/" for d in dict.fromkeys(os.path.dirname(h) for h in headers)]
    tasks, outputs = [], []
    for source in target.sources:
        out = ctx.out(target.name, os.path.basename(source).rsplit(".", 1)[0] + SUFFIX[opts["format"]])
        dep = out + ".d"
        includes = [f"-I{d.rstrip('/')}/" for d in opts["include_dirs"]] or \
            [f"-I{os.path.dirname(source) or '.'}/"]
        includes += [d for d in header_dirs if d not in includes]
        defines = [f"-D{k}={_define(v)}" for k, v in sorted(opts["defines"].items())]
        common = [nasm.path, "-f", opts["format"], *includes, *defines, *target.flags]
        deps_argv = [*common, "-M", "-MF", dep, "-MT", out, source]
        argv = [*common, "-o", out, source]
        tasks.append(TaskSpec(
            name=f"{target.name}:{source}",
            doc=f"assemble {source}",
            actions=[Command(deps_argv, [dep]),
                     Command(argv, [out], verify=_size_check(opts.get("size"), out))],
            file_dep=[source, *headers],
            targets=[out],
            depfile=dep,
            config={"argv": argv, "tool": nasm.identity(),
                    "include_search": search_digest(argv, source, ctx.build_dir)},
        ))
        outputs.append(out)
    return TargetResult(tasks, outputs)


def _define(value: str | int | bool) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


def _size_check(size: int | None, out: str) -> Callable[[dict[str, str]], None] | None:
    if size is None:
        return None

    def verify(temps: dict[str, str]) -> None:
        actual = os.path.getsize(temps[out])
        if actual != size:
            raise FluidError(f"{out} is {actual} bytes; it must be exactly {size}")

    return verify
