"""Unit tests of each built-in plugin, and plugin failures seen through doit."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import yaml
from conftest import doit, edit, executed

from fluidbench.qemu import RunProfile
from fluidbuild import depfile
from fluidbuild.doit_tasks import default_tasks
from fluidbuild.errors import FluidError
from fluidbuild.fingerprint import describe_changes
from fluidbuild.model import Command, Placement, TargetResult, Tool
from fluidbuild.testing import PluginTest
from fluidbuild_plugins.compile import flatten
from fluidbuild_plugins.fluidos import bench_registry, cpu_flags, image, qemu, stamp

FAKE_TOOLS = {name: Tool(name, f"/opt/fake/{name}", f"{name} version 19.1.7")
              for name in ("nasm", "clang", "linker")}


PROFILE = {"clang_flags": ["-march=haswell"], "tag": "AVX2", "feature_bits": 0x2000}


def declare(root: Path, plugin: str, sources: tuple[str, ...], options: dict, inputs: list[str],
            profile: dict | None = None, **sections: object) -> TargetResult:
    """The tasks ``plugin`` declares for a manifest target ``t`` (sources created empty, options and
    ``sections`` validated by the plugins' schemas) given ``inputs``, with the fake toolchain."""
    manifest = {"targets": {"t": {"plugin": plugin, "sources": list(sources), "options": options}},
                **sections}
    kit = PluginTest(root, yaml.safe_dump(manifest), tools=FAKE_TOOLS, cpu_profile=profile or PROFILE,
                     files=dict.fromkeys(sources, ""))
    return kit.target_tasks("t", inputs)


def test_nasm_declares_dependency_pass_and_exact_size(tmp_path: Path) -> None:
    opts = {"format": "bin", "size": 512, "include_dirs": ["src/boot"], "defines": {"A": 1, "B": True}}
    result = declare(tmp_path, "nasm", ("src/boot/stage1.asm",), opts,
                     ["build/gen/protocol.inc", "build/gen/protocol.h"])
    task = result.tasks[0]
    deps_cmd, asm_cmd = task.actions
    assert isinstance(asm_cmd, Command) and asm_cmd.outputs == ["build/t/stage1.bin"]
    assert deps_cmd.argv[-6:] == ["-M", "-MF", "build/t/stage1.bin.d", "-MT", "build/t/stage1.bin",
                                  "src/boot/stage1.asm"]
    assert "-DA=1" in asm_cmd.argv and "-DB=1" in asm_cmd.argv and "-Isrc/boot/" in asm_cmd.argv
    assert task.depfile == "build/t/stage1.bin.d"
    # A generated include of a dependency: a file dependency, its folder on the include path.
    assert task.file_dep == ["src/boot/stage1.asm", "build/gen/protocol.inc"]
    assert asm_cmd.argv.index("-Isrc/boot/") < asm_cmd.argv.index("-Ibuild/gen/")
    assert task.config["tool"] == {"path": "/opt/fake/nasm", "version": "nasm version 19.1.7"}
    assert asm_cmd.verify is not None
    three_bytes = tmp_path / "three_bytes.bin"
    three_bytes.write_bytes(b"abc")
    with pytest.raises(FluidError, match="is 3 bytes; it must be exactly 512"):
        asm_cmd.verify({"build/t/stage1.bin": str(three_bytes)})
    three_bytes.write_bytes(bytes(512))
    asm_cmd.verify({"build/t/stage1.bin": str(three_bytes)})


def test_clang_ir_variants_get_profile_flags_only_when_tuned(tmp_path: Path) -> None:
    base = {"triple": "i686-unknown-none-elf", "std": "c11", "opt": "O2", "include_dirs": [],
            "defines": {}}
    tuned = declare(tmp_path, "clang_ir", ("a.c",), {**base, "variant": "tuned"}, ["gen/r.c", "x.bc"])
    generic = declare(tmp_path, "clang_ir", ("a.c",), {**base, "variant": "generic"}, [])
    assert [t.name for t in tuned.tasks] == ["t:a.c", "t:gen/r.c"]
    argv = tuned.tasks[0].actions[0].argv
    assert "-march=haswell" in argv and "-DFLUID_VARIANT_SUFFIX=_tuned" in argv
    assert tuned.tasks[0].config["cpu"]["tag"] == "AVX2"
    gargv = generic.tasks[0].actions[0].argv
    assert "-march=haswell" not in gargv and "-DFLUID_VARIANT_SUFFIX=_generic" in gargv
    assert "cpu" not in generic.tasks[0].config


def test_clang_ir_generated_header_is_a_dependency_not_a_source(tmp_path: Path) -> None:
    opts = {"triple": "i686-unknown-none-elf", "std": "c11", "opt": "O2", "include_dirs": ["src/kernel"],
            "defines": {}, "variant": "none"}
    result = declare(tmp_path, "clang_ir", ("a.c",), opts, ["build/gen/protocol.h", "build/gen/protocol.inc"])
    [task] = result.tasks
    assert task.file_dep == ["a.c", "build/gen/protocol.h"]
    argv = task.actions[0].argv
    assert argv.index("-Isrc/kernel") < argv.index("-Ibuild/gen")


def test_cpu_flags_helpers() -> None:
    assert cpu_flags._mattr_flags("+avx2,-sha") == ["-mavx2", "-mno-sha"]
    assert cpu_flags._tag(["sse2", "avx", "avx2"]) == "AVX2"
    assert cpu_flags._tag([]) == "generic"


@pytest.mark.integration  # asks the real clang for its macros
def test_cpu_profile_pinned_uses_clang_macros() -> None:
    clang = shutil.which("clang-19") or shutil.which("clang")
    assert clang, "clang is part of the toolchain the suite installs"
    tools = {"clang": Tool("clang", clang, "x")}.__getitem__
    profile = cpu_flags.fluidbuild_cpu_profile({"mode": "pinned", "cpu": "haswell", "features": None}, tools)
    assert profile["tag"] == "AVX2"
    assert {"avx2", "fma", "bmi2"} <= set(profile["features"]) and "sha" not in profile["features"]
    generic = cpu_flags.fluidbuild_cpu_profile({"mode": "generic"}, tools)
    assert generic["tag"] == "generic" and generic["feature_bits"] == 0


def test_bench_registry_renders_and_rejects_unknown_names(tmp_path: Path) -> None:
    text = bench_registry.render([{"name": "fft_1d", "size": 0, "iterations": 2}], tuned=True)
    assert "extern const struct bench_desc bench_fft_1d_tuned;" in text
    assert '{"fft_1d", &bench_fft_1d_generic, &bench_fft_1d_tuned, 0, 2},' in text
    assert "bench_registry_count = 1;" in text
    result = declare(tmp_path, "bench_registry", ("src/bench/fft_1d.c",), {}, [],
                     benchmarks=[{"name": "fft_1d", "iterations": 2}])
    assert result.outputs == ["build/gen/t.c"] and result.tasks[0].targets == ["build/gen/t.c"]
    assert result.tasks[0].config == {"entries": [{"name": "fft_1d", "size": 0, "iterations": 2}],
                                      "tuned": True}
    with pytest.raises(FluidError, match="no source for 'nope'"):
        declare(tmp_path, "bench_registry", ("src/bench/fft_1d.c",), {"tuned": True}, [],
                benchmarks=[{"name": "nope", "iterations": 1}])


def test_image_layout_and_fit_checks(tmp_path: Path) -> None:
    spec = {"layout": [{"part": "a", "lba": 0, "sectors": 1}, {"part": "b", "lba": 1, "sectors": None}],
            "disk_sectors": 2880}
    placements = image.fluidbuild_image_layout(spec, {"a": "a.bin", "b": "b.bin"})
    assert placements == [Placement("a", "a.bin", 0, 1), Placement("b", "b.bin", 1, None)]
    from fluidbuild_plugins.fluidos.disk import write_image

    (tmp_path / "a.bin").write_bytes(b"A" * 513)
    (tmp_path / "b.bin").write_bytes(b"B")
    moved = [Placement(p.part, str(tmp_path / p.path), p.lba, p.max_sectors) for p in placements]
    with pytest.raises(FluidError, match="is 513 bytes but its slot at LBA 0 holds 512 bytes"):
        write_image(str(tmp_path / "x.img"), moved, 4096)
    assert not (tmp_path / "x.img").exists()


def test_qemu_command_is_headless_with_debug_exit() -> None:
    profile = RunProfile("lba", "qemu", "qemu-system-i386", "tcg", "Haswell", 64, 5.0, "ide", ("-smp", "1"),
                         "build/serial.log")
    argv = qemu.fluidbuild_qemu_command(profile, "build/fluid.img", Tool("q", "/usr/bin/q", "v"), False)
    assert argv[0] == "/usr/bin/q" and argv[-2:] == ["-smp", "1"]
    assert "isa-debug-exit,iobase=0xf4,iosize=0x04" in argv and "-nic" in argv and "none" in argv
    assert "file=build/fluid.img,format=raw,if=ide,snapshot=on" in argv
    assert argv[argv.index("-boot") + 1] == "c" and argv[argv.index("-cpu") + 1] == "Haswell"
    debug = qemu.fluidbuild_qemu_command(profile, "i.img", Tool("q", "/q", "v"), True)
    assert "tcp:127.0.0.1:1234" in debug and "build/qemu.log" in debug, "the GDB stub listens locally"


def test_stamp_fills_header_and_crc(tmp_path: Path) -> None:
    flat = tmp_path / "k.bin"
    flat.write_bytes(b"FLUD" + bytes(60) + b"body" * 300)
    info = tmp_path / "k.json"
    info.write_text('{"load_addr": 1048576, "entry": 1048640, "bss_end": 1100000}')
    out = tmp_path / "kernel.bin"
    stamp.stamp(str(flat), str(info), str(out), features=0x2000, tag="AVX2", max_bytes=None)
    data = out.read_bytes()
    magic, version, hsize, load, entry, size, sectors, crc, feats, tag, bss = struct.unpack_from(
        "<4sHHIIIIII16sI", data)
    assert (magic, version, hsize, load, entry) == (b"FLUD", 1, 64, 0x100000, 0x100040)
    assert size == len(data) == 64 + 1200 and sectors == 3
    assert crc == zlib.crc32(data[:24] + bytes(4) + data[28:]), "the CRC covers the whole image"
    assert feats == 0x2000 and tag.rstrip(b"\0") == b"AVX2"
    assert bss == 1100000


def test_stamp_refuses_kernel_too_large_for_low_layout(tmp_path: Path) -> None:
    flat = tmp_path / "k.bin"
    flat.write_bytes(b"FLUD" + bytes(40000))
    info = tmp_path / "k.json"
    info.write_text('{"load_addr": 4096, "entry": 4160, "bss_end": 50000}')
    with pytest.raises(FluidError, match=r"kernel is 40004 bytes, larger than the room below 0x7c00 at "
                                         r"load address 0x1000 \(27648 bytes\)"):
        stamp.stamp(str(flat), str(info), str(tmp_path / "o.bin"), 0, "generic", None)
    assert not (tmp_path / "o.bin").exists()


@pytest.mark.integration  # nasm and ld.lld make the ELF
def test_flatten_real_elf(tmp_path: Path) -> None:
    (tmp_path / "a.asm").write_text("section .header\ndb 'FLUD'\ntimes 60 db 0\nsection .text\n"
                                    "global _start\n_start: jmp $\nsection .bss\nresb 100\n")
    (tmp_path / "l.ld").write_text("ENTRY(_start)\nSECTIONS { . = KERNEL_LOAD_ADDR;\n"
                                   ".header : { *(.header) } .text : { *(.text) } .bss : { *(.bss) } }\n")
    subprocess.run(["nasm", "-f", "elf32", "a.asm", "-o", "a.o"], cwd=tmp_path, check=True)
    subprocess.run(["ld.lld-19", "-m", "elf_i386", "--defsym=KERNEL_LOAD_ADDR=0x100000", "-T", "l.ld",
                    "a.o", "-o", "a.elf"], cwd=tmp_path, check=True)
    flatten.flatten(str(tmp_path / "a.elf"), str(tmp_path / "a.bin"), str(tmp_path / "a.json"))
    data = (tmp_path / "a.bin").read_bytes()
    assert data[:4] == b"FLUD" and len(data) == 66
    import json

    info = json.loads((tmp_path / "a.json").read_text())
    assert info["load_addr"] == 0x100000 and info["entry"] == 0x100040 and info["bss_end"] >= 0x100042 + 100


def test_depfile_parse_handles_continuations_and_escapes() -> None:
    text = "out.o: a.c b\\ c.h \\\n  d.h\n"
    assert depfile.parse(text) == ["a.c", "b c.h", "d.h"]


def test_fingerprint_describes_changes() -> None:
    old = {"argv": ["clang", "-O2"], "tool": {"version": "19"}}
    new = {"argv": ["clang", "-O3"], "tool": {"version": "19"}, "cpu": "x"}
    assert describe_changes(old, new) == ["argv: ['clang', '-O2'] -> ['clang', '-O3']", "cpu added: 'x'"]


@pytest.mark.parametrize("argv,expected", [
    (["doit"], ["image"]), (["doit", "run"], ["run"]), (["doit", "-n", "2", "run"], ["run"]),
    (["doit", "run", "image"], ["image"]), (["doit", "run", "profile=lba"], ["run"]),
    (["doit", "list"], ["image"]),
])
def test_plain_doit_run_boots(argv: list[str], expected: list[str]) -> None:
    assert default_tasks(argv) == expected


# -- plugins seen through doit ------------------------------------------------------


def add_local_plugin(tree: Path, name: str, fixture: str) -> None:
    shutil.copy(Path(__file__).parent / "fixtures" / fixture, tree / fixture)
    edit(tree / "manifest.yaml", "build_dir: build",
         f"build_dir: build\nlocal_plugins: {{{name}: {fixture}}}")


def test_plugin_raising_while_declaring_is_named(tree: Path) -> None:
    add_local_plugin(tree, "boom", "boom_plugin.py")
    edit(tree / "manifest.yaml", "targets:\n", "targets:\n  bang: {plugin: boom}\n")
    proc = doit(tree, "image", check=False)
    assert proc.returncode == 2
    assert "plugin 'boom' failed in hook fluidbuild_target_tasks: RuntimeError: boom while declaring" \
        in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plugin_raising_in_its_action_is_named(tree: Path) -> None:
    add_local_plugin(tree, "boom", "boom_plugin.py")
    edit(tree / "manifest.yaml", "targets:\n",
         "targets:\n  bang: {plugin: boom, options: {fail_in: action}}\n")
    proc = doit(tree, "bang", check=False)
    assert proc.returncode != 0
    assert "plugin 'boom' failed in explode: ValueError: boom while building" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_builtin_replaced_by_name_without_touching_fluidbuild(tree: Path) -> None:
    add_local_plugin(tree, "lba_loader", "lba_loader.py")
    edit(tree / "manifest.yaml", "  stage2:\n    plugin: nasm", "  stage2:\n    plugin: lba_loader")
    edit(tree / "manifest.yaml", "    options: {format: bin, size: 4096, include_dirs: [src/boot]}\n", "")
    ran = executed(doit(tree, "image"))
    assert "stage2:src/boot/stage2.asm" in ran and "stage2_stamped" in ran
    assert (tree / "build/stage2/lba_stage2.bin").exists()
    listing = doit(tree, "plugins").stdout
    assert "lba_loader" in listing and "2.5.0" in listing and "lba_loader.py" in listing


def test_missing_tool_names_the_debian_package(tree: Path) -> None:
    edit(tree / "manifest.yaml", "toolchain:\n", "toolchain:\n  nasm: [nasm-not-installed]\n")
    proc = doit(tree, "image", check=False)
    assert proc.returncode != 0
    assert ("missing tool: nasm (tried nasm-not-installed); install the Debian package 'nasm'"
            in proc.stdout + proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr


def test_list_documents_every_task_and_plugins_lists_builtins(built_tree: Path) -> None:
    lines = doit(built_tree, "list").stdout.splitlines()
    names = {line.split()[0] for line in lines}
    assert {"image", "run", "debug", "plugins", "cpu_profile", "kernel", "stage1", "stage2"} <= names
    assert all(len(line.split(None, 1)) == 2 for line in lines), "every task has a one-line doc"
    plugins_out = doit(built_tree, "plugins").stdout
    for name in ("nasm", "clang_ir", "llvm_link", "codegen", "link", "flatten", "stamp", "cpu_flags",
                 "image", "qemu", "bench_registry", "protocol"):
        assert f"\n{name} " in "\n" + plugins_out, name
    assert "fluidbuild" in plugins_out


def test_cpu_profile_task_writes_profile(tree: Path) -> None:
    doit(tree, "cpu_profile")
    import json

    profile = json.loads((tree / "build/cpu_profile.json").read_text())
    assert {"tag", "llvm_cpu", "llvm_features", "clang_flags", "feature_bits", "host"} <= set(profile)
    assert profile["host"]["caches"] and profile["host"]["cpuid_flags"]
    assert "CPU_CFLAGS :=" in (tree / "build/gen/auto_cpu_flags.mk").read_text()


def test_clang_ir_tuned_under_generic_profile_uses_the_target_baseline(tmp_path: Path) -> None:
    base = {"triple": "x86_64-unknown-linux-gnu", "std": "c11", "opt": "O2", "include_dirs": [],
            "defines": {}, "variant": "tuned"}
    profile = {"mode": "generic", "clang_flags": ["-march=i686"], "tag": "generic"}
    result = declare(tmp_path, "clang_ir", ("a.c",), base, [], profile)
    argv = result.tasks[0].actions[0].argv
    assert "-march=x86-64" in argv and "-march=i686" not in argv
