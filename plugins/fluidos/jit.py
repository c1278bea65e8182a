"""jit: the ``doit jit`` task, running the module's benchmarks under the tiered JIT.

The ``jit`` manifest section holds the optimizer's thresholds; the task runs
:func:`fluidjit.run_jit` on the output of the module target (by default
``fluid_module``, i.e. ``build/fluid_module.bc``) with tier 2 compiled for the
CPU profile, keeps tier-2 object files in ``build/jit/cache`` and writes the
JSON report. The same run from a shell:
``python -m fluidjit build/fluid_module.bc --cpu-profile build/cpu_profile.json``.
"""

from __future__ import annotations

from typing import Any

from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, Manifest, PyAction, TaskSpec
from fluidbuild.schema import Bool, Field, Float, Int, List, Map, Schema, Str

SECTION = Map({
    "module_target": Field(Str(pattern=r"[a-z][a-z0-9_]*"), default="fluid_module",
                           doc="the llvm_link target whose bitcode the JIT runs"),
    "benchmarks": Field(List(Str(pattern=r"[a-z][a-z0-9_]*")), default=[],
                        doc="registry benchmarks to run (default: all)"),
    "iterations": Field(Int(minimum=1, maximum=1_000_000), doc="run() calls per benchmark"),
    "hot_calls": Field(Int(minimum=1), default=5, doc="calls before a function may go to tier 2"),
    "hot_share": Field(Float(minimum=0.0, maximum=1.0), default=0.05,
                       doc="share of the profiled cycles it must also reach"),
    "verify_calls": Field(Int(minimum=1), default=3, doc="tier-2 calls timed before keeping it"),
    "revert_margin": Field(Float(minimum=0.0, maximum=10.0), default=0.05,
                           doc="tier 2 is reverted when slower than tier 0 by more than this"),
    "specialize": Field(Bool(), default=True, doc="clone functions for constant integer arguments"),
    "fp_contract": Field(Bool(), default=True, doc="let tier 2 fuse a*b+c into FMA"),
    "cache": Field(Bool(), default=True, doc="keep tier-2 object files across runs (build/jit/cache)"),
})


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"jit": SECTION}


@hookimpl
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext,
                     outputs: dict[str, list[str]]) -> list[TaskSpec]:
    settings = manifest.sections["jit"]
    module = (outputs.get(settings["module_target"]) or [None])[0]
    profile = ctx.out("cpu_profile.json")
    report = ctx.out("jit", "report.json")
    cache = ctx.out("jit", "cache") if settings["cache"] else None
    if module is None:
        why = f"jit.module_target '{settings['module_target']}' is not a target with an output"
        return [TaskSpec("jit", f"(cannot run: {why})", [PyAction(_unavailable, {"why": why})],
                         always=True)]
    return [TaskSpec(
        name="jit",
        doc=f"run the benchmarks of {module} under the tiered JIT; report in {report}",
        actions=[PyAction(run, {"module": module, "cpu_profile": profile, "report": report,
                                "cache": cache, "settings": settings})],
        file_dep=[module, profile],
        always=True,
        verbosity=2,
    )]


def run(module: str, cpu_profile: str, report: str, cache: str | None, settings: dict[str, Any]) -> None:
    """The ``jit`` task's action: one JIT run, its table printed, failures fatal."""
    from fluidjit import JitConfig, JitError, run_jit  # llvmlite only when the JIT runs

    config = JitConfig(
        module=module, benchmarks=tuple(settings["benchmarks"]), report=report, cpu_profile=cpu_profile,
        hot_calls=settings["hot_calls"], hot_share=settings["hot_share"],
        verify_calls=settings["verify_calls"], revert_margin=settings["revert_margin"],
        iterations=settings["iterations"], specialize=settings["specialize"],
        fp_contract=settings["fp_contract"], cache_dir=cache)
    try:
        result = run_jit(config)
    except JitError as exc:
        raise FluidError(str(exc)) from None
    print(result.table())
    if result.failures:
        raise FluidError("; ".join(result.failures))


def _unavailable(why: str) -> None:
    raise FluidError(f"doit jit cannot run: {why}")
