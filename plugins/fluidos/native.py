"""native: a benchmark runner built as a static Linux process (src/bench/native/).

One target per architecture. Each benchmark the manifest's ``benchmarks``
lists is compiled twice from its source, among the target's ``sources`` or
shipped by the package that contributes it (``fluidbuild_benchmarks``):
``generic`` (the architecture's baseline below) and ``tuned`` (the CPU
profile's flags), each defining ``FLUID_VARIANT_SUFFIX`` so both link into
one program (src/bench/bench.h). The runner's own files (``runtime``) and the
generated registry from a ``bench_registry`` dependency are compiled once
with the baseline flags; the linker makes a static executable without libc.

``arch: i386`` compiles for the kernel's triple (i686-unknown-none-elf, the
generic variant without SSE, like the kernel's), so its tuned variant is the
fair native peer of the in-kernel run. Benchmarks are compiled at ``opt``
(the kernel's O3), the runtime at ``runtime_opt``. Under a ``generic`` CPU
profile the tuned variant gets the baseline flags too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fluidbench.native import runner_path
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.includes import search_digest
from fluidbuild.model import (
    BuildContext,
    Command,
    Target,
    TargetResult,
    TaskSpec,
    Tool,
    ToolSpec,
    source_name,
)
from fluidbuild.schema import Field, List, Map, RelPath, Str
from fluidbuild.toolchain import CLANG, LINKER


@dataclass(frozen=True)
class Arch:
    triple: str  # clang --target
    generic: tuple[str, ...]  # the generic variant's (and the runtime's) flags
    emulation: str  # linker -m


ARCHES = {
    "x86_64": Arch("x86_64-unknown-linux-gnu", ("-march=x86-64",), "elf_x86_64"),
    "i386": Arch("i686-unknown-none-elf", ("-march=i686",), "elf_i386"),  # x87, no SSE
}
OPT_LEVELS = ("O0", "O1", "O2", "O3", "Os")
ENTRY = "_start"  # src/bench/native/start.c


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [CLANG, LINKER]


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({
        "arch": Field(Str(choices=tuple(ARCHES)), required=True, doc="x86_64 or i386 process"),
        "runtime": Field(List(RelPath(), min_items=1), required=True,
                         doc="the runner's own C files (no benchmark), compiled once"),
        "include_dirs": Field(List(RelPath()), default=[]),
        "opt": Field(Str(choices=OPT_LEVELS), default="O3", doc="benchmarks"),
        "runtime_opt": Field(Str(choices=OPT_LEVELS), default="O2", doc="runtime and registry"),
    })


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    clang, linker = ctx.tools("clang"), ctx.tools("linker")
    opts = target.options
    arch = ARCHES[opts["arch"]]
    base = [clang.path, f"--target={arch.triple}", *target.flags, *(f"-I{d}" for d in opts["include_dirs"])]
    generic = list(arch.generic)
    tuned = generic if ctx.cpu_profile.get("mode") == "generic" else list(ctx.cpu_profile["clang_flags"])
    cpu = {"cpu": {k: ctx.cpu_profile[k] for k in ("clang_flags", "tag")}}
    tasks, objects = [], []
    for source in _benchmark_sources(target, ctx):
        for variant, flags in (("generic", generic), ("tuned", tuned)):
            argv = [*base, f"-{opts['opt']}", *flags, f"-DFLUID_VARIANT_SUFFIX=_{variant}"]
            task = _compile(ctx, target, clang, argv, source, variant, cpu if variant == "tuned" else {})
            tasks.append(task)
            objects.extend(task.targets)
    runtime = [*base, f"-{opts['runtime_opt']}", *generic]
    for source in [*opts["runtime"], *(i for i in inputs if i.endswith(".c"))]:
        task = _compile(ctx, target, clang, runtime, source, "runtime", {})
        tasks.append(task)
        objects.extend(task.targets)
    tasks.append(_link(target, linker, arch.emulation, objects, runner_path(ctx.build_dir, target.name)))
    return TargetResult(tasks, tasks[-1].targets)


def _benchmark_sources(target: Target, ctx: BuildContext) -> list[str]:
    """The sources that define the manifest's benchmarks, in the manifest's order: the
    target's own, else those packages contribute."""
    by_name = {os.path.basename(s)[:-2]: s for s in target.sources if s.endswith(".c")}
    contributed = {name: bench.source for name, bench in ctx.benchmarks.items() if name not in by_name}
    names = dict.fromkeys(b["name"] for b in ctx.manifest.sections.get("benchmarks") or [])
    missing = [n for n in names if n not in by_name and n not in contributed]
    if missing:
        raise FluidError(f"benchmarks: no source for {', '.join(missing)} among target "
                         f"'{target.name}' sources (known: {', '.join(sorted(by_name))}) nor from a "
                         f"plugin (known: {', '.join(sorted(contributed)) or 'none'})")
    return [by_name.get(n) or contributed[n] for n in names]


def _compile(ctx: BuildContext, target: Target, clang: Tool, flags: list[str], source: str,
             kind: str, extra: dict[str, object]) -> TaskSpec:
    """One ``clang -c`` with its header dependencies (``-MD``); ``kind`` is the
    variant, or ``runtime``, and names the object's directory."""
    out = ctx.out(target.name, kind, source_name(source).replace("/", "__") + ".o")
    dep = out + ".d"
    argv = [*flags, "-c", "-MD", "-MF", dep, "-o", out, source]
    return TaskSpec(
        name=f"{target.name}:{kind}:{source_name(source)}",
        doc=f"compile {source} ({kind}, {target.options['arch']})",
        actions=[Command(argv, [out])],
        file_dep=[source],
        targets=[out],
        depfile=dep,
        config={"argv": argv, "tool": clang.identity(), **extra,
                "include_search": search_digest(argv, source, ctx.build_dir)},
    )


def _link(target: Target, linker: Tool, emulation: str, objects: list[str], out: str) -> TaskSpec:
    argv = [linker.path, "-m", emulation, "-static", "-nostdlib", "-e", ENTRY, *objects, "-o", out]
    return TaskSpec(
        name=f"{target.name}:link",
        doc=f"link the static runner {out}",
        actions=[Command(argv, [out])],
        file_dep=list(objects),
        targets=[out],
        config={"argv": argv, "tool": linker.identity()},
    )
