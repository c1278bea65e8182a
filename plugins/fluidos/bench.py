"""bench: the whole-project ``doit bench`` task and its ``bench`` manifest section.

``doit bench`` builds the native runners (targets of the ``native`` plugin,
one for x86_64 and one for i386) and the image, then runs every benchmark
natively, on the host references and in the kernel, and writes
``<build_dir>/bench/results.{json,md,png}`` (see
:mod:`fluidbench.suite`). The section is optional::

    bench:
      extra: [{name: gemm_tile, size: 512}]   # also measured natively and on the host
      seconds: 0.3                            # timed run() calls per native figure fill this long
      host_repeat: 10                         # calls per host reference (best one counts)
"""

from __future__ import annotations

from typing import Any

from fluidbench.native import NATIVE_PLUGIN, native_targets
from fluidbench.qemu import DEFAULT_PROFILE, RunProfile
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, Manifest, PyAction, TaskSpec
from fluidbuild.schema import Field, Float, Int, List, Map, Schema, Str
from fluidbuild_plugins.fluidos import disk

ARCHES = ("x86_64", "i386")  # the runners the suite needs (options.arch of `native` targets)
SECTION = Map({
    "extra": Field(List(Map({
        "name": Field(Str(pattern=r"[a-z][a-z0-9_]*"), required=True),
        "size": Field(Int(minimum=1), required=True),
    })), default=[], doc="sizes run natively and on the host only (not in the kernel)"),
    "seconds": Field(Float(minimum=0.001, maximum=600), default=0.3,
                     doc="time the timed run() calls of one native figure fill"),
    "host_repeat": Field(Int(minimum=1, maximum=10_000), default=10,
                         doc="timed calls of each host reference; the fastest counts"),
})


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"bench": SECTION}


@hookimpl
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext, outputs: dict[str, list[str]]) -> list[TaskSpec]:
    settings = manifest.sections["bench"]
    runners = {arch: outputs[name][0] for arch, name in native_targets(manifest).items()
               if outputs.get(name)}
    why = _unrunnable(manifest, settings, runners)
    if why:  # a task that fails when run: `doit image` and the rest keep working
        return [TaskSpec("bench", f"(cannot run: {why})", [PyAction(_unavailable, {"why": why})],
                         always=True)]
    image = disk.image_path(manifest)
    profile = RunProfile.from_section(DEFAULT_PROFILE, manifest.sections["run"][DEFAULT_PROFILE],
                                      manifest.build_dir)
    kwargs = {"benchmarks": manifest.sections["benchmarks"], "cpu_profile": ctx.cpu_profile,
              "profile": profile, "qemu_command": ctx.qemu_command, "image": image,
              "runners": {arch: runners[arch] for arch in ARCHES}, "out_dir": ctx.out("bench"),
              "settings": settings}
    return [TaskSpec(
        name="bench",
        doc=f"run the benchmarks natively, in the kernel (QEMU) and on host references; "
            f"write {ctx.out('bench')}/results.{{json,md,png}}",
        actions=[PyAction(_bench, kwargs)],
        file_dep=[*kwargs["runners"].values(), image],
        always=True,
        verbosity=2,
    )]


def _unrunnable(manifest: Manifest, settings: dict[str, Any], runners: dict[str, str]) -> str | None:
    """Why the suite cannot run with this manifest, or None."""
    names = {b["name"] for b in manifest.sections.get("benchmarks") or []}
    missing = [arch for arch in ARCHES if arch not in runners]
    unknown = sorted({e["name"] for e in settings["extra"]} - names)
    if missing:
        return f"no target of plugin '{NATIVE_PLUGIN}' with arch {', '.join(missing)}"
    if not names:
        return "the manifest lists no benchmarks"
    if manifest.sections.get("image") is None or not manifest.sections.get("run"):
        return "the manifest has no image or run section to boot"
    if unknown:
        return (f"bench.extra names {', '.join(unknown)}, not in the manifest's benchmarks "
                "(the native runners contain only those)")
    return None


def _bench(**kwargs: Any) -> None:
    from fluidbench import suite  # numpy and friends only when benchmarking

    suite.run(**kwargs)


def _unavailable(why: str) -> None:
    raise FluidError(f"doit bench cannot run: {why}")
