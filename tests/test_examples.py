"""The example plugin packages of examples/, as a user gets them: ``pip install`` into a fresh
virtual environment, a build and a boot with the package, ``pip uninstall``, and the
message a manifest that needs it gives then.

The new environment has no pip and no packages of its own: a ``.pth`` line adds this
environment's site-packages after its own (fluidbuild, doit and the rest), and this
environment's pip installs the package into it (``pip --python``), building the wheel
as a user's ``pip install`` does, so the package comes only from the new environment.
Each package gets one project copy, one build and one boot; the packages' own tests
(no tools) run in tests/test_example_packages.py.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, copy_project, edit

pytestmark = pytest.mark.boot  # builds with the real toolchain and boots QEMU

EXAMPLES = ROOT / "examples"
TIMEOUT_S = 600


@dataclass
class Env:
    """A fresh virtual environment with one example package installed."""

    python: Path
    site: Path
    distribution: str

    def run(self, argv: list[str | Path], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def doit(self, tree: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``doit ARGS`` in ``tree``, with this environment's Python."""
        return self.run([self.python, "-m", "doit", *args], tree, check)

    def uninstall(self) -> None:
        self.run([sys.executable, "-m", "pip", "--python", self.python, "uninstall", "--yes", "--quiet",
                  self.distribution], self.site)
        assert not list(self.site.glob(f"{self.distribution.replace('-', '_')}-*.dist-info"))


def install(example: str, distribution: str, base: Path) -> Env:
    """``examples/<example>`` installed (not editable) into a new environment under ``base``."""
    source = base / "source"
    shutil.copytree(EXAMPLES / example, source,  # pip writes build/ and *.egg-info beside the sources
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".pytest_cache"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=TIMEOUT_S)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_fluidbuild.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    env = Env(python, site, distribution)
    env.run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
             "--disable-pip-version-check", "--timeout", "60", source], base)
    return env


def project(base: Path) -> Path:
    """A never-built copy of the project."""
    return copy_project(base / "fluid")


def set_manifest(tree: Path, text: str, old: str, new: str) -> None:
    assert old in text
    (tree / "manifest.yaml").write_text(text.replace(old, new, 1))


def listing_line(listing: str, plugin: str) -> str:
    return next(line for line in listing.splitlines() if line.startswith(plugin + " "))


def test_lba_only_stage2_boots_an_ide_disk_and_names_its_code_on_a_floppy(tmp_path: Path) -> None:
    env = install("fluid_lba_stage2", "fluid-lba-stage2", tmp_path)
    tree = project(tmp_path)
    manifest = tree / "manifest.yaml"
    edit(manifest, "build_dir: build\n", "build_dir: build\nrequires: ['fluid-lba-stage2>=1.0']\n")
    edit(manifest, "    plugin: nasm\n    doc: stage 2 loader (4096 bytes at 0x7E00)\n"
         "    sources: [src/boot/stage2.asm]\n    deps: [protocol_nasm]\n"
         "    options: {format: bin, size: 4096, include_dirs: [src/boot]}\n",
         "    plugin: lba_stage2\n    doc: the LBA-only stage 2 of fluid-lba-stage2\n"
         "    deps: [protocol_nasm]\n")
    ide = env.doit(tree, "run", "profile=lba")  # builds everything, boots the IDE disk
    assert "stage2: LBA only (fluid-lba-stage2)" in ide.stdout and '"disk":"LBA"' in ide.stdout
    assert "ran successfully" in ide.stdout
    depfile = (tree / "build/stage2/stage2.bin.d").read_text()
    assert "lba_only.inc" in depfile and str(env.site) in depfile, "the package's include is tracked"

    floppy = env.doit(tree, "run", check=False)  # the default profile boots it from a floppy
    assert floppy.returncode != 0
    assert ("loader fatal error 0xD3 (NO_LBA: the boot drive has no INT 13h extensions"
            in floppy.stdout + floppy.stderr)

    row = listing_line(env.doit(tree, "plugins").stdout, "lba_stage2").split()
    assert row[1:4] == ["1.0.0", "fluid-lba-stage2", "1.0.0"] and row[4] == "yes"

    env.uninstall()
    missing = env.doit(tree, "image", check=False)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert ("manifest error at 'requires[0]': the plugin distribution 'fluid-lba-stage2' is not installed; "
            "install it with: " in missing.stderr)
    assert "-m pip install 'fluid-lba-stage2>=1.0'" in missing.stderr
    edit(manifest, "requires: ['fluid-lba-stage2>=1.0']\n", "")
    unnamed = env.doit(tree, "image", check=False)
    assert unnamed.returncode == 2
    assert "at 'targets.stage2.plugin': plugin 'lba_stage2' failed in hook fluidbuild_target_tasks: no " \
           "plugin named 'lba_stage2' is installed" in unnamed.stderr


