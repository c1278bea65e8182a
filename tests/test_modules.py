"""Boot modules (``image.modules``; docs/boot-protocol.md "Boot modules"): the directory
the image plugin writes after the kernel, stage 2 loading and checking the modules above
the kernel, the kernel finding them and keeping them intact, corrupt modules and modules
without room stopping the loader with their own codes, a layout too large for the floppy
refused at build time and booted from a hard disk sized for it.

One copy of the session's built tree is rebuilt with three modules (the model target's
checkpoint and tokenizer and a project file) and a kernel whose test hook looks one up
(FLUID_TEST_FIND_MODULE); later builds work on copies of that tree."""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from bootkit import (
    KERNEL_OFFSET,
    SECTOR,
    Build,
    boot_image,
    boot_line,
    build_image,
    built_copy,
    crafted,
    exit_line,
    image_kernel_bytes,
    set_manifest,
)
from conftest import doit, executed

from fluidbench import lines, protocol
from fluidbench.qemu import BootResult
from fluidbuild.errors import FluidError
from fluidbuild.model import Placement
from fluidbuild_plugins.fluidos import boot_modules, disk

QEMU_LOADER_FATAL = 0xFF  # the loader writes 0x7F: (0x7F << 1) | 1
GUEST_MEMORY = 128 << 20  # qemu_argv's default -m 128
TOO_LITTLE_MEMORY_MIB = 2  # the kernel and its BSS fit, the 1 MB model after them does not
MIB = 1 << 20

NOTES = "data/notes.bin"
NOTES_BYTES = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(100))  # 3200
CHANGED_NOTES = NOTES_BYTES[::-1]
MODULES = [
    {"name": "model", "target": "model_260k"},
    {"name": "tokenizer", "target": "model_260k", "output": 1},
    {"name": "notes", "path": NOTES},
]
FILES = {"model": "build/model_260k/model.bin", "tokenizer": "build/model_260k/tokenizer.bin", "notes": NOTES}
FIND = "notes"  # the module the kernel's test hook looks up (and "note", which is none)
SHOWN_BYTES = 8  # first bytes the hook prints (src/kernel/test_hooks.c: TEST_MODULE_BYTES_SHOWN)
BIG = "data/big.bin"
BIG_BYTES = 2_000_000  # with the model: more than the floppy holds
FLOPPY_BYTES = 1_474_560

DIR_HEADER = struct.Struct(protocol.MODULE_DIR_FORMAT)
DIR_ENTRY = struct.Struct(protocol.MODULE_ENTRY_FORMAT)
U32 = struct.Struct("<I")


@dataclass(frozen=True)
class ModulesBuild:
    build: Build
    files: dict[str, bytes]  # module name -> its file's contents, in manifest order
    tree: Path


@dataclass(frozen=True)
class Directory:
    """The module directory as an image holds it, read here from the spec's layout."""

    lba: int
    header: dict[str, int | bytes]
    entries: list[dict[str, int | bytes]]
    sector: bytes


