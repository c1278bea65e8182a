"""llvm-link: bitcode files linked into one module, in-process with llvmlite.

LLVM reads bitcode from older producers but not from newer ones, so the link
refuses bitcode from a clang whose LLVM is newer than llvmlite's, naming both
versions, instead of failing inside the bitcode reader.
"""

from __future__ import annotations

import re

from fluidbuild.atomic import write_bytes
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, PyAction, Target, TargetResult, TaskSpec, ToolSpec
from fluidbuild.toolchain import CLANG


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [CLANG]


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    bitcode = [*target.sources, *(i for i in inputs if i.endswith(".bc"))]
    out = ctx.out(f"{target.name}.bc")
    producer = ctx.tools("clang").version
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"link {len(bitcode)} bitcode files into {out}",
        actions=[PyAction(link, {"inputs": bitcode, "output": out, "producer": producer})],
        file_dep=bitcode,
        targets=[out],
        config={"inputs": bitcode, "producer": producer},
    )
    return TargetResult([task], [out])


def llvm_major(version_line: str) -> int | None:
    """The LLVM major version in a ``clang --version`` line."""
    match = re.search(r"version (\d+)\.", version_line)
    return int(match.group(1)) if match else None


def link(inputs: list[str], output: str, producer: str) -> None:
    """Link ``inputs`` into ``output`` with llvmlite."""
    import llvmlite.binding as llvm

    ours = llvm.llvm_version_info
    theirs = llvm_major(producer)
    if theirs is not None and theirs > ours[0]:
        raise FluidError(f"bitcode producer '{producer}' (LLVM {theirs}) is newer than llvmlite's "
                         f"LLVM {'.'.join(map(str, ours))}; use clang-{ours[0]} or older")
    if not inputs:
        raise FluidError("nothing to link: the target has no bitcode inputs")
    module = None
    for path in inputs:
        with open(path, "rb") as f:
            data = f.read()
        try:
            part = llvm.parse_bitcode(data)
        except RuntimeError as exc:
            raise FluidError(f"{path}: unreadable bitcode: {exc}") from None
        if module is None:
            module = part
        else:
            try:
                module.link_in(part)
            except RuntimeError as exc:
                raise FluidError(f"linking {path}: {exc}") from None
    module.verify()
    write_bytes(output, module.as_bitcode())
