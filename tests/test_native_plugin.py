"""The ``native`` plugin's task declarations, with a fake toolchain (fluidbuild.testing)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fluidbuild.errors import FluidError
from fluidbuild.model import Command, TaskSpec, Tool
from fluidbuild.testing import PluginTest

TOOLS = {name: Tool(name, f"/opt/fake/{name}", f"{name} version 19.1.7") for name in ("clang", "linker")}
PROFILE = {"mode": "host", "clang_flags": ["-march=haswell"], "tag": "AVX2"}
SOURCES = ("src/bench/fft_1d.c", "src/bench/matrix_mul.c", "src/bench/sha256_stream.c")
RUNTIME = ["src/bench/native/start.c", "src/runtime/klib.c"]
FLAGS = ("-std=c11", "-ffreestanding")
REGISTRY = "build/gen/bench_registry.c"  # the output of the bench_registry dependency


def declare(root: Path, arch: str, benchmarks: list[str], profile: dict | None = None) -> dict[str, TaskSpec]:
    """The tasks of target ``native_<arch>`` in a manifest listing ``benchmarks``; its input is
    the registry its ``bench_registry`` dependency declares (from every benchmark source)."""
    manifest = {
        "targets": {
            "bench_registry": {"plugin": "bench_registry", "sources": [*SOURCES, "src/bench/gemm_tile.c"]},
            f"native_{arch}": {"plugin": "native", "sources": list(SOURCES), "deps": ["bench_registry"],
                               "flags": list(FLAGS),
                               "options": {"arch": arch, "runtime": RUNTIME,
                                           "include_dirs": ["src/runtime", "src/bench"]}},
        },
        "benchmarks": [{"name": n, "iterations": 1} for n in benchmarks],
    }
    kit = PluginTest(root, yaml.safe_dump(manifest, sort_keys=False), tools=TOOLS,
                     cpu_profile=profile or PROFILE,
                     files=dict.fromkeys([*SOURCES, "src/bench/gemm_tile.c", *RUNTIME], ""))
    result = kit.target_tasks(f"native_{arch}")
    assert kit.outputs["bench_registry"] == [REGISTRY]
    tasks = {t.name: t for t in result.tasks}
    assert len(tasks) == len(result.tasks), "task names are unique"
    assert result.outputs == [f"build/native_{arch}/runner"]
    return tasks


def argv(task: TaskSpec) -> list[str]:
    command = task.actions[0]
    assert isinstance(command, Command) and command.outputs == task.targets
    return command.argv


def test_each_manifest_benchmark_compiled_per_variant_then_linked(tmp_path: Path) -> None:
    tasks = declare(tmp_path, "x86_64", ["matrix_mul", "fft_1d"])
    assert list(tasks) == [
        "native_x86_64:generic:src/bench/matrix_mul.c", "native_x86_64:tuned:src/bench/matrix_mul.c",
        "native_x86_64:generic:src/bench/fft_1d.c", "native_x86_64:tuned:src/bench/fft_1d.c",
        "native_x86_64:runtime:src/bench/native/start.c", "native_x86_64:runtime:src/runtime/klib.c",
        f"native_x86_64:runtime:{REGISTRY}", "native_x86_64:link",
    ], "sha256_stream is not in the manifest's list, so it is not compiled"
    objects = [t.targets[0] for name, t in tasks.items() if name != "native_x86_64:link"]
    assert objects[0] == "build/native_x86_64/generic/src__bench__matrix_mul.c.o"
    link = tasks["native_x86_64:link"]
    assert argv(link) == ["/opt/fake/linker", "-m", "elf_x86_64", "-static", "-nostdlib", "-e", "_start",
                          *objects, "-o", "build/native_x86_64/runner"]
    assert link.file_dep == objects and link.targets == ["build/native_x86_64/runner"]
    assert link.config == {"argv": argv(link), "tool": TOOLS["linker"].identity()}


def test_compile_commands_depfiles_and_fingerprints(tmp_path: Path) -> None:
    tasks = declare(tmp_path, "x86_64", ["matrix_mul"])
    generic = tasks["native_x86_64:generic:src/bench/matrix_mul.c"]
    out = "build/native_x86_64/generic/src__bench__matrix_mul.c.o"
    assert argv(generic) == ["/opt/fake/clang", "--target=x86_64-unknown-linux-gnu", *FLAGS,
                             "-Isrc/runtime", "-Isrc/bench", "-O3", "-march=x86-64",
                             "-DFLUID_VARIANT_SUFFIX=_generic", "-c", "-MD", "-MF", out + ".d", "-o", out,
                             "src/bench/matrix_mul.c"]
    assert generic.depfile == out + ".d" and generic.file_dep == ["src/bench/matrix_mul.c"]
    config = dict(generic.config)
    assert re.fullmatch("[0-9a-f]{64}", config.pop("include_search")), "what its include search sees"
    assert config == {"argv": argv(generic), "tool": TOOLS["clang"].identity()}
    tuned = tasks["native_x86_64:tuned:src/bench/matrix_mul.c"]
    assert "-march=haswell" in argv(tuned) and "-march=x86-64" not in argv(tuned)
    assert "-DFLUID_VARIANT_SUFFIX=_tuned" in argv(tuned)
    assert tuned.config["cpu"] == {"clang_flags": ["-march=haswell"], "tag": "AVX2"}
    runtime = argv(tasks["native_x86_64:runtime:src/runtime/klib.c"])
    assert "-O2" in runtime and "-march=x86-64" in runtime
    assert not any(a.startswith("-DFLUID_VARIANT_SUFFIX") for a in runtime)


def test_i386_uses_the_kernel_triple_and_baseline(tmp_path: Path) -> None:
    tasks = declare(tmp_path, "i386", ["sha256_stream"])
    generic = argv(tasks["native_i386:generic:src/bench/sha256_stream.c"])
    assert "--target=i686-unknown-none-elf" in generic
    assert generic[generic.index("-O3") + 1:][:1] == ["-march=i686"]
    assert "-march=haswell" in argv(tasks["native_i386:tuned:src/bench/sha256_stream.c"])
    assert argv(tasks["native_i386:link"])[1:3] == ["-m", "elf_i386"]


def test_generic_profile_tunes_for_the_baseline(tmp_path: Path) -> None:
    """clang rejects the i686 flags of a generic profile for x86-64."""
    profile = {"mode": "generic", "clang_flags": ["-march=i686"], "tag": "generic"}
    tasks = declare(tmp_path, "x86_64", ["fft_1d"], profile)
    tuned = argv(tasks["native_x86_64:tuned:src/bench/fft_1d.c"])
    assert "-march=x86-64" in tuned and "-march=i686" not in tuned


def test_benchmark_without_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(FluidError, match="no source for gemm_tile among target 'native_x86_64'"):
        declare(tmp_path, "x86_64", ["fft_1d", "gemm_tile"])
