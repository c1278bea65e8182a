"""``doit run``: boots the image in QEMU (TCG) and judges the guest's verdict."""

from __future__ import annotations

from pathlib import Path

from conftest import doit, edit

from fluidbench.qemu import BootResult


def test_doit_run_boots_and_succeeds(built_tree: Path) -> None:
    proc = doit(built_tree, "run", timeout=120)
    assert "Fluid OS" in proc.stdout
    boot_lines = [line for line in proc.stdout.splitlines() if line.startswith("FLUID-BOOT {")]
    assert len(boot_lines) == 1, proc.stdout
    result = BootResult(1, proc.stdout, 0.0)
    info = result.lines("FLUID-BOOT")[0]
    assert info["kernel_bytes"] == (built_tree / "build/kernel.bin").stat().st_size
    assert info["cpu"] and info["disk"] == "CHS"
    assert "ran successfully" in proc.stdout
    assert (built_tree / "build/serial-default.log").read_text().count("FLUID-BOOT") == 1


def test_doit_run_reports_timeout(tree: Path) -> None:
    edit(tree / "manifest.yaml", "  default: {cpu: max, drive: floppy, timeout_s: 60}",
         "  default: {cpu: max, drive: floppy, timeout_s: 0.1}")
    proc = doit(tree, "run", check=False, timeout=120)
    assert proc.returncode != 0
    assert "did not boot successfully: timed out after" in proc.stdout + proc.stderr


def test_doit_run_reports_missing_qemu(tree: Path) -> None:
    edit(tree / "manifest.yaml", "toolchain:\n", "toolchain:\n  qemu-system-i386: [qemu-not-here]\n")
    proc = doit(tree, "run", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "missing tool: qemu-system-i386 (tried qemu-not-here); install the Debian package " \
           "'qemu-system-x86'" in out
    assert "Traceback" not in out


def test_other_run_profile_boots_lba(built_tree: Path) -> None:
    proc = doit(built_tree, "run", "profile=lba", timeout=120)
    info = BootResult(1, proc.stdout, 0.0).lines("FLUID-BOOT")[0]
    assert info["disk"] == "LBA" and info["drive"] == 128
