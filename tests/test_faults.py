"""Failures must be caught and named: loader fatal errors from images damaged
byte by byte (the header's fields one by one, stage 2), CPU exceptions, the
out-of-memory panic and the benchmark arena checks from test builds, and
benchmark sizes the manifest may not ask for."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from bootkit import (
    HDR_ENTRY,
    HDR_IMAGE_CRC32,
    HDR_KERNEL_BYTES,
    HDR_LOAD_ADDR,
    HEADER_SIZE,
    KERNEL_OFFSET,
    SECTOR,
    STAGE2_BYTES,
    STAGE2_OFFSET,
    U16,
    U32,
    Build,
    boot_image,
    build_image,
    crafted,
    exit_line,
    fresh_copy,
    image_kernel_bytes,
    kernel_crc32,
    read_screen,
    restamp_crc,
    set_manifest,
    stage2_word_sum,
)
from conftest import doit

from fluidbench import protocol
from fluidbuild.errors import FluidError
from fluidbuild.testing import PluginTest

QEMU_LOADER_FATAL = 0xFF  # the loader writes 0x7F: (0x7F << 1) | 1
QEMU_PANIC = (0x01 << 1) | 1
QEMU_EXCEPTION = (0x02 << 1) | 1

# Test-hook builds (src/kernel/test_hooks.h), defines of the kernel_ir target.
FAULT_DEFINES = {
    "invalid_opcode": {"FLUID_TEST_FAULT": 1},
    "divide_error": {"FLUID_TEST_FAULT": 2},
    "out_of_memory": {"FLUID_TEST_OOM": 1},
    # Every benchmark at one size, past the manifest's check; matrix_mul runs first.
    "bench_size_over_limit": {"FLUID_TEST_BENCH_SIZE": 32768},
    "bench_arena_over_memory": {"FLUID_TEST_BENCH_SIZE": 8192},
}
MATRIX_MUL_LIMIT = 16384  # BENCH_MAX_SIZE of src/bench/matrix_mul.c
MATRIX_MUL_8192_ARENA = 3 * 8192 * 8192 * 4  # three 8192 x 8192 float matrices: 768 MiB

GUEST_MEMORY = 128 << 20  # qemu_argv's default -m 128
PAST_GUEST_MEMORY = 1 << 30  # 1 GiB: no E820 range of the guest holds it
BETWEEN_LOW_AND_HIGH = 0x80000  # above stage 1, below 1 MiB
ALL_FEATURES = (1 << protocol.CPU_FEATURE_COUNT) - 1

OPCODE_UD2 = b"\x0f\x0b"
OPCODE_GROUP3_RM32 = 0xF7  # DIV r/m32 is F7 /6
MODRM_REG_SHIFT, MODRM_REG_MASK, MODRM_REG_DIV = 3, 0x7, 6


def flip_signature(raw: bytearray) -> None:
    raw[KERNEL_OFFSET] ^= 0xFF


def flip_body_byte(raw: bytearray) -> None:
    raw[KERNEL_OFFSET + HEADER_SIZE + (image_kernel_bytes(raw) - HEADER_SIZE) // 2] ^= 0xFF


def zero_kernel(raw: bytearray) -> None:
    size = image_kernel_bytes(raw)
    raw[KERNEL_OFFSET:KERNEL_OFFSET + size] = bytes(size)


def claim_the_whole_disk(raw: bytearray) -> None:
    """A consistent header (kernel_sectors = ceil(kernel_bytes / 512)) whose
    kernel would end past the last sector of the disk."""
    sectors = len(raw) // SECTOR
    struct.pack_into("<II", raw, KERNEL_OFFSET + HDR_KERNEL_BYTES, sectors * SECTOR, sectors)


def truncate_in_kernel(raw: bytearray) -> None:
    """Cut the disk in the middle of the kernel: the header promises sectors the disk lacks."""
    del raw[KERNEL_OFFSET + image_kernel_bytes(raw) // 2:]


def keep_stage1_only(raw: bytearray) -> None:
    """A one-sector disk: stage 1's own read of stage 2 fails."""
    del raw[SECTOR:]


