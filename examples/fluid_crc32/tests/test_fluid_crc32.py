"""fluid_crc32's declarations through fluidbuild's testing kit (no compiler runs), and its reference.

Run from this folder with ``pytest`` (the package's ``src`` is on the path,
installed or not); the Fluid OS project's own tests also build and boot it.
"""

from __future__ import annotations

import os
import random
import re
import zlib
from pathlib import Path

import fluid_crc32
import pytest
import yaml

from fluidbuild.errors import ManifestError
from fluidbuild.testing import PluginTest

BUILTIN = "src/bench/fft_1d.c"  # one project benchmark beside the package's
RUNTIME = ["src/bench/native/start.c"]


def kit(root: Path, benchmarks: list[dict]) -> PluginTest:
    """A project whose registry, package-source and native-runner targets see ``benchmarks``."""
    manifest = {
        "targets": {
            "bench_registry": {"plugin": "bench_registry", "sources": [BUILTIN]},
            "bench_sources": {"plugin": "bench_sources"},
            "bench_generic_ir": {"plugin": "clang_ir", "sources": [BUILTIN], "deps": ["bench_sources"],
                                 "options": {"variant": "generic", "include_dirs": ["src/bench"]}},
            "native_x86_64": {"plugin": "native", "sources": [BUILTIN], "deps": ["bench_registry"],
                              "options": {"arch": "x86_64", "runtime": RUNTIME}},
        },
        "benchmarks": benchmarks,
    }
    return PluginTest(root, yaml.safe_dump(manifest, sort_keys=False), plugins={"fluid_crc32": fluid_crc32},
                      files=dict.fromkeys([BUILTIN, *RUNTIME], ""))


def test_the_benchmark_ships_its_source_and_header() -> None:
    [bench] = fluid_crc32.fluidbuild_benchmarks()
    assert bench.name == "crc32" and os.path.isabs(bench.source) and os.path.isfile(bench.source)
    assert os.path.isfile(os.path.join(os.path.dirname(bench.source), "crc32_poly.h"))
    source = Path(bench.source).read_text()
    [limit] = re.findall(r"^#define BENCH_MAX_SIZE ([0-9]+)$", source, re.M)
    assert bench.default_size <= int(limit)
    assert "BENCH_SYMBOL(crc32)" in source and "#include \"crc32_poly.h\"" in source


def test_one_manifest_line_reaches_the_registry_the_kernel_and_the_runner(tmp_path: Path) -> None:
    project = kit(tmp_path, [{"name": "fft_1d", "iterations": 1}, {"name": "crc32", "iterations": 2}])
    [registry] = project.target_tasks("bench_registry").tasks
    crc32 = {"name": "crc32", "size": fluid_crc32.DEFAULT_SIZE, "iterations": 2}
    assert registry.config["entries"][1] == crc32, "the package's default size"
    assert project.target_tasks("bench_sources").outputs == [fluid_crc32.SOURCE]
    kernel = {t.name: t for t in project.target_tasks("bench_generic_ir").tasks}
    compiled = kernel["bench_generic_ir:ext/fluid_crc32/crc32.c"]
    assert compiled.file_dep[0] == fluid_crc32.SOURCE and compiled.actions[0].argv[-1] == fluid_crc32.SOURCE
    runner = {t.name for t in project.target_tasks("native_x86_64").tasks}
    assert {"native_x86_64:generic:ext/fluid_crc32/crc32.c", "native_x86_64:tuned:ext/fluid_crc32/crc32.c",
            "native_x86_64:generic:src/bench/fft_1d.c"} <= runner
    assert project.plugins.used >= {"fluid_crc32"}, "listing its benchmark uses the plugin"


def test_a_size_above_the_limit_is_refused(tmp_path: Path) -> None:
    project = kit(tmp_path, [{"name": "crc32", "size": 2**31, "iterations": 1}])
    with pytest.raises(ManifestError, match="crc32 size 2147483648 is above its limit 1073741824"):
        project.target_tasks("bench_registry")


def test_the_reference_is_the_crc32_of_zlib() -> None:
    message = random.Random(7).randbytes(1000)
    assert fluid_crc32.reference(message, 1000) == zlib.crc32(message)
    assert fluid_crc32.reference(b"123456789", 9) == 0xCBF43926  # the CRC-32 check value
    assert fluid_crc32.reference(message, 10) == zlib.crc32(message[:10])
