"""The ``native`` plugin's task declarations, with a fake toolchain and manifest."""

from __future__ import annotations

import pytest

from fluidbuild.errors import FluidError
from fluidbuild.model import BuildContext, Command, Manifest, Target, TaskSpec, Tool
from fluidbuild_plugins.fluidos import native

TOOLS = {name: Tool(name, f"/opt/fake/{name}", f"{name} version 19.1.7") for name in ("clang", "linker")}
PROFILE = {"mode": "host", "clang_flags": ["-march=haswell"], "tag": "AVX2"}
SOURCES = ("src/bench/fft_1d.c", "src/bench/matrix_mul.c", "src/bench/sha256_stream.c")
RUNTIME = ["src/bench/native/start.c", "src/kernel/klib.c"]
FLAGS = ("-std=c11", "-ffreestanding")
REGISTRY = "build/gen/bench_registry.c"


def fake_ctx(benchmarks: list[str], profile: dict | None = None) -> BuildContext:
    sections = {"benchmarks": [{"name": n, "size": None, "iterations": 1} for n in benchmarks]}
    manifest = Manifest("manifest.yaml", "/p", "build", {}, {}, {}, sections)
    return BuildContext("/p", "build", manifest, profile or PROFILE, TOOLS.__getitem__, {})


def declare(arch: str, benchmarks: list[str], profile: dict | None = None) -> dict[str, TaskSpec]:
    options = {"arch": arch, "runtime": RUNTIME, "include_dirs": ["src/kernel", "src/bench"],
               "opt": "O3", "runtime_opt": "O2"}
    target = Target(f"native_{arch}", "native", SOURCES, ("bench_registry",), FLAGS, options)
    result = native.fluidbuild_target_tasks(target, [REGISTRY], fake_ctx(benchmarks, profile))
    tasks = {t.name: t for t in result.tasks}
    assert len(tasks) == len(result.tasks), "task names are unique"
    assert result.outputs == [f"build/native_{arch}/runner"]
    return tasks


def argv(task: TaskSpec) -> list[str]:
    command = task.actions[0]
    assert isinstance(command, Command) and command.outputs == task.targets
    return command.argv


def test_each_manifest_benchmark_compiled_per_variant_then_linked() -> None:
    tasks = declare("x86_64", ["matrix_mul", "fft_1d"])
    assert list(tasks) == [
        "native_x86_64:generic:src/bench/matrix_mul.c", "native_x86_64:tuned:src/bench/matrix_mul.c",
        "native_x86_64:generic:src/bench/fft_1d.c", "native_x86_64:tuned:src/bench/fft_1d.c",
        "native_x86_64:runtime:src/bench/native/start.c", "native_x86_64:runtime:src/kernel/klib.c",
        f"native_x86_64:runtime:{REGISTRY}", "native_x86_64:link",
    ], "sha256_stream is not in the manifest's list, so it is not compiled"
    objects = [t.targets[0] for name, t in tasks.items() if name != "native_x86_64:link"]
    assert objects[0] == "build/native_x86_64/generic/src__bench__matrix_mul.c.o"
    link = tasks["native_x86_64:link"]
    assert argv(link) == ["/opt/fake/linker", "-m", "elf_x86_64", "-static", "-nostdlib", "-e", "_start",
                          *objects, "-o", "build/native_x86_64/runner"]
    assert link.file_dep == objects and link.targets == ["build/native_x86_64/runner"]
    assert link.config == {"argv": argv(link), "tool": TOOLS["linker"].identity()}


def test_compile_commands_depfiles_and_fingerprints() -> None:
    tasks = declare("x86_64", ["matrix_mul"])
    generic = tasks["native_x86_64:generic:src/bench/matrix_mul.c"]
    out = "build/native_x86_64/generic/src__bench__matrix_mul.c.o"
    assert argv(generic) == ["/opt/fake/clang", "--target=x86_64-unknown-linux-gnu", *FLAGS,
                             "-Isrc/kernel", "-Isrc/bench", "-O3", "-march=x86-64",
                             "-DFLUID_VARIANT_SUFFIX=_generic", "-c", "-MD", "-MF", out + ".d", "-o", out,
                             "src/bench/matrix_mul.c"]
    assert generic.depfile == out + ".d" and generic.file_dep == ["src/bench/matrix_mul.c"]
    assert generic.config == {"argv": argv(generic), "tool": TOOLS["clang"].identity()}
    tuned = tasks["native_x86_64:tuned:src/bench/matrix_mul.c"]
    assert "-march=haswell" in argv(tuned) and "-march=x86-64" not in argv(tuned)
    assert "-DFLUID_VARIANT_SUFFIX=_tuned" in argv(tuned)
    assert tuned.config["cpu"] == {"clang_flags": ["-march=haswell"], "tag": "AVX2"}
    runtime = argv(tasks["native_x86_64:runtime:src/kernel/klib.c"])
    assert "-O2" in runtime and "-march=x86-64" in runtime
    assert not any(a.startswith("-DFLUID_VARIANT_SUFFIX") for a in runtime)


def test_i386_uses_the_kernel_triple_and_baseline() -> None:
    tasks = declare("i386", ["sha256_stream"])
    generic = argv(tasks["native_i386:generic:src/bench/sha256_stream.c"])
    assert "--target=i686-unknown-none-elf" in generic
    assert generic[generic.index("-O3") + 1:][:1] == ["-march=i686"]
    assert "-march=haswell" in argv(tasks["native_i386:tuned:src/bench/sha256_stream.c"])
    assert argv(tasks["native_i386:link"])[1:3] == ["-m", "elf_i386"]


def test_generic_profile_tunes_for_the_baseline() -> None:
    """clang rejects the i686 flags of a generic profile for x86-64."""
    profile = {"mode": "generic", "clang_flags": ["-march=i686"], "tag": "generic"}
    tasks = declare("x86_64", ["fft_1d"], profile)
    tuned = argv(tasks["native_x86_64:tuned:src/bench/fft_1d.c"])
    assert "-march=x86-64" in tuned and "-march=i686" not in tuned


def test_benchmark_without_source_is_named() -> None:
    with pytest.raises(FluidError, match="no source for gemm_tile among target 'native_x86_64'"):
        declare("x86_64", ["fft_1d", "gemm_tile"])
