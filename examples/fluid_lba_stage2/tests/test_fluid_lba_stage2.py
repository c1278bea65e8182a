"""The LBA-only stage 2's task through fluidbuild's testing kit: fake tools, nothing runs.

Run from this folder with ``pytest``; the Fluid OS project's own tests also
install the package, build with it and boot it (as an IDE disk, and on a
floppy, where it stops with 0xD3).
"""

from __future__ import annotations

import os
from pathlib import Path

import fluid_lba_stage2
import pytest

from fluidbuild.errors import FluidError
from fluidbuild.model import Command
from fluidbuild.testing import PluginTest

MANIFEST = """
    targets:
      protocol_nasm: {plugin: protocol, sources: [src/protocol/protocol.toml], options: {lang: nasm}}
      stage2: {plugin: lba_stage2, deps: [protocol_nasm]}
    """


def test_assembles_its_own_source_with_the_projects_includes(tmp_path: Path) -> None:
    kit = PluginTest(tmp_path, MANIFEST, plugins={"lba_stage2": fluid_lba_stage2},
                     files={"src/protocol/protocol.toml": ""})
    [task] = kit.target_tasks("stage2").tasks
    deps_pass, assemble = task.actions
    assert isinstance(assemble, Command) and assemble.outputs == ["build/stage2/stage2.bin"]
    argv = assemble.argv
    assert argv[:3] == ["/usr/bin/nasm", "-f", "bin"] and argv[-1] == fluid_lba_stage2.SOURCE
    assert argv[3:6] == ["-Isrc/boot/", "-Ibuild/gen/", f"-I{fluid_lba_stage2.HERE}/"]
    assert "-DFATAL_NO_LBA=0xD3" in argv
    assert deps_pass.argv[-6:] == ["-M", "-MF", "build/stage2/stage2.bin.d", "-MT", "build/stage2/stage2.bin",
                                   fluid_lba_stage2.SOURCE], "nasm lists the includes it reads"
    assert task.file_dep == [fluid_lba_stage2.SOURCE, "build/gen/protocol.inc"]
    assert task.depfile == "build/stage2/stage2.bin.d"
    assert task.config["tool"] == {"path": "/usr/bin/nasm", "version": "test"}
    assert kit.ctx.fatal_codes[0xD3] == fluid_lba_stage2.NO_LBA, "the runner names its code"


def test_the_source_ships_in_the_package_and_the_size_is_checked(tmp_path: Path) -> None:
    assert os.path.isfile(fluid_lba_stage2.SOURCE)
    assert os.path.isfile(os.path.join(fluid_lba_stage2.HERE, "lba_only.inc"))
    kit = PluginTest(tmp_path, MANIFEST, plugins={"lba_stage2": fluid_lba_stage2},
                     files={"src/protocol/protocol.toml": ""})
    [task] = kit.target_tasks("stage2").tasks
    assemble = task.actions[1]
    short = tmp_path / "short.bin"
    short.write_bytes(bytes(512))
    with pytest.raises(FluidError, match="is 512 bytes; stage 1 loads exactly 4096"):
        assemble.verify({"build/stage2/stage2.bin": str(short)})
    short.write_bytes(bytes(4096))
    assemble.verify({"build/stage2/stage2.bin": str(short)})
