"""bench_sources: the C sources of the listed benchmarks that packages contribute.

A package ships a benchmark's C source (and the headers beside it) and
declares it through ``fluidbuild_benchmarks``; one line in the manifest's
``benchmarks:`` then lists it. A target of this plugin has no sources and no
tasks: its outputs are those installed sources (absolute paths, in the
manifest's order), so every target that compiles the project's benchmarks
(``sources: [src/bench/*.c]``) lists it in ``deps`` and compiles the package's
too: the kernel's generic and tuned bitcode, the JIT module's. The native
runners and the registry find them by name in ``ctx.benchmarks`` themselves.
"""

from __future__ import annotations

from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, Target, TargetResult


@hookimpl
def fluidbuild_target_tasks(target: Target, ctx: BuildContext) -> TargetResult:
    listed = dict.fromkeys(b["name"] for b in ctx.manifest.sections.get("benchmarks") or [])
    return TargetResult([], [ctx.benchmarks[name].source for name in listed if name in ctx.benchmarks])
