"""variants: every benchmark compiled once per instruction-set level, and the table the kernel picks from.

The manifest's ``variants:`` section lists the levels, generic first::

    variants:
      - {name: generic, flags: [-march=i686]}
      - {name: sse2, flags: [-march=x86-64], requires: [sse, sse2]}
      - {name: tuned, profile: true}        # the exact CPU profile's flags and features

``requires`` names the boot protocol's ``cpu_features`` (src/protocol/protocol.toml)
the level's code may execute. At graph time a level whose ``requires`` the CPU
profile lacks is dropped (an AVX-512 level on an AVX2 host): the profile's
features decide which levels exist. The ``profile: true`` level takes the
profile's flags and features. At build time the declaration is checked
against the compiler: the features clang enables for a level's flags (its
predefined macros, as the ``cpu_flags`` plugin reads them) must be exactly
its ``requires``, so the mask the kernel checks before running the code is
the set of instructions the code may contain.

A target with ``plugin: variants`` compiles its sources (and the ``.c``
inputs of its dependencies: the benchmarks packages contribute) with
``clang_ir``'s options and tasks, once per kept level, with
``-DFLUID_VARIANT_SUFFIX=_<level>`` (src/bench/bench.h), and writes
``<build>/gen/<target>.c``: the variant table (src/kernel/variant_table.h),
each level's name and feature mask and, per listed benchmark, one descriptor
per level. The kernel measures the eligible ones at boot and runs the
fastest (src/kernel/select.c). The benchmark registry names
``bench_<x>_generic`` and ``bench_<x>_tuned``, so a ``generic`` level
(no requires) and a ``tuned`` one (``profile: true``) are required.

With ``options: {table: infer}`` the target compiles the inference engine's
forward pass (src/infer/forward.c) the same way, once per kept level, and the
table it writes (src/kernel/infer_variants.h) lists each level's name, feature
mask and ``infer_kernels_<level>``: the levels and their checks are the same,
from the same section, for the benchmarks and the engine.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, replace
from typing import Any

from fluidbench import protocol
from fluidbuild.atomic import write_text
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, PyAction, Target, TargetResult, TaskSpec, ToolSpec
from fluidbuild.schema import Bool, Checked, Field, List, Map, Schema, Str, Where
from fluidbuild.toolchain import CLANG
from fluidbuild_plugins.compile import clang_ir

FEATURES = tuple(f["name"] for f in protocol.CPU_FEATURES)  # protocol bit order
MAX_LEVELS = 16  # src/kernel/variant_table.h: VARIANT_MAX_LEVELS
GENERIC, PROFILE_LEVEL = "generic", "tuned"  # the registry's two descriptors (bench_registry)
TABLE_TASK = "table"  # sub-task name of the table; level names may not take it
TABLES = ("benchmarks", "infer")  # what the table lists: src/kernel/variant_table.h, infer_variants.h
KERNEL_TRIPLE = "i686-unknown-none-elf"  # clang_ir's default triple

LEVEL = Map({
    "name": Field(Str(pattern=r"[a-z][a-z0-9_]{0,15}"), required=True,
                  doc="the variant's name: symbol suffix and the kernel's FLUID-BENCH `variant`"),
    "flags": Field(List(Str()), default=[], doc="clang flags selecting the instruction set (-march=...)"),
    "requires": Field(List(Str(choices=FEATURES)), default=[],
                      doc="cpu_features the code may execute: exactly what clang enables for `flags`"),
    "profile": Field(Bool(), default=False, doc="the exact CPU profile: its flags and features"),
})


def _check_levels(levels: list[dict[str, Any]], where: Where) -> None:
    names = [lv["name"] for lv in levels]
    for i, level in enumerate(levels):
        here = where.child(i, None)
        if level["name"] in names[:i]:
            raise here.fail(f"variant '{level['name']}' is declared twice")
        if level["name"] == TABLE_TASK:
            raise here.fail(f"'{TABLE_TASK}' names the variant table's task; pick another name")
        if level["profile"] and (level["flags"] or level["requires"]):
            raise here.fail("a 'profile: true' variant takes the CPU profile's flags and features: "
                            "give it neither 'flags' nor 'requires'")
        if not level["profile"] and not level["flags"]:
            raise here.fail(f"variant '{level['name']}' needs 'flags' (or 'profile: true')")
    if len(levels) > MAX_LEVELS:
        raise where.fail(f"{len(levels)} variants; the kernel's table holds at most {MAX_LEVELS}")
    if sum(lv["profile"] for lv in levels) > 1:
        raise where.fail("only one variant may be 'profile: true'")


@dataclass(frozen=True)
class Level:
    """One kept level: what it is compiled with and what its code needs."""

    name: str
    flags: tuple[str, ...]
    features: tuple[str, ...]  # protocol bit order
    profile: bool = False

    @property
    def mask(self) -> int:
        return mask_of(self.features)


def mask_of(features: list[str] | tuple[str, ...]) -> int:
    bits = {f["name"]: f["bit"] for f in protocol.CPU_FEATURES}
    return sum(1 << bits[name] for name in set(features))


def profile_features(profile: dict[str, Any]) -> tuple[str, ...]:
    """The profile's features, in protocol bit order, from its stamped bits."""
    bits = profile.get("feature_bits") or 0
    return tuple(f["name"] for f in protocol.CPU_FEATURES if bits >> f["bit"] & 1)


