"""Several variants per benchmark, chosen by measurement at boot.

Unit tests: the ``variants`` plugin (which levels a CPU profile allows, one
compile per level, the table, the check of each level against clang), the
bench report's handling of variants the native runners lack, and the table
of scripts/bench_variants.py. Boot tests (real build, QEMU TCG): the default
image under ``-cpu max`` and ``-cpu qemu32`` chooses differently with
correct checksums, and a test build whose avx2 variant is slowed and whose
sse2 variant gives a wrong checksum chooses neither.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from bootkit import Build, boot_image, boot_line, build_image, exit_line, fresh_copy, set_manifest
from conftest import ROOT, doit

from fluidbench import lines, native, report, suite
from fluidbench.qemu import BootResult
from fluidbuild.errors import FluidError, ManifestError
from fluidbuild.testing import PluginTest
from fluidbuild_plugins.fluidos import variants

HASWELL = ("sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "fma", "f16c", "movbe",
           "aes", "pclmul", "avx2", "bmi1", "bmi2", "lzcnt")
V3 = ["sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "fma", "f16c", "movbe", "avx2",
      "bmi1", "bmi2", "lzcnt"]
PROFILE = {"mode": "pinned", "tag": "AVX2", "clang_flags": ["-march=haswell"],
           "feature_bits": variants.mask_of(HASWELL)}
LEVELS = [
    {"name": "sse2", "flags": ["-march=i686", "-msse2"], "requires": ["sse", "sse2"], "profile": False},
    {"name": "generic", "flags": ["-march=i686"], "requires": [], "profile": False},
    {"name": "avx512", "flags": ["-march=x86-64-v3", "-mavx512f"], "requires": [*V3, "avx512f"],
     "profile": False},
    {"name": "tuned", "flags": [], "requires": [], "profile": True},
]


def kit(root: Path, levels: list[dict[str, Any]] | None = None, profile: dict[str, Any] | None = None,
        benchmarks: tuple[str, ...] = ("fft_1d",)) -> PluginTest:
    manifest = {
        "targets": {"b": {"plugin": "variants", "sources": ["src/bench/fft_1d.c", "src/bench/gemm_tile.c"],
                          "flags": ["-Wall"], "options": {"opt": "O3", "include_dirs": ["src/bench"]}}},
        "variants": [{k: v for k, v in lv.items() if v or k == "name"} for lv in (levels or LEVELS)],
        "benchmarks": [{"name": name} for name in benchmarks],
    }
    return PluginTest(root, yaml.safe_dump(manifest, sort_keys=False), plugins={"variants": variants},
                      cpu_profile=profile or PROFILE,
                      files={"src/bench/fft_1d.c": "", "src/bench/gemm_tile.c": ""})


# -- the plugin ---------------------------------------------------------------------------------


def test_the_profile_decides_which_levels_exist() -> None:
    kept, dropped = variants.plan(LEVELS, PROFILE)
    assert [lv.name for lv in kept] == ["generic", "sse2", "tuned"], "generic first, then manifest order"
    assert dropped == {"avx512": ["avx512f"]}
    tuned = kept[-1]
    assert tuned.profile and tuned.flags == ("-march=haswell",) and tuned.features == HASWELL
    assert kept[1].mask == 0x3 and kept[0].mask == 0
    avx512_host = {**PROFILE, "feature_bits": variants.mask_of([*HASWELL, "avx512f"])}
    assert [lv.name for lv in variants.plan(LEVELS, avx512_host)[0]] == ["generic", "sse2", "avx512", "tuned"]


def test_one_compile_per_level_and_the_table(tmp_path: Path) -> None:
    result = kit(tmp_path).target_tasks("b", [])
    names = [t.name for t in result.tasks]
    assert names == ["b:generic:src/bench/fft_1d.c", "b:generic:src/bench/gemm_tile.c",
                     "b:sse2:src/bench/fft_1d.c", "b:sse2:src/bench/gemm_tile.c",
                     "b:tuned:src/bench/fft_1d.c", "b:tuned:src/bench/gemm_tile.c", "b:table"]
    tasks = {t.name: t for t in result.tasks}
    sse2 = tasks["b:sse2:src/bench/fft_1d.c"]
    argv = sse2.actions[0].argv
    assert argv[argv.index("-Wall"):argv.index("-emit-llvm")] == [
        "-Wall", "-march=i686", "-msse2", "-DFLUID_VARIANT_SUFFIX=_sse2"]
    assert sse2.targets == ["build/b/sse2/src__bench__fft_1d.c.bc"] and "-O3" in argv
    assert "-march=haswell" in tasks["b:tuned:src/bench/gemm_tile.c"].actions[0].argv
    table = tasks["b:table"]
    assert table.targets == ["build/gen/b.c"] and result.outputs[-1] == "build/gen/b.c"
    assert table.config["benchmarks"] == ["fft_1d"], "only the manifest's benchmarks, in its order"
    assert [lv["name"] for lv in table.config["levels"]] == ["generic", "sse2", "tuned"]
    assert table.config["dropped"] == {"avx512": ["avx512f"]}
    assert "dropped avx512" in table.doc


def test_generic_and_tuned_levels_are_required(tmp_path: Path) -> None:
    with pytest.raises(FluidError, match="need a 'generic' level"):
        kit(tmp_path / "a", [lv for lv in LEVELS if lv["name"] != "generic"]).target_tasks("b", [])
    with pytest.raises(FluidError, match="need a 'tuned' level"):
        kit(tmp_path / "b", [lv for lv in LEVELS if lv["name"] != "tuned"]).target_tasks("b", [])


@pytest.mark.parametrize(("level", "message"), [
    ({"name": "generic", "flags": ["-march=i686"]}, "variant 'generic' is declared twice"),
    ({"name": "p", "profile": True, "flags": ["-O2"]}, "give it neither 'flags' nor 'requires'"),
    ({"name": "x"}, "variant 'x' needs 'flags'"),
    ({"name": "table", "flags": ["-O2"]}, "names the variant table's task"),
    ({"name": "x", "flags": ["-O2"], "requires": ["avx3"]}, "expected one of sse, sse2"),
])
def test_bad_declarations_name_the_manifest_key(tmp_path: Path, level: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message) as err:
        kit(tmp_path, [*LEVELS, level])
    assert "variants" in str(err.value)


def test_a_level_must_declare_exactly_what_its_flags_enable() -> None:
    level = {"name": "sse2", "flags": ["-march=i686", "-msse2"], "features": ["sse", "sse2"]}
    variants.check_level(level, ("sse", "sse2"))
    with pytest.raises(FluidError, match=r"also enable sse3, which 'requires' does not list"):
        variants.check_level(level, ("sse", "sse2", "sse3"))
    with pytest.raises(FluidError, match=r"'requires' lists sse2, which its flags do not enable"):
        variants.check_level(level, ("sse",))
    assert variants.features_of({"__SSE__", "__AVX2__", "__MMX__"}) == ("sse", "avx2")


def test_table_source() -> None:
    levels = [{"name": "generic", "flags": ["-march=i686"], "features": [], "profile": False},
              {"name": "avx2", "flags": ["-march=x86-64-v3"], "features": V3, "profile": False}]
    text = variants.render(levels, ["fft_1d"])
    assert '{"generic", 0x00000000u},' in text and '{"avx2", 0x0008e7ffu},' in text
    assert "static const struct bench_desc *const fft_1d_variants[] = {&bench_fft_1d_generic, " \
           "&bench_fft_1d_avx2};" in text
    assert "variant_level_count = 2;" in text and "variant_row_count = 1;" in text
    assert "{0, 0}," in variants.render(levels, []), "C has no empty arrays"


def test_the_engine_table_from_the_same_levels(tmp_path: Path) -> None:
    """``table: infer``: forward.c once per kept level, and the table of infer_kernels_<level>."""
    test = kit(tmp_path)
    test.manifest.targets["b"].options["table"] = "infer"
    result = test.target_tasks("b", [])
    table = result.tasks[-1]
    assert [t.name for t in result.tasks][::2] == [
        "b:generic:src/bench/fft_1d.c", "b:sse2:src/bench/fft_1d.c", "b:tuned:src/bench/fft_1d.c", "b:table"]
    assert table.config["benchmarks"] == [] and table.config["table"] == "infer"
    assert "the inference engine x 3 variants" in table.doc
    levels = [{"name": "generic", "flags": ["-march=i686"], "features": [], "profile": False},
              {"name": "avx2", "flags": ["-march=x86-64-v3"], "features": V3, "profile": False}]
    text = variants.render_infer(levels)
    assert '#include "infer_variants.h"' in text
    assert "extern const struct infer_kernels infer_kernels_avx2;" in text
    assert '{"generic", 0x00000000u, &infer_kernels_generic},' in text
    assert '{"avx2", 0x0008e7ffu, &infer_kernels_avx2},' in text and "infer_variant_count = 2;" in text


@pytest.mark.integration  # asks the real clang
def test_the_manifests_levels_match_clang() -> None:
    clang = shutil.which("clang-19") or shutil.which("clang")
    assert clang, "clang is part of the toolchain the suite installs"
    declared = yaml.safe_load((ROOT / "manifest.yaml").read_text())["variants"]
    for level in declared:
        if not level.get("profile"):
            enabled = variants.enabled_features(clang, variants.KERNEL_TRIPLE, level["flags"])
            variants.check_level({**level, "features": level.get("requires", [])}, enabled)


# -- doit bench and the script ------------------------------------------------------------------


def test_bench_compares_any_kernel_variant_with_native_generic() -> None:
    def entry(env: str, variant: str, **extra: Any) -> dict[str, Any]:
        return {"env": env, "name": "fft_1d", "size": 256, "variant": variant, "unit": "point",
                "throughput": 2e6, "checksum": "0x1", **extra}

    results = [entry("native", v, arch=a) for a in ("x86_64", "i386") for v in ("generic", "tuned")]
    results.append(entry("kernel", "avx2", throughput=1e6))
    assert suite._checks(results) == [{"name": "fft_1d", "size": 256, "variant": "avx2", "kernel": "0x1",
                                       "native_i386": "0x1", "ok": True}]
    row = report._row("fft_1d", 256, results)
    assert "1 Mpoint/s (avx2) | 0.5x* |" in row, row


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("bench_variants", ROOT / "scripts/bench_variants.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_variants_table() -> None:
    script = load_script()

    def image(rates: dict[str, tuple[float, str]]) -> dict[str, Any]:
        return {"bench": {name: {"rate": rate, "variant": ran, "unit": "flop"}
                          for name, (rate, ran) in rates.items()}}

    results = {
        "measured": image({"a": (300.0, "avx2"), "b": (100.0, "generic")}),
        "generic": image({"a": (100.0, "generic"), "b": (100.0, "generic")}),
        "avx2": image({"a": (310.0, "avx2"), "b": (50.0, "avx2")}),
        "tuned": image({"a": (100.0, "generic"), "b": (100.0, "generic")}),  # not eligible
    }
    text, summary = script.table(results, ["generic", "avx2", "tuned"], "TCG")
    assert "| a | 300 flop/s (avx2) | 100 flop/s (generic) | 3.00x | 100 flop/s | 310 flop/s | " \
           "n/a (generic ran) | avx2 | 0.968 | 1.000 |" in text
    assert summary["geomean"] == pytest.approx(3 ** 0.5)
    assert summary["min_share"] == pytest.approx(300 / 310) and summary["goal_within"]
    assert summary["min_pick"] == 1.0, "b: generic chosen, and generic alone is b's best"


# -- boots ---------------------------------------------------------------------------------------

QEMU32_ELIGIBLE = ["generic", "sse2"]  # qemu32: SSE, SSE2, SSE3, no AVX


def bench_lines(result: BootResult) -> dict[str, dict[str, Any]]:
    assert result.ok and exit_line(result) == {"status": "ok"}, f"{result.reason()}\n{result.serial}"
    found = {line["name"]: line for line in result.lines("FLUID-BENCH")}
    assert found, result.serial
    for line in found.values():
        assert lines.line_errors("FLUID-BENCH", line) == [], line
    return found


@pytest.fixture(scope="module")
def cpu_boots(built_tree: Path) -> dict[str, BootResult]:
    """The default image booted under -cpu max and -cpu qemu32."""
    return {cpu: boot_image(built_tree / "build/fluid.img", cpu=cpu) for cpu in ("max", "qemu32")}


@pytest.fixture(scope="module")
def native_sums(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], str]:
    """The native i386 runner's generic checksum of every manifest benchmark at its size."""
    tree = tmp_path_factory.mktemp("native") / "fluid"
    shutil.copytree(built_tree, tree, symlinks=True)
    (tree / "build/.fluidbuild/lock").unlink(missing_ok=True)
    doit(tree, "native_i386")
    runner = tree / native.runner_path("build", "native_i386")
    benchmarks = yaml.safe_load((tree / "manifest.yaml").read_text())["benchmarks"]
    return {(b["name"], b["size"]): native.run(runner, b["name"], "generic", b["size"], 1)["checksum"]
            for b in benchmarks}