def end_before_kernel(raw: bytearray) -> None:
    """A disk of stage 1 and stage 2 only: stage 2's read of the kernel header fails."""
    del raw[KERNEL_OFFSET:]


def change_cpu_features(raw: bytearray) -> None:
    """The header's cpu_features changed after stamping, its CRC left alone: with
    the bits zeroed the kernel would run AVX-512 code on a CPU without it."""
    at = KERNEL_OFFSET + protocol.HDR_CPU_FEATURES
    features = U32.unpack_from(raw, at)[0]
    U32.pack_into(raw, at, 0 if features else ALL_FEATURES)


def restamped(edit: Callable[[bytearray], None]) -> Callable[[bytearray], None]:
    """``edit`` of the header followed by a correct image_crc32: only the
    loader's range checks can catch what it changed."""
    def apply(raw: bytearray) -> None:
        edit(raw)
        restamp_crc(raw)
    return apply


def header_field(offset: int, value: int, fmt: struct.Struct = U32) -> Callable[[bytearray], None]:
    def edit(raw: bytearray) -> None:
        fmt.pack_into(raw, KERNEL_OFFSET + offset, value)
    return restamped(edit)


def moved_to(load: int) -> Callable[[bytearray], None]:
    """The whole kernel claims another load address: load_addr, entry and bss_end
    move together, so only the load address itself is wrong."""
    def edit(raw: bytearray) -> None:
        old = U32.unpack_from(raw, KERNEL_OFFSET + HDR_LOAD_ADDR)[0]
        for offset in (HDR_LOAD_ADDR, HDR_ENTRY, protocol.HDR_BSS_END):
            value = U32.unpack_from(raw, KERNEL_OFFSET + offset)[0]
            U32.pack_into(raw, KERNEL_OFFSET + offset, (value - old + load) & 0xFFFFFFFF)
    return restamped(edit)


def entry_at(where: Callable[[int, int], int]) -> Callable[[bytearray], None]:
    """entry = where(load_addr, kernel_bytes)."""
    def edit(raw: bytearray) -> None:
        load = U32.unpack_from(raw, KERNEL_OFFSET + HDR_LOAD_ADDR)[0]
        U32.pack_into(raw, KERNEL_OFFSET + HDR_ENTRY, where(load, image_kernel_bytes(raw)))
    return restamped(edit)


def bss_end_inside_image(raw: bytearray) -> None:
    load = U32.unpack_from(raw, KERNEL_OFFSET + HDR_LOAD_ADDR)[0]
    U32.pack_into(raw, KERNEL_OFFSET + protocol.HDR_BSS_END, load + image_kernel_bytes(raw) - SECTOR)


def flip_stage2_byte(raw: bytearray) -> None:
    raw[STAGE2_OFFSET + 0x100] ^= 0xFF


def blank_stage2(raw: bytearray) -> None:
    """Nothing written after the boot sector, as on a disk only stage 1 went to."""
    raw[STAGE2_OFFSET:STAGE2_OFFSET + STAGE2_BYTES] = bytes(STAGE2_BYTES)


