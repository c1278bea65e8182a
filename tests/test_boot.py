"""Booting real images in QEMU (TCG): both disk paths, the screen, A20, CPU
variants, a kernel larger than one bounce buffer, the seed's low layout and
the boot-time figures. Each image variant is built once per session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from bootkit import (
    HDR_LOAD_ADDR,
    Build,
    boot_image,
    boot_line,
    build_image,
    exit_line,
    fresh_copy,
    read_screen,
    set_manifest,
)
from conftest import doit

from fluidbench import lines, protocol
from fluidbench.qemu import BootResult

# drive -> (FLUID-BOOT "disk", BIOS drive number): a floppy has no INT 13h
# extensions under SeaBIOS (CHS path), the IDE disk has them (LBA path).
DRIVES = {"floppy": ("CHS", 0x00), "ide": ("LBA", 0x80)}
BOOT_KEYS = {"drive", "disk", "a20", "mem_kib", "cpu", "variant", "eligible", "missing", "kernel_bytes",
             "boot_cycles", "boot_us"}
GUEST_MEMORY_KIB = 128 * 1024  # qemu_argv's default -m 128
LOW_MEMORY_FLOOR_KIB = 120 * 1024  # what firmware, BIOS areas and the ISA hole may take

A20_METHODS = {1: "bios", 2: "kbc", 3: "fast"}  # src/boot/a20.inc: A20_TEST_START=N
A20_NONE = 4

BIG_KERNEL_MIN = 512 * 1024  # what the default layout must load (eight 64 KiB bounce chunks)
BALLAST_C = ("/* Read-only ballast: makes the kernel larger than the 512 KiB the default\n"
             " * layout must allow, i.e. many 64 KiB bounce-buffer chunks. */\n"
             "const unsigned char fluid_test_ballast[540000] = {1};\n")

SEED_LOAD_ADDR = 0x1000
SEED_ROOM = 0x7C00 - SEED_LOAD_ADDR  # the seed layout's kernel must end below stage 1
LOAD_ADDR_KEYS = ("targets", "kernel_elf", "options", "load_addr")

MAX_BOOT_US = 10_000_000


@pytest.fixture(scope="session")
def default_boots(built_tree: Path) -> dict[str, BootResult]:
    """The default build/fluid.img booted once from each drive."""
    return {drive: boot_image(built_tree / "build/fluid.img", drive) for drive in DRIVES}


@pytest.fixture(scope="session")
def a20_builds(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Build]:
    """Stage 2 assembled with A20_TEST_START=1..4 (only stage 2 and the image rebuild)."""
    tree = fresh_copy(built_tree, tmp_path_factory.mktemp("a20"))
    builds = {}
    for start in (*A20_METHODS, A20_NONE):
        set_manifest(tree, ("targets", "stage2", "options", "defines"), {"A20_TEST_START": start})
        builds[start] = build_image(tree, tree.parent / f"a20-{start}")
    return builds


@pytest.fixture(scope="session")
def haswell_build(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    tree = fresh_copy(built_tree, tmp_path_factory.mktemp("haswell"))
    set_manifest(tree, ("cpu_profile",), {"mode": "pinned", "cpu": "haswell"})
    return build_image(tree, tree.parent / "image")


@pytest.fixture(scope="session")
def big_kernel_build(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    tree = fresh_copy(built_tree, tmp_path_factory.mktemp("big"))
    (tree / "src/kernel/ballast.c").write_text(BALLAST_C)
    # The floppy holds this kernel or the model's boot modules, not both.
    set_manifest(tree, ("image", "modules"), [])
    return build_image(tree, tree.parent / "image")


@pytest.fixture(scope="session")
def seed_refused(built_tree: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """The full kernel linked at 0x1000: ``doit image`` must refuse it."""
    tree = fresh_copy(built_tree, tmp_path_factory.mktemp("seed-full"))
    set_manifest(tree, LOAD_ADDR_KEYS, SEED_LOAD_ADDR)
    return tree, doit(tree, "image", check=False)


@pytest.fixture(scope="session")
def seed_build(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """A kernel without benchmarks, small enough for the seed layout at 0x1000."""
    tree = fresh_copy(built_tree, tmp_path_factory.mktemp("seed-small"))
    set_manifest(tree, LOAD_ADDR_KEYS, SEED_LOAD_ADDR)
    set_manifest(tree, ("benchmarks",), [])
    set_manifest(tree, ("targets", "kernel_bc", "deps"), ["kernel_ir", "registry_ir", "variants_ir"])
    return build_image(tree, tree.parent / "image")


def _assert_booted(result: BootResult, what: str) -> None:
    assert result.ok, f"{what} did not boot successfully: {result.reason()}\n{result.serial}"
    assert exit_line(result) == {"status": "ok"}, f"{what}: unexpected FLUID-EXIT\n{result.serial}"


@pytest.mark.parametrize("drive", DRIVES)
def test_default_image_boots(built_tree: Path, default_boots: dict[str, BootResult], drive: str) -> None:
    result = default_boots[drive]
    disk, number = DRIVES[drive]
    _assert_booted(result, f"build/fluid.img as {drive}")
    assert "Fluid OS" in result.serial, f"no Fluid OS banner on serial:\n{result.serial}"
    line = boot_line(result)
    assert line.keys() >= BOOT_KEYS, f"FLUID-BOOT lacks {sorted(BOOT_KEYS - line.keys())}: {line}"
    assert line["disk"] == disk, f"{drive} boot took the {line['disk']} path, expected {disk}"
    assert line["drive"] == number, f"{drive} boot reports BIOS drive {line['drive']}, expected {number}"
    kernel_size = (built_tree / "build/kernel.bin").stat().st_size
    assert line["kernel_bytes"] == kernel_size, (
        f"FLUID-BOOT kernel_bytes {line['kernel_bytes']} != build/kernel.bin size {kernel_size}")
    assert LOW_MEMORY_FLOOR_KIB < line["mem_kib"] <= GUEST_MEMORY_KIB, (
        f"mem_kib {line['mem_kib']} is implausible for a {GUEST_MEMORY_KIB} KiB guest")


def test_screen_shows_banner_and_boot_summary(built_tree: Path, default_boots: dict[str, BootResult],
                                              tmp_path: Path) -> None:
    """The VGA text buffer itself (guest memory at 0xB8000), not the serial copy."""
    screen = read_screen(built_tree / "build/fluid.img", "floppy", "FLUID-EXIT", tmp_path)
    line = boot_line(default_boots["floppy"])
    assert "Fluid OS" in screen, f"no Fluid OS banner on the VGA screen:\n{screen}"
    summary = (f"boot: drive 0x{line['drive']:02x}, {line['disk']}, A20 {line['a20']}, "
               f"kernel {line['kernel_bytes']} bytes")
    assert summary in screen, f"the screen lacks the boot summary {summary!r}:\n{screen}"
    assert "mem selftest: ok" in screen, f"the screen lacks the self-test result:\n{screen}"


@pytest.mark.parametrize(("start", "method"), A20_METHODS.items())
def test_a20_method(a20_builds: dict[int, Build], start: int, method: str) -> None:
    result = boot_image(a20_builds[start].image)
    _assert_booted(result, f"A20_TEST_START={start}")
    assert "A20: off" in result.serial, f"the test build did not close the A20 gate first:\n{result.serial}"
    a20 = boot_line(result)["a20"]
    assert a20 == method, f"A20_TEST_START={start} opened A20 by {a20!r}, expected {method!r}"


def test_a20_failure_is_fatal(a20_builds: dict[int, Build]) -> None:
    result = boot_image(a20_builds[A20_NONE].image)
    assert "FATAL ERROR: 0xA2" in result.serial, f"no A20 fatal error: {result.reason()}\n{result.serial}"
    assert result.status == 0xFF, f"QEMU exit status {result.status}, expected 255 (loader fatal error)"
    assert "A20_FAILED" in result.reason(), result.reason()


def test_tuned_variant_on_haswell(haswell_build: Build) -> None:
    result = boot_image(haswell_build.image, cpu="Haswell")
    _assert_booted(result, "the Haswell-pinned image on -cpu Haswell")
    line = boot_line(result)
    assert (line["variant"], line["cpu"], line["missing"]) == ("measured", "AVX2", []), (
        f"a Haswell build on a Haswell CPU has every variant eligible, nothing missing: {line}")
    assert line["eligible"] == ["generic", "sse2", "avx2", "tuned"], (
        f"a Haswell profile builds no AVX-512 variant; the others all run on Haswell: {line}")


def test_generic_fallback_on_qemu32(haswell_build: Build) -> None:
    result = boot_image(haswell_build.image, cpu="qemu32")
    _assert_booted(result, "the Haswell-pinned image on -cpu qemu32")
    line = boot_line(result)
    assert line["eligible"] == ["generic", "sse2"], f"qemu32 (SSE3, no AVX) runs generic and sse2: {line}"
    assert line["cpu"] == "AVX2", f"the stamped tag is AVX2 whatever the CPU: {line}"
    assert "avx2" in line["missing"], f"FLUID-BOOT must name avx2 as missing on qemu32: {line}"
    ran = {bench["variant"] for bench in result.lines("FLUID-BENCH")}
    assert ran <= {"generic", "sse2"}, f"qemu32 ran a variant it cannot run: {ran}"


def test_allocator_selftest_passes(default_boots: dict[str, BootResult]) -> None:
    for drive, result in default_boots.items():
        assert "mem selftest: ok" in result.serial, (
            f"{drive} boot: no passing heap self-test:\n{result.serial}")


@pytest.mark.parametrize("drive", DRIVES)
def test_kernel_larger_than_512k_boots(big_kernel_build: Build, drive: str) -> None:
    size = len(big_kernel_build.kernel)
    assert size > BIG_KERNEL_MIN, f"the ballast kernel is only {size} bytes: it must exceed {BIG_KERNEL_MIN}"
    result = boot_image(big_kernel_build.image, drive)
    _assert_booted(result, f"a {size}-byte kernel from {drive}")
    line = boot_line(result)
    assert (line["kernel_bytes"], line["disk"]) == (size, DRIVES[drive][0]), line


def test_seed_layout_refuses_a_kernel_too_big_for_low_memory(
        seed_refused: tuple[Path, subprocess.CompletedProcess]) -> None:
    tree, proc = seed_refused
    size = (tree / "build/kernel_flat.bin").stat().st_size
    assert size > SEED_ROOM, f"the full kernel ({size} bytes) now fits below 0x7C00: boot it instead"
    assert proc.returncode != 0, "doit image accepted a kernel that overlaps stage 1"
    expected = (f"kernel is {size} bytes, larger than the room below 0x7c00 at load address "
                f"{SEED_LOAD_ADDR:#x} ({SEED_ROOM} bytes)")
    assert expected in proc.stdout + proc.stderr, f"missing {expected!r} in:\n{proc.stdout}\n{proc.stderr}"
    for output in ("kernel.bin", "fluid.img"):
        assert not (tree / "build" / output).exists(), f"build/{output} was written for a refused kernel"
    again = doit(tree, "image", check=False)
    assert again.returncode != 0 and expected in again.stdout + again.stderr, (
        "the refused kernel was trusted by the next build")


@pytest.mark.parametrize("drive", DRIVES)
def test_seed_layout_boots_small_kernel_at_0x1000(seed_build: Build, drive: str) -> None:
    assert seed_build.header_field(HDR_LOAD_ADDR) == SEED_LOAD_ADDR
    size = len(seed_build.kernel)
    assert size <= SEED_ROOM, f"the benchmark-free kernel ({size} bytes) no longer fits below 0x7C00"
    result = boot_image(seed_build.image, drive)
    _assert_booted(result, f"the kernel at {SEED_LOAD_ADDR:#x} from {drive}")
    assert f"kernel {size} bytes at 0x{SEED_LOAD_ADDR:08x}" in result.serial, result.serial
    assert boot_line(result)["disk"] == DRIVES[drive][0]


def test_boot_time_is_measured(default_boots: dict[str, BootResult]) -> None:
    for drive, result in default_boots.items():
        line = boot_line(result)
        assert line["boot_cycles"] > 0, f"{drive}: boot_cycles must be positive: {line}"
        assert 0 < line["boot_us"] < MAX_BOOT_US, f"{drive}: implausible boot_us: {line}"
        assert line["boot_us"] <= result.seconds * 1e6, (
            f"{drive}: the guest counted {line['boot_us']} us of boot in a {result.seconds:.3f} s QEMU run")


@pytest.mark.parametrize("drive", DRIVES)
def test_serial_lines_follow_the_protocol_schemas(default_boots: dict[str, BootResult], drive: str) -> None:
    """Every FLUID-BOOT, FLUID-BENCH and FLUID-EXIT line the kernel printed holds
    exactly what the spec (src/protocol/protocol.toml) allows, required fields included;
    the kernel prints every line whose printers name it, except the inference workload's
    (another boot: tests/test_kernel_infer.py)."""
    result = default_boots[drive]
    inference = {"FLUID-INFER", "FLUID-LOGITS"}
    for tag in (tag for tag, schema in protocol.LINES.items()
                if "kernel" in schema["printers"] and tag not in inference):
        printed = result.lines(tag)
        assert printed, f"{drive}: no {tag} line:\n{result.serial}"
        for line in printed:
            assert lines.line_errors(tag, line) == [], line


def test_benchmarks_report_without_pmu_counts_under_tcg(default_boots: dict[str, BootResult]) -> None:
    """Every manifest benchmark reports once; TCG exposes no performance counters,
    so the PMU fields are absent rather than zero."""
    results = default_boots["floppy"].lines("FLUID-BENCH")
    assert [r["name"] for r in results] == ["matrix_mul", "fft_1d", "sha256_stream", "regex_dfa",
                                            "gemm_tile", "physics_step"]
    for r in results:
        assert r["cycles"] > 0 and r["ns"] > 0 and r["work"] > 0, r
        assert "pmu_instructions" not in r and "pmu_cycles" not in r, r