@pytest.mark.boot
def test_max_and_qemu32_choose_differently_with_correct_checksums(
        cpu_boots: dict[str, BootResult], native_sums: dict[tuple[str, int], str]) -> None:
    chosen, eligible = {}, {}
    for cpu, result in cpu_boots.items():
        boot = boot_line(result)
        assert boot["variant"] == "measured", boot
        eligible[cpu] = boot["eligible"]
        found = bench_lines(result)
        for name, line in found.items():
            assert line["checksum"] == native_sums[(name, line["size"])], (
                f"-cpu {cpu}: {name} ran {line['variant']} and gave {line['checksum']}, the native i386 "
                f"generic run {native_sums[(name, line['size'])]}")
        chosen[cpu] = {name: line["variant"] for name, line in found.items()}
    assert eligible["qemu32"] == QEMU32_ELIGIBLE
    assert eligible["max"][:3] == ["generic", "sse2", "avx2"] and "tuned" not in eligible["max"], (
        "max has AVX2 and FMA, not AVX-512 or SHA (the host profile's tuned code needs them)")
    assert set(chosen["qemu32"].values()) <= set(QEMU32_ELIGIBLE)
    assert chosen["max"] != chosen["qemu32"], chosen
    assert "avx2" in chosen["max"].values(), (
        f"under -cpu max AVX2 code is measured fastest for some benchmarks (matrix_mul, fft_1d, "
        f"physics_step: 1.1x to 1.2x sse2 at their sizes, 3x to 10x generic): {chosen['max']}")


