"""bench: the whole-project ``doit bench`` task and its ``bench`` manifest section.

``doit bench`` builds the native runners (one target for x86_64 and one for
i386: those ``bench.runners`` names, else the targets of the ``native``
plugin) and the disk the ``default`` run profile boots, then runs every
benchmark natively, on the host references and in the kernel, and writes
``<build_dir>/bench/results.{json,md,png}`` (see :mod:`fluidbench.suite`). A
benchmark a package contributes is measured against its own host reference,
which also checks the native runner's checksum. The section is optional::

    bench:
      extra: [{name: gemm_tile, size: 512}]   # also measured natively and on the host
      seconds: 0.3                            # timed run() calls per native figure fill this long
      host_repeat: 10                         # calls per host reference (best one counts)
      runners: {x86_64: native_x86_64, i386: native_i386}   # default: the native plugin's targets
"""

from __future__ import annotations

from typing import Any

from fluidbench.native import NATIVE_PLUGIN, native_targets
from fluidbench.qemu import DEFAULT_PROFILE, RunProfile
from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import BuildContext, Manifest, PyAction, TaskSpec
from fluidbuild.schema import Field, Float, Int, List, Map, MapOf, Schema, Str, TargetRef
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
    "runners": Field(MapOf(TargetRef(), key_pattern="|".join(ARCHES)), default={},
                     doc="the runner target of each arch (default: the targets of plugin 'native')"),
})


@hookimpl
def fluidbuild_manifest_sections() -> dict[str, Schema]:
    return {"bench": SECTION}


@hookimpl
def fluidbuild_tasks(manifest: Manifest, ctx: BuildContext, outputs: dict[str, list[str]]) -> list[TaskSpec]:
    settings = manifest.sections["bench"]
    targets = settings["runners"] or native_targets(manifest)
    runners = {arch: outputs[name][0] for arch, name in targets.items() if outputs.get(name)}
    why = _unrunnable(manifest, settings, runners)
    disks = None
    if not why:
        profile = RunProfile.from_section(DEFAULT_PROFILE, manifest.sections["run"][DEFAULT_PROFILE],
                                          manifest.build_dir)
        disks = ctx.run_inputs(profile, outputs)  # what the profile's plugin boots, the disk first
        if disks is None and manifest.sections.get("image") is not None:
            disks = [disk.image_path(manifest)]
        why = None if disks else "the manifest has no image to boot"
    if why or not disks:  # a task that fails when run: `doit image` and the rest keep working
        return [TaskSpec("bench", f"(cannot run: {why})", [PyAction(_unavailable, {"why": why})],
                         always=True)]
    listed = {b["name"] for b in manifest.sections["benchmarks"]}
    kwargs = {"benchmarks": manifest.sections["benchmarks"], "cpu_profile": ctx.cpu_profile,
              "profile": profile, "qemu_command": ctx.qemu_command, "image": disks[0],
              "runners": {arch: runners[arch] for arch in ARCHES}, "out_dir": ctx.out("bench"),
              "settings": settings, "fatal_codes": ctx.fatal_codes,
              "references": {name: b for name, b in ctx.benchmarks.items() if name in listed}}
    return [TaskSpec(
        name="bench",
        doc=f"run the benchmarks natively, in the kernel (QEMU) and on host references; "
            f"write {ctx.out('bench')}/results.{{json,md,png}}",
        actions=[PyAction(_bench, kwargs)],
        file_dep=[*kwargs["runners"].values(), *disks],
        always=True,
        verbosity=2,
    )]


def _unrunnable(manifest: Manifest, settings: dict[str, Any], runners: dict[str, str]) -> str | None:
    """Why the suite cannot run with this manifest, or None."""
    names = {b["name"] for b in manifest.sections.get("benchmarks") or []}
    missing = [arch for arch in ARCHES if arch not in runners]
    unknown = sorted({e["name"] for e in settings["extra"]} - names)
    if missing:
        return (f"no target of plugin '{NATIVE_PLUGIN}' with arch {', '.join(missing)} (nor one "
                "bench.runners names)")
    if not names:
        return "the manifest lists no benchmarks"
    if not (manifest.sections.get("run") or {}).get(DEFAULT_PROFILE):
        return "the manifest has no run section to boot"
    if unknown:
        return (f"bench.extra names {', '.join(unknown)}, not in the manifest's benchmarks "
                "(the native runners contain only those)")
    return None


def _bench(**kwargs: Any) -> None:
    from fluidbench import suite  # numpy and friends only when benchmarking

    suite.run(**kwargs)


def _unavailable(why: str) -> None:
    raise FluidError(f"doit bench cannot run: {why}")
