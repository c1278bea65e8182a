"""jit: ``doit jit`` and ``doit jit_infer``, benchmarks and the inference engine under the tiered JIT.

The ``jit`` manifest section holds the optimizer's thresholds; ``doit jit``
runs :func:`fluidjit.run_jit` on the output of the module target (by default
``fluid_module``, i.e. ``build/fluid_module.bc``) with tier 2 compiled for the
CPU profile, keeps tier-2 object files in ``build/jit/cache`` and writes the
JSON report. The same run from a shell:
``python -m fluidjit build/fluid_module.bc --cpu-profile build/cpu_profile.json``.

``doit jit_infer`` generates text with the engine of ``jit.infer.module_target``
(``build/infer_module.bc``) on the model of ``jit.infer.model`` under the same
thresholds (:func:`fluidjit.inference.run_inference`), prints the text and
the ``FLUID-INFER`` line and writes ``build/jit/infer-report.json``; from a
shell: ``python -m fluidjit infer build/model_260k/model.bin
build/model_260k/tokenizer.bin --cpu-profile build/cpu_profile.json``.
"""
from __future__ import annotations

from typing import Any

from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, Manifest, PyAction, TaskSpec
from fluidbuild.schema import Bool, Field, Float, Int, List, Map, Schema, Str

TARGET_NAME = r"[a-z][a-z0-9_]*"
INFER_DEFAULTS: dict[str, Any] = {"module_target": "infer_module", "model": "model_260k",
                                  "prompt": "Once upon a time", "steps": 256, "warmup": 10}
INFER = Map({
    "module_target": Field(Str(pattern=TARGET_NAME), default=INFER_DEFAULTS["module_target"],
                           doc="the llvm_link target of the inference engine's bitcode"),
    "model": Field(Str(pattern=TARGET_NAME), default=INFER_DEFAULTS["model"],
                   doc="the model target (plugin model) whose checkpoint and tokenizer it runs"),
    "prompt": Field(Str(), default=INFER_DEFAULTS["prompt"], doc="the text generation starts from"),
    "steps": Field(Int(minimum=1, maximum=1 << 20), default=INFER_DEFAULTS["steps"],
                   doc="tokens to generate (the prompt and they must fit the model's seq_len)"),
    "warmup": Field(Int(minimum=0, maximum=1000), default=INFER_DEFAULTS["warmup"],
                    doc="generations before the one that counts"),
})
SECTION = Map({
    "module_target": Field(Str(pattern=TARGET_NAME), default="fluid_module",
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
    "infer": Field(INFER, default=INFER_DEFAULTS, doc="doit jit_infer: the inference engine under the JIT"),
})


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"jit": SECTION}


@hookimpl
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext,
                     outputs: dict[str, list[str]]) -> list[TaskSpec]:
    settings = manifest.sections["jit"]
    profile = ctx.out("cpu_profile.json")
    cache = ctx.out("jit", "cache") if settings["cache"] else None
    return [_bench_task(settings, ctx, outputs, profile, cache),
            _infer_task(settings, ctx, outputs, profile, cache)]


def _bench_task(settings: dict[str, Any], ctx: BuildContext, outputs: dict[str, list[str]], profile: str,
                cache: str | None) -> TaskSpec:
    module = (outputs.get(settings["module_target"]) or [None])[0]
    report = ctx.out("jit", "report.json")
    if module is None:
        why = f"jit.module_target '{settings['module_target']}' is not a target with an output"
        return _unavailable_task("jit", why)
    return TaskSpec(
        name="jit",
        doc=f"run the benchmarks of {module} under the tiered JIT; report in {report}",
        actions=[PyAction(run, {"module": module, "cpu_profile": profile, "report": report,
                                "cache": cache, "settings": settings})],
        file_dep=[module, profile],
        always=True,
        verbosity=2,
    )


def _infer_task(settings: dict[str, Any], ctx: BuildContext, outputs: dict[str, list[str]], profile: str,
                cache: str | None) -> TaskSpec:
    infer = settings["infer"]
    module = (outputs.get(infer["module_target"]) or [None])[0]
    model = outputs.get(infer["model"]) or []
    report = ctx.out("jit", "infer-report.json")
    if module is None:
        why = f"jit.infer.module_target '{infer['module_target']}' is not a target with an output"
        return _unavailable_task("jit_infer", why)
    if len(model) < 2:
        why = f"jit.infer.model '{infer['model']}' is not a model target (a checkpoint and a tokenizer)"
        return _unavailable_task("jit_infer", why)
    checkpoint, tokenizer = model[:2]
    return TaskSpec(
        name="jit_infer",
        doc=f"generate {infer['steps']} tokens with the engine of {module} on {checkpoint} under the "
            f"tiered JIT; report in {report}",
        actions=[PyAction(run_infer, {"module": module, "checkpoint": checkpoint, "tokenizer": tokenizer,
                                      "cpu_profile": profile, "report": report, "cache": cache,
                                      "settings": settings})],
        file_dep=[module, checkpoint, tokenizer, profile],
        always=True,
        verbosity=2,
    )


def _jit_config(module: str, cpu_profile: str, report: str, cache: str | None,
                settings: dict[str, Any]) -> Any:
    """The JitConfig of a task: the section's thresholds."""
    from fluidjit import JitConfig  # llvmlite only when the JIT runs

    return JitConfig(
        module=module, benchmarks=tuple(settings["benchmarks"]), report=report, cpu_profile=cpu_profile,
        hot_calls=settings["hot_calls"], hot_share=settings["hot_share"],
        verify_calls=settings["verify_calls"], revert_margin=settings["revert_margin"],
        iterations=settings["iterations"], specialize=settings["specialize"],
        fp_contract=settings["fp_contract"], cache_dir=cache)


def run(module: str, cpu_profile: str, report: str, cache: str | None, settings: dict[str, Any]) -> None:
    """The ``jit`` task's action: one JIT run, its table printed, failures fatal."""
    from fluidjit import JitError, run_jit

    try:
        result = run_jit(_jit_config(module, cpu_profile, report, cache, settings))
    except JitError as exc:
        raise FluidError(str(exc)) from None
    print(result.table())
    if result.failures:
        raise FluidError("; ".join(result.failures))


def run_infer(module: str, checkpoint: str, tokenizer: str, cpu_profile: str, report: str,
              cache: str | None, settings: dict[str, Any]) -> None:
    """The ``jit_infer`` task's action: one generation after the warm-ups, its table, text
    and FLUID-INFER line printed, failures fatal."""
    from fluidjit import JitError
    from fluidjit.inference import InferRequest, run_inference

    infer = settings["infer"]
    try:
        request = InferRequest(checkpoint, tokenizer, prompt=infer["prompt"], steps=infer["steps"],
                               warmup=infer["warmup"])
        result = run_inference(_jit_config(module, cpu_profile, report, cache, settings), request)
    except JitError as exc:
        raise FluidError(str(exc)) from None
    print(result.show())
    if result.report.failures:
        raise FluidError("; ".join(result.report.failures))


def _unavailable_task(name: str, why: str) -> TaskSpec:
    return TaskSpec(name, f"(cannot run: {why})", [PyAction(_unavailable, {"name": name, "why": why})],
                    always=True)


def _unavailable(name: str, why: str) -> None:
    raise FluidError(f"doit {name} cannot run: {why}")