@pytest.mark.boot
def test_each_benchmark_runs_its_fastest_candidate(cpu_boots: dict[str, BootResult]) -> None:
    for cpu, result in cpu_boots.items():
        eligible = boot_line(result)["eligible"]
        total_us = 0
        for name, line in bench_lines(result).items():
            candidates = line["candidates"]
            assert [c["variant"] for c in candidates] == eligible, (cpu, name, candidates)
            assert not any("dropped" in c for c in candidates), (cpu, name, candidates)
            fastest = min(candidates, key=lambda c: c["cycles"])
            assert line["variant"] == fastest["variant"] and line["chosen_by"] == "measured", (cpu, line)
            assert 1 <= line["trial_size"] <= line["size"]
            total_us += line["select_us"]
        # About 0.3 s here; guest time under TCG includes what the host does meanwhile.
        assert total_us < 2_000_000, f"-cpu {cpu}: the selection took {total_us} us of guest time"
        assert f"select {'matrix_mul':<14}" in result.serial, "one human line per selection"


@pytest.fixture(scope="module")
def slowed_build(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """avx2 trial runs 31 times as long, sse2's trial checksum altered."""
    tree = fresh_copy(built_tree, tmp_path_factory.mktemp("slowed"))
    set_manifest(tree, ("targets", "kernel_ir", "options", "defines"),
                 {"FLUID_TEST_SLOW_VARIANT": "avx2", "FLUID_TEST_BAD_VARIANT": "sse2"})
    return build_image(tree, tree.parent / "image")


@pytest.fixture(scope="module")
def slowed_boot(slowed_build: Build) -> BootResult:
    return boot_image(slowed_build.image, cpu="max")


@pytest.mark.boot
def test_a_slowed_variant_loses_the_measurement(cpu_boots: dict[str, BootResult],
                                                slowed_boot: BootResult) -> None:
    normal = bench_lines(cpu_boots["max"])
    won = [name for name, line in normal.items() if line["variant"] == "avx2"]
    assert won, "the normal build chooses avx2 somewhere under -cpu max"
    for name, line in bench_lines(slowed_boot).items():
        cycles = {c["variant"]: c["cycles"] for c in line["candidates"]}
        assert line["variant"] == "generic", f"{name}: slowed avx2 and a wrong sse2 left generic: {line}"
        assert cycles["avx2"] > cycles["generic"], f"{name}: avx2 was not slowed: {line}"
        assert line["checksum"] == normal[name]["checksum"]


@pytest.mark.boot
def test_a_variant_with_another_checksum_is_dropped_and_reported(slowed_boot: BootResult) -> None:
    for name, line in bench_lines(slowed_boot).items():
        [sse2] = [c for c in line["candidates"] if c["variant"] == "sse2"]
        assert sse2["dropped"] == "checksum" and sse2["checksum"] != line["checksum"], (name, sse2)
        assert f"select {name}: variant sse2 gave checksum {sse2['checksum']} at n=" in slowed_boot.serial
        assert "(dropped)" in slowed_boot.serial


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
