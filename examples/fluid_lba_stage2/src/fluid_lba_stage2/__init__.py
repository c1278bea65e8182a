# fluid_lba_stage2/__init__.py, in a package with (pyproject.toml)
#   [project.entry-points."fluidbuild.plugins"]
#   lba_stage2 = "fluid_lba_stage2"
#   [tool.setuptools.package-data]
#   fluid_lba_stage2 = ["*.asm", "*.inc"]
"""An LBA-only stage 2 for Fluid OS: it boots from a hard disk, and on a floppy stops with 0xD3."""

import os

from fluidbuild.errors import FluidError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import Command, FatalCode, TargetResult, TaskSpec
from fluidbuild.schema import Field, List, Map, RelPath
from fluidbuild.toolchain import NASM

__version__ = "1.0.0"
fluidbuild_api = ">=1.1,<2"  # the fluidbuild plugin API versions this plugin supports

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "lba_stage2.asm")  # shipped in the package, with lba_only.inc
STAGE2_BYTES = 4096  # stage 1 loads 8 sectors
NO_LBA = FatalCode(0xD3, "NO_LBA", "the boot drive has no INT 13h extensions (a floppy?); this stage 2 "
                   "boots from a hard disk only: use a run profile with drive: ide")


@hookimpl
def fluidbuild_tools():
    return [NASM]


@hookimpl
def fluidbuild_fatal_codes():
    return [NO_LBA]  # doit run reports "loader fatal error 0xD3 (NO_LBA: ...)"


@hookimpl
def fluidbuild_options_schema():
    return Map({"include_dirs": Field(List(RelPath()), default=["src/boot"],
                                      doc="the project's loader pieces the source includes")})


@hookimpl
def fluidbuild_target_tasks(target, inputs, ctx):
    nasm = ctx.tools("nasm")  # resolved, versioned tool
    out = ctx.out(target.name, "stage2.bin")
    depfile = out + ".d"
    headers = [i for i in inputs if i.endswith(".inc")]  # build/gen/protocol.inc, from deps
    folders = [*target.options["include_dirs"], *dict.fromkeys(map(os.path.dirname, headers)), HERE]
    common = [nasm.path, "-f", "bin", *(f"-I{folder}/" for folder in folders),
              f"-DFATAL_NO_LBA=0x{NO_LBA.code:02X}"]
    argv = [*common, "-o", out, SOURCE]
    task = TaskSpec(f"{target.name}:lba_stage2.asm", "assemble the LBA-only stage 2",
                    [Command([*common, "-M", "-MF", depfile, "-MT", out, SOURCE], [depfile]),
                     Command(argv, [out], verify=lambda temps: _exact_size(temps[out]))],
                    file_dep=[SOURCE, *headers], targets=[out], depfile=depfile,
                    config={"argv": argv, "tool": nasm.identity()})  # out is written atomically
    return TargetResult([task], [out])


def _exact_size(path):
    size = os.path.getsize(path)
    if size != STAGE2_BYTES:
        raise FluidError(f"the LBA-only stage 2 is {size} bytes; stage 1 loads exactly {STAGE2_BYTES}")