def plan(levels: list[dict[str, Any]], profile: dict[str, Any],
         triple: str = KERNEL_TRIPLE) -> tuple[list[Level], dict[str, list[str]]]:
    """The levels the CPU profile allows, generic first (in manifest order otherwise), and
    the dropped ones with the features the profile lacks for each."""
    have = profile_features(profile)
    kept, dropped = [], {}
    for lv in levels:
        if lv["profile"]:
            kept.append(Level(lv["name"], tuple(clang_ir.tuned_flags(triple, profile)), have, True))
            continue
        lacking = [name for name in FEATURES if name in lv["requires"] and name not in have]
        if lacking:
            dropped[lv["name"]] = lacking
        else:
            kept.append(Level(lv["name"], tuple(lv["flags"]),
                              tuple(name for name in FEATURES if name in lv["requires"])))
    kept.sort(key=lambda level: level.name != GENERIC)
    return kept, dropped


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"variants": Checked(List(LEVEL), _check_levels)}


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [CLANG]


@hookimpl
def fluidbuild_options_schema() -> Map:
    # clang_ir's options, but the variant is the level's; and what the table lists.
    fields = clang_ir.fluidbuild_options_schema().fields
    return Map({**{key: value for key, value in fields.items() if key != "variant"},
                "table": Field(Str(choices=TABLES), default="benchmarks",
                               doc="benchmarks: the variant table of the listed benchmarks; infer: the "
                                   "table of the inference engine's forward pass")})


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    declared = ctx.manifest.sections.get("variants") or []
    levels, dropped = plan(declared, ctx.cpu_profile, target.options["triple"])
    names = [lv.name for lv in levels]
    generic = next((lv for lv in levels if lv.name == GENERIC), None)
    if generic is None or generic.features or generic.profile:
        raise FluidError(f"target '{target.name}': the manifest's variants need a '{GENERIC}' level "
                         "without requires (the fallback every CPU runs; the registry names it)")
    if not any(lv.profile and lv.name == PROFILE_LEVEL for lv in levels):
        raise FluidError(f"target '{target.name}': the manifest's variants need a '{PROFILE_LEVEL}' level "
                         "with 'profile: true' (the registry names it)")
    tasks, outputs = [], []
    for level in levels:
        result = clang_ir.fluidbuild_target_tasks(_level_target(target, level), inputs, ctx)
        for task in result.tasks:
            source = task.name.partition(":")[2]
            tasks.append(replace(task, name=f"{target.name}:{level.name}:{source}",
                                 doc=f"compile {source} to LLVM bitcode (variant {level.name})"))
        outputs += result.outputs
    kind = target.options["table"]
    benchmarks = _listed_benchmarks(target, inputs, ctx) if kind == "benchmarks" else []
    table = ctx.out("gen", f"{target.name}.c")
    clang = ctx.tools("clang")
    spec = [{"name": lv.name, "flags": list(lv.flags), "features": list(lv.features), "profile": lv.profile}
            for lv in levels]
    params = {"levels": spec, "benchmarks": benchmarks, "triple": target.options["triple"], "table": kind}
    what = f"{len(benchmarks)} benchmarks x " if kind == "benchmarks" else "the inference engine x "
    tasks.append(TaskSpec(
        name=f"{target.name}:{TABLE_TASK}",
        doc=f"write {table}: {what}{len(levels)} variants ({', '.join(names)})"
            + (f"; dropped {', '.join(dropped)}" if dropped else ""),
        actions=[PyAction(write_table, {"path": table, "clang": clang.path, **params})],
        targets=[table],
        config={**params, "dropped": dropped, "tool": clang.identity(),
                "features": [(f["name"], f["bit"], f["clang_macro"]) for f in protocol.CPU_FEATURES]},
    ))
    return TargetResult(tasks, [*outputs, table])


def _listed_benchmarks(target: Target, inputs: list[str], ctx: BuildContext) -> list[str]:
    """The manifest's benchmarks this target compiles (its sources and its dependencies'
    ``.c`` outputs: the benchmarks packages contribute), in manifest order."""
    sources = [*target.sources, *(i for i in inputs if i.endswith(".c"))]
    compiled = {os.path.basename(s)[:-2] for s in sources if s.endswith(".c")}
    listed = [b["name"] for b in ctx.manifest.sections.get("benchmarks") or []]
    return [name for name in listed if name in compiled]


