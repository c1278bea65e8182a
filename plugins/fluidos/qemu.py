"""qemu: the emulator command line for ``doit run`` and ``doit debug``.

Headless, no network, the serial console on standard output, and the
``isa-debug-exit`` device so the guest ends QEMU with its verdict
(docs/boot-protocol.md). The image is attached with ``snapshot=on`` so a
guest can never modify the build output.
"""

from __future__ import annotations

from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import RunProfile, Tool, ToolSpec
from fluidbuild.toolchain import QEMU_I386, QEMU_X86_64

DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"
BOOT_ORDER = {"floppy": "a", "ide": "c"}


@hookimpl
def fluidbuild_tools() -> list[ToolSpec]:
    return [QEMU_I386, QEMU_X86_64]


@hookimpl
def fluidbuild_qemu_command(profile: RunProfile, image: str, qemu: Tool, debug: bool) -> list[str]:
    return [*qemu_argv(qemu.path, image, profile.drive, profile.accel, profile.cpu, profile.memory_mib,
                       debug), *profile.args]


def qemu_argv(binary: str, image: str, drive: str, accel: str = "tcg", cpu: str = "max",
              memory_mib: int = 128, debug: bool = False) -> list[str]:
    """The argv booting ``image`` from a floppy (CHS path) or IDE disk (LBA path)."""
    argv = [binary, "-accel", accel, "-cpu", cpu, "-m", str(memory_mib),
            "-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none",
            "-no-reboot", "-device", DEBUG_EXIT,
            "-drive", f"file={image},format=raw,if={drive},snapshot=on",
            "-boot", BOOT_ORDER[drive]]
    if debug:
        argv += ["-d", "int,cpu_reset,guest_errors", "-D", "build/qemu.log", "-s"]
    return argv