def test_a_package_benchmark_runs_natively_in_the_kernel_and_in_the_jit(tmp_path: Path) -> None:
    env = install("fluid_crc32", "fluid-crc32", tmp_path)
    tree = project(tmp_path)
    manifest = tree / "manifest.yaml"
    text = manifest.read_text()
    # The one line that adds the benchmark; the rest keeps the run short.
    text = text.replace("  - {name: physics_step, size: 4096, iterations: 2}\n",
                        "  - {name: physics_step, size: 4096, iterations: 2}\n"
                        "  - {name: crc32, size: 65536, iterations: 2}\n")
    text = text[:text.index("\nbench:\n")] + "\nbench: {seconds: 0.01, host_repeat: 2}\n"
    text = text.replace("jit:\n  iterations: 200\n", "jit:\n  benchmarks: [crc32]\n  iterations: 40\n")
    text = text.replace("build_dir: build\n", "build_dir: build\nrequires: [fluid-crc32]\n")
    manifest.write_text(text)
    env.doit(tree, "-n", "2", "image", "native_x86_64", "native_i386", "fluid_module", "cpu_profile")
    bench = env.doit(tree, "bench")  # natively, on its reference (zlib.crc32) and in the kernel
    assert "crc32 n=65536: zlib.crc32 gives 0x" in bench.stdout and "every native checksum equals it" \
        in bench.stdout
    results = json.loads((tree / "build/bench/results.json").read_text())
    [check] = results["reference_checks"]
    assert check["name"] == "crc32" and check["ok"] and len(check["native"]) == 1
    crc = check["reference"]
    [kernel] = [r for r in results["results"] if r["env"] == "kernel" and r["name"] == "crc32"]
    assert kernel["checksum"] == crc, "the kernel's crc32 equals zlib's"
    assert all(c["ok"] for c in results["checks"]) and len(results["checks"]) == 7
    assert any(r["env"] == "host" and r["label"] == "zlib.crc32" and r["throughput"] > 0
               for r in results["results"])
    serial = (tree / "build/bench/serial.log").read_text()
    assert '"name":"crc32"' in serial and f'"checksum":"{crc}"' in serial

    env.doit(tree, "jit")
    report = json.loads((tree / "build/jit/report.json").read_text())
    [jitted] = report["benchmarks"]
    assert jitted["name"] == "crc32" and jitted["checksum"] == crc

    # The package's header is a dependency where the package is installed.
    header = env.site / "fluid_crc32" / "crc32_poly.h"
    header.write_text(header.read_text() + "/* edited */\n")
    rebuilt = env.doit(tree, "image").stdout
    assert ".  bench_ir:generic:ext/fluid_crc32/crc32.c" in rebuilt
    assert ".  bench_ir:generic:src/bench/fft_1d.c" not in rebuilt

    env.uninstall()
    missing = env.doit(tree, "image", check=False)
    assert missing.returncode == 2
    assert "the plugin distribution 'fluid-crc32' is not installed; install it with: " in missing.stderr
    assert "-m pip install 'fluid-crc32'" in missing.stderr


MBR_TARGET = """\
  fluid_mbr:
    plugin: mbr_disk
    doc: Fluid OS on a partitioned hard disk
    deps: [stage1, stage2_stamped, kernel]
"""


def partition_table(disk: bytes) -> list[tuple[int, int, int, int]]:
    """(status, type, first LBA, sectors) of each used MBR entry, read without the package."""
    entries = [struct.unpack_from("<B3sB3sII", disk, 446 + 16 * i) for i in range(4)]
    return [(status, kind, first, count) for status, _, kind, _, first, count in entries if kind]


def test_a_partitioned_disk_target_boots_and_its_run_never_boots_a_stale_disk(tmp_path: Path) -> None:
    env = install("fluid_mbr_disk", "fluid-mbr-disk", tmp_path)
    tree = project(tmp_path)
    manifest = tree / "manifest.yaml"
    text = manifest.read_text().replace("build_dir: build\n",
                                        "build_dir: build\nrequires: [fluid-mbr-disk]\n")
    text = text.replace("\nimage:\n", "\n" + MBR_TARGET + "\nimage:\n", 1)
    set_manifest(tree, text, "  lba: {cpu: max, drive: ide, timeout_s: 60}\n",
                 "  lba: {cpu: max, drive: ide, timeout_s: 60}\n  mbr: {plugin: mbr_disk, disk: fluid_mbr}\n")
    first = env.doit(tree, "run", "profile=mbr")
    assert "build/fluid_mbr/fluid-mbr.img ran successfully" in first.stdout and '"disk":"LBA"' in first.stdout
    disk = (tree / "build/fluid_mbr/fluid-mbr.img").read_bytes()
    kernel = (tree / "build/kernel.bin").read_bytes()
    sectors = -(-len(kernel) // 512)
    assert partition_table(disk) == [(0x80, 0x7F, 1, 8 + sectors), (0, 0x83, 2048, 16 * 2048 - 2048)]
    assert disk[9 * 512:9 * 512 + len(kernel)] == kernel and disk[510:512] == b"\x55\xaa"

    # A kernel change: the run rebuilds the disk before it boots it.
    edit(manifest, "options: {triple: i386-unknown-none-elf, opt: 2}",
         "options: {triple: i386-unknown-none-elf, opt: 1}")
    second = env.doit(tree, "run", "profile=mbr")
    assert ".  fluid_mbr" in second.stdout and "ran successfully" in second.stdout
    new_kernel = (tree / "build/kernel.bin").read_bytes()
    assert new_kernel != kernel
    disk = (tree / "build/fluid_mbr/fluid-mbr.img").read_bytes()
    assert disk[9 * 512:9 * 512 + len(new_kernel)] == new_kernel

    env.uninstall()
    missing = env.doit(tree, "run", "profile=mbr", check=False)
    assert missing.returncode == 2
    assert "the plugin distribution 'fluid-mbr-disk' is not installed; install it with: " in missing.stderr
    text = manifest.read_text().replace("requires: [fluid-mbr-disk]\n", "")
    manifest.write_text(text)
    unnamed = env.doit(tree, "image", check=False)
    assert unnamed.returncode == 2  # the run profile names it first
    assert ("manifest error at 'run.mbr.plugin': plugin 'mbr_disk' failed in hook fluidbuild_qemu_command: "
            "no plugin named 'mbr_disk' is installed") in unnamed.stderr
