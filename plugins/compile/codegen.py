"""codegen: an LLVM module to a native object through llvmlite's TargetMachine.

The linked module is compiled with the CPU name and features of the active
profile; ``optimize_module: true`` first runs LLVM's whole-module pipeline
(cross-file inlining, at a cost of about a second per build of the kernel). Functions
keep the ``target-cpu``/``target-features`` clang gave them, so the kernel
core stays i686 while the tuned variants use the profile's instructions.
"""

from __future__ import annotations

from fluidbuild.atomic import write_bytes
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, PyAction, Target, TargetResult, TaskSpec
from fluidbuild.schema import Bool, Field, Int, Map, Str


@hookimpl
def fluidbuild_options_schema() -> Map:
    return Map({
        "triple": Field(Str(pattern=r"[a-z0-9_]+(-[a-z0-9_.]+){2,3}"), default="i386-unknown-none-elf"),
        "opt": Field(Int(minimum=0, maximum=3), default=2),
        "cpu": Field(Str(choices=("profile", "generic")), default="profile"),
        "reloc": Field(Str(choices=("static", "pic")), default="static"),
        "optimize_module": Field(Bool(), default=False, doc="run the O-level pipeline on the module"),
    })


@hookimpl
def fluidbuild_target_tasks(target: Target, inputs: list[str], ctx: BuildContext) -> TargetResult:
    modules = [*target.sources, *(i for i in inputs if i.endswith(".bc"))]
    if len(modules) != 1:
        raise FluidError(f"target '{target.name}': codegen takes exactly one bitcode module, "
                         f"got {len(modules)} (add an llvm_link target)")
    opts = target.options
    if opts["cpu"] == "profile":
        cpu, features = ctx.cpu_profile["llvm_cpu"], ctx.cpu_profile["llvm_features"]
    else:
        cpu, features = "i686", ""
    out = ctx.out(f"{target.name}.o")
    params = {"triple": opts["triple"], "cpu": cpu, "features": features, "opt": opts["opt"],
              "reloc": opts["reloc"], "optimize_module": opts["optimize_module"]}
    task = TaskSpec(
        name=target.name,
        doc=target.doc or f"compile {modules[0]} to {out} for {cpu}",
        actions=[PyAction(compile_module, {"module_path": modules[0], "output": out, **params})],
        file_dep=modules,
        targets=[out],
        config=params,
    )
    return TargetResult([task], [out])


def compile_module(module_path: str, output: str, triple: str, cpu: str, features: str,
                   opt: int, reloc: str, optimize_module: bool) -> None:
    """Emit an object file for ``module_path`` (optionally optimising it first)."""
    import llvmlite.binding as llvm

    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    llvm.initialize_native_asmparser()  # x86: the kernel's inline assembly is parsed at emit time
    with open(module_path, "rb") as f:
        module = llvm.parse_bitcode(f.read())
    target = llvm.Target.from_triple(triple)
    machine = target.create_target_machine(cpu=cpu, features=features, opt=opt, reloc=reloc,
                                           codemodel="small")
    module.triple = triple
    module.data_layout = str(machine.target_data)
    if optimize_module and opt:
        tuning = llvm.create_pipeline_tuning_options(speed_level=opt)
        builder = llvm.create_pass_builder(machine, tuning)
        builder.getModulePassManager().run(module, builder)
    module.verify()
    write_bytes(output, machine.emit_object(module))
