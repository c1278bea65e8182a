"""Incremental and correct: what reruns, what does not, and what is trusted."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import doit, edit, executed

KERNEL_CHAIN = {"kernel_bc", "kernel_obj", "kernel_elf", "kernel_flat", "kernel", "image"}


def test_noop_build_runs_nothing(tree: Path) -> None:
    assert executed(doit(tree, "image")) == []


def test_new_mtimes_rebuild_nothing(tree: Path) -> None:
    """A fresh CI checkout gives every file a new mtime: content decides."""
    future = time.time() + 100
    for path in (tree / "src").rglob("*"):
        os.utime(path, (future, future))
    os.utime(tree / "manifest.yaml", (future, future))
    assert executed(doit(tree, "image")) == []


def test_one_c_file_reruns_only_its_chain(tree: Path) -> None:
    vga = tree / "src/kernel/vga.c"
    vga.write_text(vga.read_text() + "\nint vga_rebuild_marker(void) { return 7; }\n")
    ran = set(executed(doit(tree, "image")))
    assert "kernel_ir:src/kernel/vga.c" in ran
    assert ran <= KERNEL_CHAIN | {"kernel_ir:src/kernel/vga.c"}
    assert "image" in ran
    assert not any(t.startswith(("stage1", "stage2", "kernel_asm")) for t in ran)


def test_header_change_reruns_its_includers(tree: Path) -> None:
    """Exactly the files whose compiler-reported dependencies list the header."""
    includers = {f"kernel_ir:src/kernel/{d.name.split('__')[-1][:-len('.bc.d')]}"
                 for d in (tree / "build/kernel_ir").glob("*.d") if "src/kernel/vga.h" in d.read_text()}
    assert "kernel_ir:src/kernel/vga.c" in includers
    header = tree / "src/kernel/vga.h"
    header.write_text(header.read_text() + "\n/* touched */\n")
    ran = set(executed(doit(tree, "image")))
    compiled = {t for t in ran if t.startswith("kernel_ir:")}
    assert compiled == includers


def test_nasm_include_change_reruns_stage2(tree: Path) -> None:
    inc = tree / "src/boot/load.inc"
    inc.write_text(inc.read_text() + "\n; touched\n")
    ran = executed(doit(tree, "image"))
    assert "stage2:src/boot/stage2.asm" in ran
    assert "stage1:src/boot/stage1.asm" not in ran


def test_flag_change_reruns_affected_tasks_and_explains(tree: Path) -> None:
    edit(tree / "manifest.yaml", "options: {triple: i386-unknown-none-elf, opt: 2}",
         "options: {triple: i386-unknown-none-elf, opt: 1}")
    proc = doit(tree, "image", "explain=1")
    ran = set(executed(proc))
    assert "kernel_obj" in ran
    assert not any(":" in t for t in ran), "no compile or assemble task may rerun"
    assert "[explain] kernel_obj: opt: 2 -> 1" in proc.stderr


def test_define_change_reruns_only_that_asm(tree: Path) -> None:
    edit(tree / "manifest.yaml", "options: {format: bin, size: 4096, include_dirs: [src/boot]}",
         "options: {format: bin, size: 4096, include_dirs: [src/boot], defines: {FLUID_UNUSED: 1}}")
    ran = set(executed(doit(tree, "image")))
    assert ran == {"stage2:src/boot/stage2.asm"} or ran == {"stage2:src/boot/stage2.asm", "image"}


def test_profile_change_rebuilds_only_tuned_code(tree: Path) -> None:
    edit(tree / "manifest.yaml", "  mode: host", "  mode: pinned\n  cpu: haswell")
    ran = set(executed(doit(tree, "image")))
    assert any(t.startswith("bench_ir:tuned:") for t in ran) or not list(
        (tree / "src/bench").glob("*.c"))
    # The profile-independent variants stay; the table changes (Haswell has no AVX-512 level).
    assert not any(t.startswith(("kernel_ir:", "bench_ir:generic:", "bench_ir:sse2:", "bench_ir:avx2:",
                                 "stage", "kernel_asm")) for t in ran)
    assert "bench_ir:table" in ran
    assert {"kernel_obj", "kernel", "image"} <= ran
    header = (tree / "build/kernel.bin").read_bytes()[:64]
    assert header[32:36] == b"AVX2"


def test_parallel_clean_build_is_byte_identical(built_tree: Path, fresh_tree: Path) -> None:
    doit(fresh_tree, "-n", "2", "image")
    assert (fresh_tree / "build/fluid.img").read_bytes() == (built_tree / "build/fluid.img").read_bytes()


def test_interrupted_build_leaves_nothing_trusted(fresh_tree: Path) -> None:
    """Kill the build while the linker writes: no partial kernel_elf.elf, and the
    next build reruns the link."""
    slow = fresh_tree / "slow-ld"
    slow.write_text("#!/bin/sh\n"
                    "[ \"$1\" = --version ] && { echo slow-ld 1.0; exit 0; }\n"
                    "while [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n"
                    "printf partial > \"$out\"\nsleep 60\n")
    slow.chmod(0o755)
    manifest = fresh_tree / "manifest.yaml"
    original = manifest.read_text()
    manifest.write_text(original.replace("toolchain:\n", f"toolchain:\n  linker: [{slow}]\n"))
    proc = subprocess.Popen([sys.executable, "-m", "doit", "image"], cwd=fresh_tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not list((fresh_tree / "build").glob("kernel_elf.elf.tmp-*")):
        assert time.time() < deadline and proc.poll() is None, "the link never started"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (fresh_tree / "build/kernel_elf.elf").exists()
    manifest.write_text(original)
    ran = executed(doit(fresh_tree, "image"))
    assert "kernel_elf" in ran
    assert (fresh_tree / "build/fluid.img").stat().st_size == 1_474_560


def test_second_process_is_refused(tree: Path) -> None:
    lock = tree / "build/.fluidbuild/lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242")
        proc = doit(tree, "image", check=False)
    finally:
        os.close(fd)
    assert proc.returncode == 2
    assert "another fluidbuild process (pid 4242)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_clean_removes_outputs(tree: Path) -> None:
    doit(tree, "clean")
    assert not (tree / "build/fluid.img").exists()
    assert not (tree / "build/kernel.bin").exists()
    ran = executed(doit(tree, "image"))
    assert "image" in ran and "kernel_obj" in ran


def test_other_manifest_is_chosen_with_a_variable(tree: Path) -> None:
    text = (tree / "manifest.yaml").read_text().replace("build_dir: build", "build_dir: build-other")
    (tree / "other.yaml").write_text(text)
    doit(tree, "image", "manifest=other.yaml")
    assert (tree / "build-other/fluid.img").stat().st_size == 1_474_560
