"""clang IR: C sources to LLVM bitcode (``.bc``), one task per file.

Header dependencies come from clang itself (``-MD``). A target may be a
``tuned`` or ``generic`` variant: tuned adds the CPU profile's flags, and
each variant defines ``FLUID_VARIANT_SUFFIX`` so both can link into one
program (see src/bench/bench.h). Generated C files from dependency targets
(inputs ending in ``.c``) are compiled too, and so are a package's benchmark
sources from a ``bench_sources`` dependency (named ``ext/<folder>/<file>`` in
task names and outputs, their headers tracked where they are installed); generated headers (inputs ending
in ``.h``, such as the protocol constants) are file dependencies, and their
directories are on the include path.
"""

from __future__ import annotations

import os

from fluidbuild.hookspecs import hookimpl
from fluidbuild.includes import search_digest
from fluidbuild.model import BuildContext, Command, Target, TargetResult, TaskSpec, ToolSpec, source_name
from fluidbuild.schema import Field, List, Map, MapOf, RelPath, Scalar, Str
from fluidbuild.toolchain import CLANG


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [CLANG]


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({
        "triple": Field(Str(pattern=r"[a-z0-9_]+(-[a-z0-9_.]+){2,3}"), default="i686-unknown-none-elf"),
        "std": Field(Str(choices=("c99", "c11", "c17", "gnu11", "gnu17")), default="c11"),
        "opt": Field(Str(choices=("O0", "O1", "O2", "O3", "Os")), default="O2"),
        "variant": Field(Str(choices=("none", "generic", "tuned")), default="none"),
        "include_dirs": Field(List(RelPath()), default=[]),
        "defines": Field(MapOf(Scalar(), key_pattern=r"[A-Za-z_][A-Za-z0-9_]*"), default={}),
    })


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    clang = ctx.tools("clang")
    opts = target.options
    headers = [i for i in inputs if i.endswith(".h")]
    flags = _flags(target, ctx, headers)
    config_extra = {"cpu": {k: ctx.cpu_profile.get(k) for k in ("clang_flags", "tag", "mode")}} \
        if opts["variant"] == "tuned" else {}
    tasks, outputs = [], []
    for source in [*target.sources, *(i for i in inputs if i.endswith(".c"))]:
        out = ctx.out(target.name, source_name(source).replace("/", "__") + ".bc")
        dep = out + ".d"
        argv = [clang.path, f"--target={opts['triple']}", f"-std={opts['std']}", f"-{opts['opt']}",
                *flags, "-emit-llvm", "-c", "-MD", "-MF", dep, "-o", out, source]
        tasks.append(TaskSpec(
            name=f"{target.name}:{source_name(source)}",
            doc=f"compile {source} to LLVM bitcode ({opts['variant']})",
            actions=[Command(argv, [out])],
            file_dep=[source, *headers],
            targets=[out],
            depfile=dep,
            config={"argv": argv, "tool": clang.identity(), **config_extra,
                    "include_search": search_digest(argv, source, ctx.build_dir)},
        ))
        outputs.append(out)
    return TargetResult(tasks, outputs)


def _flags(target: Target, ctx: BuildContext, headers: list[str]) -> list[str]:
    opts = target.options
    flags = [f"-I{d}" for d in opts["include_dirs"]]
    flags += [f"-I{d}" for d in dict.fromkeys(os.path.dirname(h) for h in headers)
              if f"-I{d}" not in flags]
    flags += [f"-D{k}={int(v) if isinstance(v, bool) else v}" for k, v in sorted(opts["defines"].items())]
    flags += list(target.flags)
    if opts["variant"] == "tuned":
        flags += [*tuned_flags(opts["triple"], ctx.cpu_profile), "-DFLUID_VARIANT_SUFFIX=_tuned"]
    elif opts["variant"] == "generic":
        flags += ["-DFLUID_VARIANT_SUFFIX=_generic"]
    return flags


def tuned_flags(triple: str, profile: dict) -> list[str]:
    """The CPU profile's flags; a ``generic`` profile (an i686 baseline) means
    the target's own baseline on x86-64, where clang rejects ``-march=i686``."""
    if profile.get("mode") == "generic" and triple.startswith("x86_64"):
        return ["-march=x86-64"]
    return list(profile["clang_flags"])