def _level_target(target: Target, level: Level) -> Target:
    """The clang_ir target compiling ``target``'s sources for ``level``: its outputs in
    ``<build>/<target>/<level>/``."""
    return replace(target, name=f"{target.name}/{level.name}",
                   flags=(*target.flags, *level.flags, f"-DFLUID_VARIANT_SUFFIX=_{level.name}"),
                   options={key: value for key, value in {**target.options, "variant": "none"}.items()
                            if key != "table"})


def enabled_features(clang: str, triple: str, flags: list[str]) -> tuple[str, ...]:
    """The protocol features clang enables for ``flags`` (its predefined macros)."""
    proc = subprocess.run([clang, f"--target={triple}", *flags, "-E", "-dM", "-x", "c", os.devnull],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FluidError(f"{clang} does not accept {' '.join(flags)}: {proc.stderr.strip()[:300]}")
    macros = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("#define ")}
    return features_of(macros)


def features_of(macros: set[str]) -> tuple[str, ...]:
    return tuple(f["name"] for f in protocol.CPU_FEATURES if f["clang_macro"] in macros)


def check_level(level: dict[str, Any], enabled: tuple[str, ...]) -> None:
    """A level's declared ``requires`` must be what its flags enable, no more, no less."""
    declared = set(level["features"])
    extra = [name for name in enabled if name not in declared]
    unused = [name for name in FEATURES if name in declared and name not in enabled]
    problems = []
    if extra:
        problems.append(f"its flags also enable {', '.join(extra)}, which 'requires' does not list "
                        "(the kernel would run it on CPUs without them)")
    if unused:
        problems.append(f"'requires' lists {', '.join(unused)}, which its flags do not enable")
    if problems:
        raise FluidError(f"variant '{level['name']}' ({' '.join(level['flags'])}): " + "; ".join(problems))


def _level_comment(level: dict[str, Any]) -> str:
    what = "the CPU profile" if level["profile"] else " ".join(level["flags"])
    return f'/* {what}: {" ".join(level["features"]) or "no extension"} */'


def render(levels: list[dict[str, Any]], benchmarks: list[str]) -> str:
    """The C source of the variant table (src/kernel/variant_table.h)."""
    lines = ["/* Generated by fluidbuild from the manifest's variants; do not edit. */",
             '#include "variant_table.h"', "", "const struct variant_level variant_levels[] = {"]
    for lv in levels:
        lines.append(f'    {{"{lv["name"]}", 0x{mask_of(lv["features"]):08x}u}},  {_level_comment(lv)}')
    lines += ["};", f"const uint32_t variant_level_count = {len(levels)};", ""]
    for name in benchmarks:
        lines += [f"extern const struct bench_desc bench_{name}_{lv['name']};" for lv in levels]
        lines.append(f"static const struct bench_desc *const {name}_variants[] = {{"
                     + ", ".join(f"&bench_{name}_{lv['name']}" for lv in levels) + "};")
    lines += ["", "const struct variant_row variant_rows[] = {"]
    lines += [f'    {{"{name}", {name}_variants}},' for name in benchmarks]
    if not benchmarks:
        lines.append("    {0, 0},")
    lines += ["};", f"const uint32_t variant_row_count = {len(benchmarks)};", ""]
    return "\n".join(lines)


def render_infer(levels: list[dict[str, Any]]) -> str:
    """The C source of the inference engine's variant table (src/kernel/infer_variants.h)."""
    lines = ["/* Generated by fluidbuild from the manifest's variants; do not edit. */",
             '#include "infer_variants.h"', ""]
    lines += [f"extern const struct infer_kernels infer_kernels_{lv['name']};" for lv in levels]
    lines += ["", "const struct infer_variant infer_variants[] = {"]
    for lv in levels:
        name = lv["name"]
        lines.append(f'    {{"{name}", 0x{mask_of(lv["features"]):08x}u, &infer_kernels_{name}}},  '
                     f"{_level_comment(lv)}")
    lines += ["};", f"const uint32_t infer_variant_count = {len(levels)};", ""]
    return "\n".join(lines)


def write_table(path: str, clang: str, triple: str, levels: list[dict[str, Any]],
                benchmarks: list[str], table: str = "benchmarks") -> None:
    """Check every level's declaration against clang, then write the table."""
    for level in levels:
        if not level["profile"]:
            check_level(level, enabled_features(clang, triple, level["flags"]))
    write_text(path, render(levels, benchmarks) if table == "benchmarks" else render_infer(levels))
