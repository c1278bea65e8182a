"""Failures must be caught and named: loader fatal errors from images damaged
byte by byte, CPU exceptions and the out-of-memory panic from test builds."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from bootkit import (
    HDR_KERNEL_BYTES,
    HDR_LOAD_ADDR,
    HEADER_SIZE,
    KERNEL_OFFSET,
    SECTOR,
    Build,
    boot_image,
    build_image,
    crafted,
    exit_line,
    fresh_copy,
    image_kernel_bytes,
    read_screen,
    set_manifest,
)

QEMU_LOADER_FATAL = 0xFF  # the loader writes 0x7F: (0x7F << 1) | 1
QEMU_PANIC = (0x01 << 1) | 1
QEMU_EXCEPTION = (0x02 << 1) | 1

# Test-hook builds (src/kernel/test_hooks.h), defines of the kernel_ir target.
FAULT_DEFINES = {
    "invalid_opcode": {"FLUID_TEST_FAULT": 1},
    "divide_error": {"FLUID_TEST_FAULT": 2},
    "out_of_memory": {"FLUID_TEST_OOM": 1},
}

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


LOADER_CASES = {
    "bad_signature": (flip_signature, "floppy", 0x51, "BAD_SIGNATURE"),
    "bad_checksum": (flip_body_byte, "floppy", 0xCE, "BAD_CHECKSUM"),
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
