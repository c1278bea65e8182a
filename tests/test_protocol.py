"""The boot protocol's one source (src/protocol/protocol.toml) and its generated copies.

The NASM include, the C header and the Python module the build generates, the
committed fluidbench/protocol.py and the tables of docs/boot-protocol.md must
equal what plugins/fluidos/protocol.py renders from the spec; the three
languages must agree on every constant; the spec must say what the boot and
fault tests expect; a change to the spec must regenerate and recompile what
includes it. Real kernel and native lines are checked against the schemas in
tests/test_boot.py and tests/test_bench_correctness.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, doit, edit, executed

from fluidbench import lines, protocol
from fluidbuild.errors import FluidError
from fluidbuild_plugins.fluidos import protocol as generator

SPEC = generator.SPEC_PATH
NASM_ASSIGN = re.compile(r"^%assign (\w+) (\S+)", re.M)
NASM_DEFINE = re.compile(r"^%define (\w+) '([^']*)'", re.M)
C_DEFINE = re.compile(r'^#define (\w+) ("[^"]*"|0x[0-9A-Fa-f]+u?|[0-9]+u?)(?: |$)', re.M)
C_ENUM = re.compile(r"^    (CPU_FEAT\w+) = ([0-9]+),", re.M)

KERNEL_LINE = ('{"name":"fft_1d","variant":"fft_1d_AVX2","size":4096,"iterations":2,"cycles":123,'
               '"ns":45,"work":9,"unit":"flop","throughput_milli":7,"throughput_unit":"flop/s",'
               '"checksum":"0x00000000deadbeef"}')
NATIVE_LINE = ('{"name":"fft_1d","variant":"tuned","size":4096,"iterations":2,"cycles":123,"ns":45,'
               '"work":9,"unit":"flop","throughput_milli":7,"throughput_unit":"flop/s",'
               '"checksum":"0x00000000deadbeef","arch":"x86_64","min_ns":20,"median_ns":22}')


def python_constants() -> dict[str, int | bytes]:
    return {name: value for name, value in vars(protocol).items()
            if re.fullmatch(r"[A-Z][A-Z0-9_]*", name) and isinstance(value, int | bytes)}


def c_value(text: str) -> int | bytes:
    return text.strip('"').encode() if text.startswith('"') else int(text.rstrip("u"), 0)


# -- the committed copies --------------------------------------------------------------------


def test_committed_copies_are_what_the_spec_renders() -> None:
    for path, text in generator.committed(ROOT).items():
        assert (ROOT / path).read_text() == text, (
            f"{path} is out of date with {SPEC}; refresh it with {generator.REFRESH}")


def test_a_changed_spec_makes_the_committed_copies_stale(tmp_path: Path) -> None:
    for path in (SPEC, generator.COMMITTED_PY, generator.DOC_PATH):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    assert generator.main(["--root", str(tmp_path), "--check"]) == 0
    edit(tmp_path / SPEC, 'meaning = "kernel not found"', 'meaning = "no kernel on the disk"')
    assert generator.main(["--root", str(tmp_path), "--check"]) == 1
    assert generator.main(["--root", str(tmp_path)]) == 0
    assert "no kernel on the disk" in (tmp_path / generator.COMMITTED_PY).read_text()
    assert generator.main(["--root", str(tmp_path), "--check"]) == 0


# -- one value in every language ----------------------------------------------------------


def test_nasm_c_and_python_agree_on_every_constant() -> None:
    spec = generator.load(SPEC, ROOT)
    py = python_constants()
    nasm_text, c_text = generator.render_nasm(spec), generator.render_c(spec)
    nasm = {name: int(value, 0) for name, value in NASM_ASSIGN.findall(nasm_text)}
    nasm.update({name: value.encode() for name, value in NASM_DEFINE.findall(nasm_text)})
    c = {name: c_value(value) for name, value in C_DEFINE.findall(c_text)}
    c.update({name: int(value) for name, value in C_ENUM.findall(c_text)})
    assert nasm == {name: py[name] for name in nasm}
    assert c == {name: py[name] for name in c}
    # Every Python constant is in the C header, and every one except the
    # structures' own (counts, sizes, C-only enums) is in the NASM include.
    assert set(py) <= set(c) | {"CPU_FEATURE_COUNT"}, sorted(set(py) - set(c))
    assert set(nasm) <= set(c) | {"CPU_FEATURE_COUNT"}


def test_header_and_boot_info_layouts() -> None:
    import struct

    assert struct.calcsize(protocol.FLUD_HEADER_FORMAT) == protocol.FLUD_HEADER_SIZE == 64
    assert struct.calcsize(protocol.BOOT_INFO_FORMAT) == protocol.BOOT_INFO_SIZE
    e820_bytes = protocol.BOOT_INFO_E820_MAX * protocol.E820_ENTRY_SIZE
    assert protocol.BI_E820 + e820_bytes == protocol.BI_MODULE_COUNT
    module_bytes = protocol.BOOT_INFO_MODULE_MAX * protocol.BOOT_MODULE_SIZE
    assert protocol.BI_MODULES + module_bytes == protocol.BOOT_INFO_SIZE
    # Stage 2 copies directory entries into the boot info and puts the address where the LBA was.
    assert protocol.MODULE_ENTRY_FORMAT == protocol.BOOT_MODULE_FORMAT
    assert protocol.MENT_LBA == protocol.BMOD_ADDR
    # The directory, with as many entries as the boot info holds, is one sector.
    assert protocol.MODULE_DIR_SIZE + module_bytes <= protocol.SECTOR_SIZE
    assert protocol.BOOT_INFO_ADDR + protocol.BOOT_INFO_SIZE <= 0x1000, "boot info overlaps the seed kernel"
    assert protocol.FLUD_MAGIC == b"FLUD"
    assert protocol.KERNEL_BOOT_MAGIC.to_bytes(4, "big") == b"FLUD"
    assert protocol.BOOT_INFO_MAGIC.to_bytes(4, "little") == b"FBI1"
    assert [f["bit"] for f in protocol.CPU_FEATURES] == list(range(protocol.CPU_FEATURE_COUNT))


def test_spec_says_what_the_boot_and_fault_tests_expect() -> None:
    from test_boot import A20_METHODS, DRIVES
    from test_faults import LOADER_CASES, QEMU_EXCEPTION, QEMU_LOADER_FATAL, QEMU_PANIC

    for _, _, code, name in LOADER_CASES.values():
        assert protocol.LOADER_FATAL[code]["name"] == name
    statuses = {s["name"]: s["qemu_status"] for s in protocol.EXIT_STATUSES.values()}
    assert statuses["EXIT_LOADER_FATAL"] == QEMU_LOADER_FATAL
    assert statuses["EXIT_PANIC"] == QEMU_PANIC and statuses["EXIT_EXCEPTION"] == QEMU_EXCEPTION
    a20 = protocol.BOOT_INFO_A20_METHOD_VALUES
    assert {value: a20[value] for value in A20_METHODS} == A20_METHODS
    assert {disk for disk, _ in DRIVES.values()} == set(protocol.BOOT_INFO_DISK_MODE_VALUES.values())
    assert protocol.KERNEL_LBA * protocol.SECTOR_SIZE == 9 * 512
    assert protocol.FATAL_DISK_READ == 0xD1


# -- the line schemas -----------------------------------------------------------------------


def test_one_bench_schema_for_kernel_and_native_lines() -> None:
    import json

    assert lines.line_errors("FLUID-BENCH", json.loads(KERNEL_LINE)) == []
    assert lines.line_errors("FLUID-BENCH", json.loads(NATIVE_LINE)) == []
    fields = protocol.LINES["FLUID-BENCH"]["fields"]
    common = [name for name, f in fields.items() if f["required"]]
    assert common == ["name", "variant", "size", "iterations", "cycles", "ns", "work", "unit",
                      "throughput_milli", "throughput_unit", "checksum"]
    assert {name for name, f in fields.items() if f["by"] == "native"} == {"arch", "min_ns", "median_ns"}


def test_line_errors_name_what_is_wrong() -> None:
    import json

    line = json.loads(NATIVE_LINE)
    line["throughput"] = 1.5
    del line["checksum"]
    line["size"] = True
    line["arch"] = "arm64"
    errors = lines.line_errors("FLUID-BENCH", line)
    assert "FLUID-BENCH: unknown field 'throughput'" in errors
    assert "FLUID-BENCH: missing field 'checksum'" in errors
    assert "FLUID-BENCH: field 'size' is bool, expected integer" in errors
    assert any(e.startswith("FLUID-BENCH: field 'arch' is 'arm64', expected one of") for e in errors)
    assert lines.line_errors("FLUID-EXIT", {"status": "ok"}) == []
    assert lines.line_errors("FLUID-EXIT", {"status": "fine"}) != []
    assert lines.line_errors("FLUID-NOPE", {}) == ["unknown line tag 'FLUID-NOPE'"]


# -- the spec is checked ------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "message"), [
    ("name = \"entry\"\noffset = 12", "name = \"entry\"\noffset = 13",
     r"flud_header.entry: offset 13, but the fields before it end at 12"),
    ("size = 1080", "size = 1084", r"boot_info: fields take 1080 bytes, size says 1084"),
    ('name = "NO_KERNEL"\nvalue = 0xE0', 'name = "NO_KERNEL"\nvalue = 0xD1',
     r"loader fatal code 0xd1 used twice"),
    ('name = "lzcnt"\nbit = 19', 'name = "lzcnt"\nbit = 20', r"cpu feature lzcnt: bit 20, expected 19"),
    ('name = "EXIT_CHECK"', 'name = "EXIT_PANIC"', r"constant EXIT_PANIC is defined twice"),
])
def test_inconsistent_spec_is_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    spec = tmp_path / SPEC
    spec.parent.mkdir(parents=True)
    spec.write_text((ROOT / SPEC).read_text())
    edit(spec, old, new)
    with pytest.raises(FluidError, match=message):
        generator.load(SPEC, tmp_path)


# -- the build graph -----------------------------------------------------------------------------


def test_build_writes_headers_the_generator_renders(built_tree: Path) -> None:
    spec = generator.load(SPEC, built_tree)
    for lang, renderer in (("nasm", generator.render_nasm), ("c", generator.render_c)):
        path = built_tree / "build/gen" / generator.OUTPUT_FILES[lang]
        assert path.read_text() == renderer(spec), f"{path} differs from what {SPEC} renders"


def test_python_target_writes_the_committed_module(tree: Path) -> None:
    doit(tree, "protocol_py")
    assert (tree / "build/gen/protocol.py").read_text() == (ROOT / generator.COMMITTED_PY).read_text()


def test_spec_change_regenerates_and_recompiles_its_includers(tree: Path) -> None:
    edit(tree / SPEC, 'meaning = "CPU exception"', 'meaning = "CPU exception (trap)"')
    ran = set(executed(doit(tree, "image")))
    assert {"protocol_nasm", "protocol_c"} <= ran
    assert {"stage1:src/boot/stage1.asm", "stage2:src/boot/stage2.asm", "kernel_asm:src/kernel/entry.asm",
            "kernel_ir:src/kernel/exit.c"} <= ran, sorted(ran)
    assert "EXIT_EXCEPTION 0x02 /* CPU exception (trap) */" in (tree / "build/gen/protocol.h").read_text()
    assert "bench_ir:generic:src/bench/fft_1d.c" not in ran, "the benchmarks do not include the protocol"
    again = executed(doit(tree, "image"))
    assert again == [], f"a second build reran {again}"
