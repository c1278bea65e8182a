"""The partitioned disk: its task and run profile through fluidbuild's testing kit, and the writer.

Run from this folder with ``pytest``; the Fluid OS project's own tests also
install the package and boot the disk with ``doit run profile=mbr``.
"""

from __future__ import annotations

from pathlib import Path

import fluid_mbr_disk
import pytest

from fluidbuild.errors import FluidError, ManifestError
from fluidbuild.model import PyAction
from fluidbuild.testing import PluginTest

MANIFEST = """
    targets:
      stage1: {plugin: nasm, sources: [boot/stage1.asm], options: {size: 512}}
      stage2: {plugin: nasm, sources: [boot/stage2.asm], options: {size: 4096}}
      kernel: {plugin: nasm, sources: [boot/kernel.asm]}
      fluid_mbr: {plugin: mbr_disk, deps: [stage1, stage2, kernel], options: {disk_mib: 4}}
    run:
      default: {}
      mbr: {plugin: mbr_disk, disk: fluid_mbr, cpu: qemu32}
    """
FILES = dict.fromkeys(["boot/stage1.asm", "boot/stage2.asm", "boot/kernel.asm"], "")


def kit(root: Path, variables: dict[str, str] | None = None, manifest: str = MANIFEST) -> PluginTest:
    return PluginTest(root, manifest, plugins={"mbr_disk": fluid_mbr_disk}, files=FILES, variables=variables)


def test_the_disk_target_writes_one_image_from_its_three_inputs(tmp_path: Path) -> None:
    project = kit(tmp_path)
    [task] = project.target_tasks("fluid_mbr").tasks
    assert task.targets == ["build/fluid_mbr/fluid-mbr.img"]
    assert task.file_dep == ["build/stage1/stage1.bin", "build/stage2/stage2.bin", "build/kernel/kernel.bin"]
    assert task.config == {"disk_bytes": 4 << 20, "layout": "mbr-v1"}
    assert isinstance(task.actions[0], PyAction)


def test_doit_run_profile_mbr_boots_and_depends_on_the_disk(tmp_path: Path) -> None:
    project = kit(tmp_path, {"profile": "mbr"})
    for name in project.manifest.targets:
        project.target_tasks(name)
    run = {t.name: t for t in project.project_tasks(plugin="qemu")}["run"]
    assert run.file_dep == ["build/fluid_mbr/fluid-mbr.img"], "a stale disk is rebuilt before it boots"
    action = run.actions[0]
    profile = action.kwargs["profile"]
    assert profile.plugin == "mbr_disk" and profile.settings == {"disk": "fluid_mbr"}
    argv = action.kwargs["qemu_command"](profile, action.kwargs["image"])
    assert "file=build/fluid_mbr/fluid-mbr.img,format=raw,if=ide,snapshot=on" in argv
    assert argv[argv.index("-cpu") + 1] == "qemu32" and fluid_mbr_disk.DEBUG_EXIT in argv


def test_the_run_profile_needs_its_disk_key(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"'run\.mbr': missing required key 'disk'"):
        kit(tmp_path, manifest=MANIFEST.replace("disk: fluid_mbr, ", ""))
    with pytest.raises(ManifestError, match=r"unknown target 'nowhere'"):
        kit(tmp_path, manifest=MANIFEST.replace("disk: fluid_mbr", "disk: nowhere"))


def test_the_image_holds_the_parts_and_a_partition_table(tmp_path: Path) -> None:
    stage1 = bytearray(512)
    stage1[0:3], stage1[510:512] = b"\xeb\xfe\x90", b"\x55\xaa"
    parts = {"s1": bytes(stage1), "s2": b"2" * 4096, "k": b"K" * 1500}
    for name, data in parts.items():
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "disk.img"
    fluid_mbr_disk.write_disk([str(tmp_path / n) for n in parts], str(out), 4 << 20)
    disk = out.read_bytes()
    assert len(disk) == 4 << 20 and disk[:3] == b"\xeb\xfe\x90" and disk[510:512] == b"\x55\xaa"
    assert disk[512:4608] == parts["s2"] and disk[4608:6108] == parts["k"]
    assert fluid_mbr_disk.partitions(out) == [
        {"status": 0x80, "type": 0x7F, "first": 1, "count": 8 + 3},
        {"status": 0, "type": 0x83, "first": 2048, "count": (4 << 11) - 2048},
    ]
    stage1[446] = 1  # stage 1 code where the table goes
    (tmp_path / "s1").write_bytes(bytes(stage1))
    with pytest.raises(FluidError, match="bytes 446-509"):
        fluid_mbr_disk.write_disk([str(tmp_path / n) for n in parts], str(out), 4 << 20)