def read_directory(raw: bytes) -> Directory:
    kernel_sectors = -(-image_kernel_bytes(raw) // SECTOR)
    lba = protocol.KERNEL_LBA + kernel_sectors
    sector = raw[lba * SECTOR:(lba + 1) * SECTOR]
    header = dict(zip(protocol.MODULE_DIR_FIELDS, DIR_HEADER.unpack_from(sector), strict=True))
    entries = [dict(zip(protocol.MODULE_ENTRY_FIELDS, entry, strict=True))
               for entry in entries_of(sector, header["count"])]
    return Directory(lba, header, entries, sector)


def entries_of(sector: bytes, count: int) -> list[tuple]:
    """The first ``count`` module_entry records of a directory sector, unpacked."""
    return [DIR_ENTRY.unpack_from(sector, DIR_HEADER.size + i * DIR_ENTRY.size) for i in range(count)]


def directory_crc(sector: bytes) -> int:
    """The directory's CRC-32 as the spec defines it: the sector with its crc32 field zero."""
    zeroed = bytearray(sector)
    U32.pack_into(zeroed, protocol.MDIR_CRC32, 0)
    return zlib.crc32(bytes(zeroed))


def align_up(value: int) -> int:
    return -(-value // protocol.MODULE_ALIGN) * protocol.MODULE_ALIGN


@pytest.fixture(scope="module")
def modules_build(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> ModulesBuild:
    tree = built_copy(built_tree, tmp_path_factory.mktemp("modules"))
    (tree / NOTES).parent.mkdir()
    (tree / NOTES).write_bytes(NOTES_BYTES)
    set_manifest(tree, ("image", "modules"), MODULES)
    set_manifest(tree, ("targets", "kernel_ir", "options", "defines"), {"FLUID_TEST_FIND_MODULE": FIND})
    build = build_image(tree, tree.parent / "image")
    return ModulesBuild(build, {name: (tree / path).read_bytes() for name, path in FILES.items()}, tree)


@pytest.fixture(scope="module")
def modules_boot(modules_build: ModulesBuild) -> BootResult:
    """The three-module image booted from the floppy (CHS path)."""
    return boot_image(modules_build.build.image)


@pytest.fixture(scope="module")
def oversized(modules_build: ModulesBuild, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A 2 MB module added: the floppy build (refused), then ``disk: hdd`` (built)."""
    tree = built_copy(modules_build.tree, tmp_path_factory.mktemp("oversized"))
    (tree / BIG).write_bytes(hashlib.shake_256(b"big module").digest(BIG_BYTES))
    set_manifest(tree, ("image", "modules"), [*MODULES, {"name": "big", "path": BIG}])
    (tree / "build/fluid.img").unlink()
    floppy = doit(tree, "image", check=False)
    floppy_image_written = (tree / "build/fluid.img").exists()
    set_manifest(tree, ("image", "disk"), "hdd")
    hdd = build_image(tree, tree.parent / "hdd")
    files = {name: (tree / path).read_bytes() for name, path in {**FILES, "big": BIG}.items()}
    return {"floppy": floppy, "floppy_image_written": floppy_image_written, "hdd": hdd, "files": files}


@pytest.fixture(scope="module")
def oversized_boot(oversized: dict[str, object]) -> BootResult:
    """The hard disk image with the 2 MB module booted from IDE (LBA path)."""
    return boot_image(oversized["hdd"].image, "ide")


def assert_modules_listed(result: BootResult, files: dict[str, bytes], kernel: bytes) -> list[dict]:
    """The FLUID-BOOT line lists ``files`` in order with their sizes and CRC-32s, at 4 KiB
    aligned addresses above the kernel's BSS, one after the other, inside the guest's RAM."""
    assert result.ok, f"the image with modules did not boot: {result.reason()}\n{result.serial}"
    assert exit_line(result) == {"status": "ok"}
    line = boot_line(result)
    assert lines.line_errors("FLUID-BOOT", line) == [], line
    listed = line["modules"]
    assert [m["name"] for m in listed] == list(files), listed
    bss_end = U32.unpack_from(kernel, protocol.HDR_BSS_END)[0]
    end = max(bss_end, protocol.MODULE_MIN_ADDR)
    for module in listed:
        data = files[module["name"]]
        addr = int(module["addr"], 16)
        assert module["bytes"] == len(data), module
        assert int(module["crc32"], 16) == zlib.crc32(data), f"{module['name']}: not the file's CRC-32"
        assert addr % protocol.MODULE_ALIGN == 0, f"{module['name']} at {addr:#x} is not 4 KiB aligned"
        assert addr == align_up(end), f"{module['name']} at {addr:#x}, expected right after {end:#x}"
        end = addr + len(data)
    assert end <= GUEST_MEMORY
    assert "modules: loaded, CRC ok" in result.serial, result.serial
    return listed


# -- the image ----------------------------------------------------------------------------------


@pytest.mark.integration  # reads the build; boots nothing
def test_image_holds_the_directory_and_the_modules(modules_build: ModulesBuild) -> None:
    """Checked against the spec's layout, not the writer's code: the directory sector right
    after the kernel, its CRC-32, and each module on sectors of its own after it."""
    raw = modules_build.build.image.read_bytes()
    assert raw[KERNEL_OFFSET:KERNEL_OFFSET + len(modules_build.build.kernel)] == modules_build.build.kernel
    directory = read_directory(raw)
    assert directory.header["magic"] == protocol.MODULE_DIR_MAGIC
    assert directory.header["version"] == protocol.MODULE_DIR_VERSION
    assert directory.header["count"] == len(MODULES)
    assert directory.header["crc32"] == directory_crc(directory.sector)
    used = DIR_HEADER.size + len(MODULES) * DIR_ENTRY.size
    assert directory.sector[used:] == bytes(SECTOR - used), "the rest of the directory sector is zero"
    lba = directory.lba + 1
    for entry, (name, data) in zip(directory.entries, modules_build.files.items(), strict=True):
        assert entry["name"] == name.encode().ljust(protocol.MODULE_NAME_LEN, b"\0")
        assert (entry["lba"], entry["bytes"], entry["crc32"]) == (lba, len(data), zlib.crc32(data)), entry
        assert raw[lba * SECTOR:lba * SECTOR + len(data)] == data, f"{name}: not the file's bytes"
        lba += -(-len(data) // SECTOR)
    assert raw[lba * SECTOR:] == bytes(len(raw) - lba * SECTOR), "the disk is zero after the last module"
    assert len(raw) == FLOPPY_BYTES


@pytest.mark.integration
def test_modules_image_is_rebuilt_the_same_and_follows_its_files(modules_build: ModulesBuild,
                                                               tmp_path: Path) -> None:
    """Deleting the image and the generated model rebuilds the same bytes; a changed path
    module reruns the image task alone, which writes the new bytes."""
    tree = built_copy(modules_build.tree, tmp_path)
    for path in ("build/fluid.img", *FILES.values()):
        if path != NOTES:
            (tree / path).unlink()
    doit(tree, "image")
    assert (tree / "build/fluid.img").read_bytes() == modules_build.build.image.read_bytes()
    (tree / NOTES).write_bytes(CHANGED_NOTES)
    assert executed(doit(tree, "image")) == ["image"]
    entry = read_directory((tree / "build/fluid.img").read_bytes()).entries[2]
    raw = (tree / "build/fluid.img").read_bytes()
    assert raw[entry["lba"] * SECTOR:entry["lba"] * SECTOR + entry["bytes"]] == CHANGED_NOTES
    assert entry["crc32"] == zlib.crc32(CHANGED_NOTES)


# -- booting them -------------------------------------------------------------------------------


def test_modules_boot_and_the_kernel_finds_them(modules_build: ModulesBuild,
                                                modules_boot: BootResult) -> None:
    listed = assert_modules_listed(modules_boot, modules_build.files, modules_build.build.kernel)
    summary = ", ".join(f"{m['name']} {m['bytes']} bytes at {m['addr']}" for m in listed)
    assert f"modules: {summary}" in modules_boot.serial, modules_boot.serial
    # module_find (the test hook): the entry, and the module's first bytes read at its address.
    notes = next(m for m in listed if m["name"] == FIND)
    first = " ".join(f"{b:02x}" for b in NOTES_BYTES[:SHOWN_BYTES])
    expected = f"test: module_find({FIND}): {len(NOTES_BYTES)} bytes at {notes['addr']}, first bytes {first}"
    assert expected in modules_boot.serial, modules_boot.serial
    assert f"test: module_find({FIND[:-1]}): none" in modules_boot.serial, "a name's prefix matched"
    # The run ended ok: after the benchmarks the kernel found every module's CRC-32 unchanged
    # (module_check_intact), so the heap never handed out module memory.
    assert "changed in memory" not in modules_boot.serial


def flip_in_module(name: str, where: str) -> Callable[[bytearray], None]:
    """Flip one byte of module ``name`` in an image (its first, middle or last byte)."""
    def edit(raw: bytearray) -> None:
        entries = read_directory(bytes(raw)).entries
        entry = next(e for e in entries if e["name"].rstrip(b"\0") == name.encode())
        offset = {"first": 0, "middle": entry["bytes"] // 2, "last": entry["bytes"] - 1}[where]
        raw[entry["lba"] * SECTOR + offset] ^= 0xFF
    return edit


def flip_in_directory(raw: bytearray) -> None:
    """Flip a byte of the second entry's size: only the directory's CRC-32 catches it."""
    directory = read_directory(bytes(raw))
    raw[directory.lba * SECTOR + DIR_HEADER.size + DIR_ENTRY.size + protocol.MENT_BYTES] ^= 0x01


CORRUPT = {
    "model_middle": flip_in_module("model", "middle"),
    "tokenizer_first": flip_in_module("tokenizer", "first"),
    "notes_last": flip_in_module("notes", "last"),
    "directory": flip_in_directory,
}


@pytest.mark.boot
@pytest.mark.parametrize("case", CORRUPT)
def test_corrupt_module_stops_the_loader(modules_build: ModulesBuild, tmp_path: Path, case: str) -> None:
    image = crafted(modules_build.build.image, tmp_path / f"{case}.img", CORRUPT[case])
    result = boot_image(image)
    code = protocol.FATAL_BAD_MODULE
    assert result.fatal_code == code, f"{case}: expected FATAL ERROR: 0x{code:02X}, got {result.reason()}\n" \
                                      f"{result.serial}"
    assert result.status == QEMU_LOADER_FATAL, f"{case}: QEMU exit status {result.status}"
    assert "BAD_MODULE" in result.reason(), result.reason()
    assert "Fluid OS" not in result.serial and not result.lines("FLUID-BOOT"), f"{case}: the kernel ran"


@pytest.mark.boot
def test_module_without_room_stops_the_loader(modules_build: ModulesBuild) -> None:
    """With 2 MiB of RAM the kernel fits, the 1 MB model after its BSS does not."""
    result = boot_image(modules_build.build.image, memory_mib=TOO_LITTLE_MEMORY_MIB)
    code = protocol.FATAL_MODULE_NO_RAM
    assert result.fatal_code == code, (
        f"expected FATAL ERROR: 0x{code:02X}, got {result.reason()}\n{result.serial}")
    assert result.status == QEMU_LOADER_FATAL and "MODULE_NO_RAM" in result.reason(), result.reason()
    assert "kernel: CRC ok" in result.serial and not result.lines("FLUID-BOOT")


# -- a layout larger than the disk ----------------------------------------------------------------


@pytest.mark.integration
def test_too_big_for_the_floppy_is_refused_naming_the_sizes(oversized: dict[str, object]) -> None:
    proc, files = oversized["floppy"], oversized["files"]
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "doit image wrote a floppy larger than a floppy"
    assert "Traceback" not in output, output
    assert not oversized["floppy_image_written"], "build/fluid.img was written for a refused layout"
    message = re.search(r"image: the image needs (\d+) bytes \((.*)\), more than the 1474560-byte floppy "
                        r"holds; use `disk: hdd`", output)
    assert message, output
    for name, data in files.items():
        assert f"module '{name}' {len(data)} bytes at LBA " in message[2], message[2]
    assert f"kernel {len(oversized['hdd'].kernel)} bytes at LBA {protocol.KERNEL_LBA}" in message[2]
    assert int(message[1]) > FLOPPY_BYTES


def test_hard_disk_sized_for_the_modules_boots_from_ide(oversized: dict[str, object],
                                                      oversized_boot: BootResult) -> None:
    hdd: Build = oversized["hdd"]
    raw = hdd.image.read_bytes()
    directory = read_directory(raw)
    last = directory.entries[-1]
    need = last["lba"] * SECTOR + last["bytes"]
    assert len(raw) == max(disk.HDD_MIN_MIB * MIB, -(-need // MIB) * MIB), len(raw)
    assert_modules_listed(oversized_boot, oversized["files"], hdd.kernel)
    assert boot_line(oversized_boot)["disk"] == "LBA"


# -- manifest entries the graph checks ------------------------------------------------------------


@pytest.mark.integration  # doit list resolves the toolchain; nothing is built
@pytest.mark.parametrize(("module", "key", "message"), [
    ({"name": "gone", "path": "data/no-such.bin"}, "path",
     "boot module 'gone': data/no-such.bin: no such file"),
    ({"name": "meta", "target": "model_260k", "output": 3}, "output",
     "target 'model_260k' has 3 output(s) (build/model_260k/model.bin, build/model_260k/tokenizer.bin, "
     "build/model_260k/model.json); there is no output 3"),
])
def test_module_file_errors_name_the_manifest_line(fresh_tree: Path, module: dict, key: str,
                                                   message: str) -> None:
    set_manifest(fresh_tree, ("image", "modules"), [module])
    proc = doit(fresh_tree, "list", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    where = re.match(rf"fluidbuild: error: manifest\.yaml:(\d+): manifest error at "
                     rf"'image\.modules\[0\]\.{key}'", errors[0])
    assert where, errors[0]
    line = (fresh_tree / "manifest.yaml").read_text().splitlines()[int(where[1]) - 1]
    assert f"{key}:" in line, f"line {where[1]} is {line!r}"


# -- the writer, without a toolchain ------------------------------------------------------------


def test_directory_sector_and_module_places() -> None:
    model, empty, odd = b"M" * 1000, b"", bytes(range(256)) * 2 + b"!"
    pieces = boot_modules.lay_out(100, [("model", model), ("empty", empty), ("odd", odd)])
    assert [(lba, data) for lba, data in pieces[1:]] == [(101, model), (103, empty), (103, odd)]
    lba, sector = pieces[0]
    assert lba == 100 and len(sector) == SECTOR
    header = dict(zip(protocol.MODULE_DIR_FIELDS, DIR_HEADER.unpack_from(sector), strict=True))
    assert header == {"magic": b"FMOD", "version": 1, "count": 3, "crc32": directory_crc(sector),
                      "reserved": 0}
    assert entries_of(sector, 3) == [(b"model".ljust(16, b"\0"), 101, 1000, zlib.crc32(model), 0),
                       (b"empty".ljust(16, b"\0"), 103, 0, 0, 0),
                       (b"odd".ljust(16, b"\0"), 103, 513, zlib.crc32(odd), 0)]
    used = DIR_HEADER.size + 3 * DIR_ENTRY.size
    assert sector[used:] == bytes(SECTOR - used)
    assert boot_modules.lay_out(100, [("model", model), ("empty", empty), ("odd", odd)]) == pieces


@pytest.mark.parametrize(("modules", "message"), [
    ([], "0 boot modules; the directory holds 1 to 8"),
    ([(f"m{i}", b"x") for i in range(9)], "9 boot modules; the directory holds 1 to 8"),
    ([("a_name_of_16_chr", b"x")], "at most 15 ASCII characters"),
])
def test_directory_refuses_what_the_loader_cannot_read(modules: list[tuple[str, bytes]],
                                                      message: str) -> None:
    with pytest.raises(FluidError, match=message):
        boot_modules.lay_out(10, modules)


def parts(tmp_path: Path, kernel_bytes: int) -> list[Placement]:
    """A stage 1, stage 2 and kernel of the real slots, as files under ``tmp_path``."""
    sizes = {"stage1": (0, 1, SECTOR), "stage2": (1, 8, 8 * SECTOR), "kernel": (9, None, kernel_bytes)}
    placements = []
    for name, (lba, sectors, size) in sizes.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(bytes([len(name)]) * size)
        placements.append(Placement(name, str(path), lba, sectors))
    return placements


def module_files(tmp_path: Path, sizes: dict[str, int]) -> list[dict[str, str]]:
    modules = []
    for name, size in sizes.items():
        path = tmp_path / f"{name}.mod"
        path.write_bytes(hashlib.shake_256(name.encode()).digest(size))
        modules.append({"name": name, "path": str(path)})
    return modules


def test_write_image_puts_the_modules_after_the_kernel(tmp_path: Path) -> None:
    placements = parts(tmp_path, 1000)  # two kernel sectors: LBA 9 and 10
    modules = module_files(tmp_path, {"a": 700, "b": 5})
    out = tmp_path / "disk.img"
    disk.write_image(str(out), placements, FLOPPY_BYTES, modules, "kernel", "floppy")
    raw = out.read_bytes()
    assert len(raw) == FLOPPY_BYTES
    expected = boot_modules.lay_out(11, [(m["name"], Path(m["path"]).read_bytes()) for m in modules])
    for lba, data in expected:
        assert raw[lba * SECTOR:lba * SECTOR + len(data)] == data
    assert [lba for lba, _ in expected] == [11, 12, 14]
    assert raw[14 * SECTOR + 5:] == bytes(len(raw) - 14 * SECTOR - 5)
    again = tmp_path / "again.img"
    disk.write_image(str(again), placements, FLOPPY_BYTES, modules, "kernel", "floppy")
    assert again.read_bytes() == raw


def test_a_disk_too_small_is_refused_with_every_size(tmp_path: Path) -> None:
    placements = parts(tmp_path, 1000)
    modules = module_files(tmp_path, {"model": FLOPPY_BYTES})
    out = tmp_path / "disk.img"
    need = 12 * SECTOR + FLOPPY_BYTES
    with pytest.raises(FluidError) as info:
        disk.write_image(str(out), placements, FLOPPY_BYTES, modules, "kernel", "floppy")
    assert str(info.value) == (
        f"the image needs {need} bytes (stage1 512 bytes at LBA 0, stage2 4096 bytes at LBA 1, kernel "
        f"1000 bytes at LBA 9, module directory 512 bytes at LBA 11, module 'model' {FLOPPY_BYTES} bytes "
        f"at LBA 12), more than the {FLOPPY_BYTES}-byte floppy holds; use `disk: hdd` (a hard disk image "
        f"sized for its parts)")
    with pytest.raises(FluidError, match=r"more than the 1 MiB hard disk \(1048576 bytes\) holds; raise "
                                         r"image.hdd_mib to 2 or leave it out"):
        disk.write_image(str(out), placements, MIB, modules, "kernel", "hdd")
    assert not out.exists()


def test_a_hard_disk_without_hdd_mib_grows_to_whole_mib(tmp_path: Path) -> None:
    placements = parts(tmp_path, 1000)
    out = tmp_path / "disk.img"
    small = module_files(tmp_path, {"m": 100})
    disk.write_image(str(out), placements, disk.HDD_MIN_MIB * MIB, small, "kernel", "hdd", grow=True)
    assert out.stat().st_size == disk.HDD_MIN_MIB * MIB, "the smallest grown disk"
    big = module_files(tmp_path, {"big": disk.HDD_MIN_MIB * MIB})
    disk.write_image(str(out), placements, disk.HDD_MIN_MIB * MIB, big, "kernel", "hdd", grow=True)
    assert out.stat().st_size == (disk.HDD_MIN_MIB + 1) * MIB
    assert out.read_bytes()[12 * SECTOR:12 * SECTOR + 64] == Path(big[0]["path"]).read_bytes()[:64]

