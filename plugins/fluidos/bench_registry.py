"""bench_registry: the ``benchmarks`` manifest section and the registry C file.

The kernel, the native runner and the JIT find benchmarks by name through
``bench_registry[]`` (src/bench/bench.h). This plugin generates it from the
manifest, so adding a benchmark is one C file plus one manifest entry, or,
for a benchmark a package contributes (``fluidbuild_benchmarks``: its source,
its default size, its host reference), the manifest entry alone.

A size must fit the registry's uint32_t, and must not pass the benchmark's
own limit: the ``#define BENCH_MAX_SIZE <n>`` line of its source, the bound
above which its arena no longer fits the 32-bit arithmetic of the kernel
(bench.h). The limit is read from that line, where the descriptor takes it
from too, so it is defined once; a size above it stops the build while the
task graph is declared (``doit list`` included), naming the manifest line.
"""

from __future__ import annotations

import os
import re
from typing import Any

from fluidbuild.atomic import write_text
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.manifest import where_in
from fluidbuild.model import BuildContext, Manifest, PyAction, Target, TargetResult, TaskSpec
from fluidbuild.schema import BenchmarkRef, Bool, Field, Int, List, Map, Schema

NAME = r"[a-z][a-z0-9_]*"
U32_MAX = 0xFFFFFFFF  # bench.h: sizes are uint32_t
BENCHMARK = Map({
    "name": Field(BenchmarkRef(pattern=NAME), required=True, doc="a src/bench source or a package's"),
    "size": Field(Int(minimum=1, maximum=U32_MAX),
                  doc="problem size (default: the benchmark's own; at most its BENCH_MAX_SIZE)"),
    "iterations": Field(Int(minimum=1, maximum=1_000_000), default=3),
})
# The limit's line in a benchmark source (bench.h), alone on its line.
MAX_SIZE_LINE = re.compile(r"^#define BENCH_MAX_SIZE ([0-9]+)$", re.M)


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"benchmarks": List(BENCHMARK, unique="name")}


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({"tuned": Field(Bool(), default=True, doc="false: the tuned slot uses generic code")})


@hookimpl
def fluidbuild_target_tasks(target: Target, ctx: BuildContext) -> TargetResult:
    benchmarks = ctx.manifest.sections.get("benchmarks") or []
    available = {os.path.basename(s)[:-2]: s for s in target.sources if s.endswith(".c")}
    defaults = _contributed(target, available, benchmarks, ctx)
    for i, bench in enumerate(benchmarks):
        if bench["name"] not in available:
            raise FluidError(f"benchmarks: no source for '{bench['name']}' among target "
                             f"'{target.name}' sources (known: {', '.join(sorted(available))})")
        if bench["size"] is not None:
            _check_size(ctx.manifest, i, bench, available[bench["name"]])
    out = ctx.out("gen", f"{target.name}.c")
    entries = [{"name": b["name"], "size": b["size"] or defaults.get(b["name"], 0),
                "iterations": b["iterations"]} for b in benchmarks]
    tuned = target.options["tuned"]
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"generate {out} ({len(entries)} benchmarks)",
        actions=[PyAction(write_registry, {"path": out, "entries": entries, "tuned": tuned})],
        targets=[out],
        config={"entries": entries, "tuned": tuned},
    )
    return TargetResult([task], [out])


def _contributed(target: Target, available: dict[str, str], benchmarks: list[dict[str, Any]],
                 ctx: BuildContext) -> dict[str, int]:
    """Add to ``available`` the sources of the listed benchmarks that packages contribute
    (``fluidbuild_benchmarks``); return their default sizes, which the registry carries."""
    defaults = {}
    for bench in benchmarks:
        found = ctx.benchmarks.get(bench["name"])
        if found is None:
            continue
        if bench["name"] in available:
            raise FluidError(f"benchmarks: '{bench['name']}' is both {available[bench['name']]} (target "
                             f"'{target.name}') and a package's ({found.source}); rename one")
        available[bench["name"]] = found.source
        defaults[bench["name"]] = found.default_size
    return defaults


def max_size(root: str, source: str) -> int:
    """The BENCH_MAX_SIZE of the benchmark source ``source`` (project-relative)."""
    try:
        with open(os.path.join(root, source), encoding="utf-8") as f:
            found = MAX_SIZE_LINE.findall(f.read())
    except (OSError, UnicodeDecodeError) as exc:
        raise FluidError(f"{source}: cannot read the benchmark's size limit: {exc}") from None
    if len(found) != 1:
        raise FluidError(f"{source}: expected one line '#define BENCH_MAX_SIZE <n>' (the largest size "
                         f"the benchmark takes, src/bench/bench.h), found {len(found)}")
    return int(found[0])


def _check_size(manifest: Manifest, index: int, bench: dict[str, Any], source: str) -> None:
    limit = max_size(manifest.root, source)
    if bench["size"] > limit:
        raise where_in(manifest, "benchmarks", index, "size").fail(
            f"{bench['name']} size {bench['size']} is above its limit {limit} (BENCH_MAX_SIZE in "
            f"{source}: a larger arena does not fit the kernel's 32-bit arithmetic)")


def render(entries: list[dict[str, Any]], tuned: bool) -> str:
    """The C source of the registry."""
    lines = ["/* Generated by fluidbuild from the manifest's benchmarks; do not edit. */",
             '#include "bench.h"', ""]
    for e in entries:
        lines.append(f"extern const struct bench_desc bench_{e['name']}_generic;")
        if tuned:
            lines.append(f"extern const struct bench_desc bench_{e['name']}_tuned;")
    lines += ["", "const struct bench_entry bench_registry[] = {"]
    for e in entries:
        variant = "tuned" if tuned else "generic"
        lines.append(f'    {{"{e["name"]}", &bench_{e["name"]}_generic, &bench_{e["name"]}_{variant}, '
                     f"{e['size']}, {e['iterations']}}},  /* size 0: the benchmark's default */")
    if not entries:
        lines.append("    {0, 0, 0, 0, 0},")
    lines += ["};", f"const uint32_t bench_registry_count = {len(entries)};", ""]
    return "\n".join(lines)


def write_registry(path: str, entries: list[dict[str, Any]], tuned: bool) -> None:
    write_text(path, render(entries, tuned))