LOADER_CASES = {
    "bad_signature": (flip_signature, "floppy", 0x51, "BAD_SIGNATURE"),
    "bad_checksum": (flip_body_byte, "floppy", 0xCE, "BAD_CHECKSUM"),
    "header_changed_after_stamping": (change_cpu_features, "floppy", 0xCE, "BAD_CHECKSUM"),
    "bad_version": (header_field(protocol.HDR_VERSION, protocol.FLUD_HEADER_VERSION + 1, U16),
                    "floppy", 0xBF, "BAD_HEADER"),
    "bad_header_size": (header_field(protocol.HDR_HEADER_SIZE, HEADER_SIZE // 2, U16),
                        "floppy", 0xBF, "BAD_HEADER"),
    "load_addr_in_boot_info_area": (moved_to(protocol.BOOT_INFO_ADDR), "floppy", 0xBA, "BAD_LOAD_ADDR"),
    "load_addr_below_1mib": (moved_to(BETWEEN_LOW_AND_HIGH), "floppy", 0xBA, "BAD_LOAD_ADDR"),
    "load_addr_past_ram": (moved_to(PAST_GUEST_MEMORY), "ide", 0xBA, "BAD_LOAD_ADDR"),
    "load_addr_wraps": (moved_to(0xFFFFF000), "floppy", 0xBA, "BAD_LOAD_ADDR"),
    "bss_end_inside_image": (restamped(bss_end_inside_image), "floppy", 0xBA, "BAD_LOAD_ADDR"),
    "entry_in_header": (entry_at(lambda load, size: load), "floppy", 0xBE, "BAD_ENTRY"),
    "entry_past_image": (entry_at(lambda load, size: load + size), "ide", 0xBE, "BAD_ENTRY"),
    "entry_below_image": (entry_at(lambda load, size: load - SECTOR), "floppy", 0xBE, "BAD_ENTRY"),
    "stage2_byte_flipped": (flip_stage2_byte, "floppy", 0xB2, "BAD_STAGE2"),
    "stage2_blank": (blank_stage2, "ide", 0xB2, "BAD_STAGE2"),
    "no_kernel": (zero_kernel, "floppy", 0xE0, "NO_KERNEL"),
    "sectors_beyond_disk": (claim_the_whole_disk, "floppy", 0xD2, "DISK_VERIFY"),
    "truncated_hard_disk": (truncate_in_kernel, "ide", 0xD2, "DISK_VERIFY"),
    "stage1_read_fails": (keep_stage1_only, "ide", 0xD1, "DISK_READ"),
    "stage2_read_fails": (end_before_kernel, "ide", 0xD1, "DISK_READ"),
}


def is_ud2(code: bytes) -> bool:
    return code.startswith(OPCODE_UD2)


def is_div(code: bytes) -> bool:
    return code[0] == OPCODE_GROUP3_RM32 and (code[1] >> MODRM_REG_SHIFT) & MODRM_REG_MASK == MODRM_REG_DIV


@pytest.fixture(scope="session")
def fault_builds(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """One tree rebuilt with each test hook in turn."""
    tree = fresh_copy(built_tree, tmp_path_factory.mktemp("faults"))
    builds = {}
    for name, defines in FAULT_DEFINES.items():
        set_manifest(tree, ("targets", "kernel_ir", "options", "defines"), defines)
        builds[name] = build_image(tree, tree.parent / name)
    return builds


@pytest.mark.parametrize("case", LOADER_CASES)
def test_loader_fatal_error(built_tree: Path, tmp_path: Path, case: str) -> None:
    edit, drive, code, name = LOADER_CASES[case]
    image = crafted(built_tree / "build/fluid.img", tmp_path / f"{case}.img", edit)
    result = boot_image(image, drive)
    assert f"FATAL ERROR: 0x{code:02X}" in result.serial, (
        f"{case} ({drive}): expected loader error 0x{code:02X}, got {result.reason()}\n{result.serial}")
    assert result.fatal_code == code, f"{case}: several or other fatal codes:\n{result.serial}"
    assert result.status == QEMU_LOADER_FATAL, (
        f"{case}: QEMU exit status {result.status}, expected {QEMU_LOADER_FATAL} (loader wrote 0x7F)")
    assert name in result.reason(), f"{case}: the runner's reason does not name {name}: {result.reason()}"
    assert not result.lines("FLUID-BOOT"), f"{case}: the kernel ran from a rejected image"


@pytest.mark.integration  # reads the build; boots nothing
def test_image_carries_what_the_loader_checks(built_tree: Path) -> None:
    """The build's stamps, checked here against the spec's definitions rather than
    the stamp plugin's code: stage 2's trailer and the kernel's image CRC."""
    raw = (built_tree / "build/fluid.img").read_bytes()
    stage2 = raw[STAGE2_OFFSET:STAGE2_OFFSET + STAGE2_BYTES]
    trailer = STAGE2_BYTES - protocol.STAGE2_TRAILER_SIZE
    assert U16.unpack_from(stage2, trailer + protocol.TRAILER_SIGNATURE)[0] == protocol.STAGE2_SIGNATURE
    assert stage2_word_sum(stage2) == protocol.STAGE2_WORD_SUM
    kernel = (built_tree / "build/kernel.bin").read_bytes()
    assert raw[KERNEL_OFFSET:KERNEL_OFFSET + len(kernel)] == kernel
    assert U32.unpack_from(kernel, HDR_IMAGE_CRC32)[0] == kernel_crc32(kernel)
    header = dict(zip(protocol.FLUD_HEADER_FIELDS, struct.unpack_from(protocol.FLUD_HEADER_FORMAT, kernel),
                      strict=True))
    assert (header["version"], header["header_size"]) == (protocol.FLUD_HEADER_VERSION, HEADER_SIZE)
    load = header["load_addr"]
    assert load >= protocol.KERNEL_HIGH_MIN and load + len(kernel) <= header["bss_end"] < GUEST_MEMORY
    assert load + HEADER_SIZE <= header["entry"] < load + len(kernel)


def test_loader_fatal_error_on_screen(built_tree: Path, tmp_path: Path) -> None:
    """The loader prints its error on the VGA screen too (read from 0xB8000)."""
    image = crafted(built_tree / "build/fluid.img", tmp_path / "bad_signature.img", flip_signature)
    screen = read_screen(image, "floppy", "FATAL ERROR: 0x51", tmp_path)
    assert "FATAL ERROR: 0x51" in screen, f"the VGA screen lacks the loader's error:\n{screen}"


@pytest.mark.parametrize(("fault", "name", "vector", "instruction"), [
    ("invalid_opcode", "Invalid Opcode", 6, is_ud2),
    ("divide_error", "Divide Error", 0, is_div),
])
def test_cpu_exception_is_reported(fault_builds: dict[str, Build], fault: str, name: str, vector: int,
                                   instruction: Callable[[bytes], bool]) -> None:
    build = fault_builds[fault]
    result = boot_image(build.image)
    assert result.status == QEMU_EXCEPTION, (
        f"{fault}: QEMU exit status {result.status}, expected {QEMU_EXCEPTION} (value 0x02)\n{result.serial}")
    assert f"EXCEPTION: {name} (vector {vector})" in result.serial, f"{fault}: not reported:\n{result.serial}"
    report = exit_line(result)
    assert (report["status"], report["name"], report["vector"]) == ("exception", name, vector), report
    eip = int(report["eip"], 16)
    assert f"EIP {eip:08x}" in result.serial, f"{fault}: no EIP on the console:\n{result.serial}"
    load = build.header_field(HDR_LOAD_ADDR)
    assert load <= eip < load + len(build.kernel), f"{fault}: EIP {eip:#x} is outside the kernel"
    code = build.kernel[eip - load:eip - load + 2]
    assert instruction(code), f"{fault}: EIP {eip:#x} points at {code.hex()}, not the faulting instruction"
    assert "CPU exception" in result.reason(), result.reason()


def test_out_of_memory_panics(fault_builds: dict[str, Build]) -> None:
    result = boot_image(fault_builds["out_of_memory"].image)
    assert result.status == QEMU_PANIC, (
        f"QEMU exit status {result.status}, expected {QEMU_PANIC} (value 0x01)\n{result.serial}")
    assert "PANIC: out of memory" in result.serial, f"no out-of-memory panic on the console:\n{result.serial}"
    report = exit_line(result)
    assert report["status"] == "panic" and report["message"].startswith("out of memory"), report
    assert "kernel panic" in result.reason(), result.reason()


@pytest.mark.parametrize(("build", "message"), [
    ("bench_size_over_limit",
     f"benchmark matrix_mul: size 32768 is above its limit {MATRIX_MUL_LIMIT} (BENCH_MAX_SIZE)"),
    ("bench_arena_over_memory",
     f"benchmark matrix_mul: size 8192 needs a {MATRIX_MUL_8192_ARENA}-byte arena, more than the "),
])
def test_benchmark_arena_is_checked(fault_builds: dict[str, Build], build: str, message: str) -> None:
    """A size past the benchmark's limit (its arena would wrap around 32 bits) or an
    arena larger than the heap is a named panic, before setup() touches memory."""
    result = boot_image(fault_builds[build].image)
    assert result.status == QEMU_PANIC, (
        f"{build}: QEMU exit status {result.status}, expected {QEMU_PANIC} (value 0x01)\n{result.serial}")
    assert f"PANIC: {message}" in result.serial, f"{build}: no named panic on the console:\n{result.serial}"
    report = exit_line(result)
    assert report["status"] == "panic" and report["message"].startswith(message), report
    assert not result.lines("FLUID-BENCH"), f"{build}: a benchmark ran:\n{result.serial}"


@pytest.mark.integration  # doit list resolves the toolchain; nothing is built or booted
@pytest.mark.parametrize(("bench", "size", "expected"), [
    ("sha256_stream", 4294967295, "sha256_stream size 4294967295 is above its limit 2147483648 "
                                  "(BENCH_MAX_SIZE in src/bench/sha256_stream.c"),
    ("matrix_mul", 32768, "matrix_mul size 32768 is above its limit 16384 "
                          "(BENCH_MAX_SIZE in src/bench/matrix_mul.c"),
    ("fft_1d", 1 << 32, "expected an integer >= 1 and <= 4294967295, got 4294967296"),
])
def test_manifest_refuses_sizes_past_the_limit(fresh_tree: Path, bench: str, size: int,
                                               expected: str) -> None:
    """Sizes whose arena overflows the kernel's 32-bit arithmetic stop the build when
    the manifest is loaded, naming the manifest line and the limit."""
    manifest = fresh_tree / "manifest.yaml"
    benchmarks = yaml.safe_load(manifest.read_text())["benchmarks"]
    index = [b["name"] for b in benchmarks].index(bench)
    benchmarks[index]["size"] = size
    set_manifest(fresh_tree, ("benchmarks",), benchmarks)
    proc = doit(fresh_tree, "list", check=False)
    assert proc.returncode == 2, f"doit list exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    assert expected in proc.stderr, proc.stderr
    where = re.search(rf"manifest\.yaml:(\d+): manifest error at 'benchmarks\[{index}\]\.size'", proc.stderr)
    assert where, f"the error does not name the manifest line:\n{proc.stderr}"
    line = manifest.read_text().splitlines()[int(where[1]) - 1]
    assert f"size: {size}" in line, f"line {where[1]} of the manifest is {line!r}"



@pytest.mark.unit
def test_benchmark_limit_comes_from_its_source(tmp_path: Path) -> None:
    """The bench_registry plugin reads each limit from its benchmark's own
    ``#define BENCH_MAX_SIZE`` line (the one the descriptor uses) and names it."""
    def declare(size: int, source: str) -> None:
        kit = PluginTest(tmp_path, f"""\
            targets:
              registry: {{plugin: bench_registry, sources: [src/bench/toy.c]}}
            benchmarks:
              - {{name: toy, size: {size}}}
            """, files={"src/bench/toy.c": source})
        kit.target_tasks("registry")

    limited = "/* the largest arena under 4 GiB */\n#define BENCH_MAX_SIZE 4096\nint toy;\n"
    declare(4096, limited)
    with pytest.raises(FluidError, match=re.escape(
            "manifest.yaml:4: manifest error at 'benchmarks[0].size': toy size 4097 is above its limit "
            "4096 (BENCH_MAX_SIZE in src/bench/toy.c")):
        declare(4097, limited)
    with pytest.raises(FluidError, match=r"src/bench/toy\.c: expected one line '#define BENCH_MAX_SIZE <n>'"):
        declare(1, "#define BENCH_MAX_SIZE 4096 /* a comment hides it */\n")
