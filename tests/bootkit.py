"""Booting built images in QEMU (TCG) for the boot and fault tests.

Images come from real ``doit image`` builds of project copies whose manifest
was changed first (``set_manifest``, ``build_image``); tests boot them with the same argv the
``run`` task uses (``fluidbuild_plugins.fluidos.qemu.qemu_argv``) and judge them with the
runner's ``BootResult``. ``read_screen`` reads the VGA text buffer out of
guest memory through the QEMU monitor.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from conftest import doit

from fluidbench import protocol
from fluidbench.qemu import BootResult, boot
from fluidbuild_plugins.fluidos.qemu import DEBUG_EXIT, qemu_argv

QEMU = "qemu-system-i386"
BOOT_TIMEOUT_S = 30.0

# The disk layout and the FLUD header's field offsets (src/protocol/protocol.toml).
SECTOR = protocol.SECTOR_SIZE
KERNEL_OFFSET = protocol.KERNEL_LBA * SECTOR
HEADER_SIZE = protocol.FLUD_HEADER_SIZE
HDR_LOAD_ADDR = protocol.HDR_LOAD_ADDR
HDR_ENTRY = protocol.HDR_ENTRY
HDR_KERNEL_BYTES = protocol.HDR_KERNEL_BYTES
HDR_IMAGE_CRC32 = protocol.HDR_IMAGE_CRC32
STAGE2_OFFSET = protocol.STAGE2_LBA * SECTOR
STAGE2_BYTES = protocol.STAGE2_SECTORS * SECTOR
U32 = struct.Struct("<I")
U16 = struct.Struct("<H")

VGA_TEXT_BUFFER = 0xB8000
VGA_COLS, VGA_ROWS = 80, 25
MONITOR_PROMPT = b"(qemu) "


@dataclass(frozen=True)
class Build:
    """One built image, kept aside so its tree may be rebuilt for the next variant."""

    image: Path
    kernel: bytes  # build/kernel.bin

    def header_field(self, offset: int) -> int:
        return struct.unpack_from("<I", self.kernel, offset)[0]


def fresh_copy(built_tree: Path, parent: Path) -> Path:
    """A never-built copy, under ``parent``, of the sources ``built_tree`` was built from
    (the project's own files may change while the tests run)."""
    dest = parent / "fluid"
    shutil.copytree(built_tree, dest, symlinks=True, ignore=shutil.ignore_patterns("build"))
    return dest


def built_copy(tree: Path, parent: Path) -> Path:
    """A copy, under ``parent``, of ``tree`` with its build directory and doit state, so a
    build there reruns only what a change touches."""
    dest = parent / "fluid"
    shutil.copytree(tree, dest, symlinks=True)
    (dest / "build/.fluidbuild/lock").unlink(missing_ok=True)
    return dest


def set_manifest(tree: Path, keys: tuple[str, ...], value: Any) -> None:
    """Set one manifest entry (``keys`` is its path from the top) in ``tree``."""
    path = tree / "manifest.yaml"
    manifest = yaml.safe_load(path.read_text())
    node = manifest
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def build_image(tree: Path, keep_dir: Path) -> Build:
    """``doit image`` in ``tree``; copy the image to ``keep_dir``."""
    doit(tree, "image")
    keep_dir.mkdir(parents=True, exist_ok=True)
    image = keep_dir / "fluid.img"
    shutil.copyfile(tree / "build/fluid.img", image)
    return Build(image, (tree / "build/kernel.bin").read_bytes())


def boot_image(image: Path, drive: str = "floppy", cpu: str = "max", memory_mib: int = 128,
               cmdline: str = "", timeout_s: float = BOOT_TIMEOUT_S) -> BootResult:
    """Boot ``image`` (drive "floppy": CHS path, "ide": LBA path) with the kernel's boot
    command line ``cmdline`` until QEMU exits."""
    return boot(qemu_argv(QEMU, str(image), drive, cpu=cpu, memory_mib=memory_mib, cmdline=cmdline),
                timeout_s)


def boot_line(result: BootResult) -> dict[str, Any]:
    """The one FLUID-BOOT object of a boot, with the console in the failure message."""
    lines = result.lines("FLUID-BOOT")
    assert len(lines) == 1, f"expected one FLUID-BOOT line ({result.reason()}):\n{result.serial}"
    return lines[0]


def exit_line(result: BootResult) -> dict[str, Any]:
    """The one FLUID-EXIT object of a boot."""
    lines = result.lines("FLUID-EXIT")
    assert len(lines) == 1, f"expected one FLUID-EXIT line ({result.reason()}):\n{result.serial}"
    return lines[0]


def crafted(image: Path, dest: Path, edit: Callable[[bytearray], None]) -> Path:
    """A copy of ``image`` at ``dest``, changed in memory by ``edit`` first."""
    raw = bytearray(image.read_bytes())
    edit(raw)
    dest.write_bytes(bytes(raw))
    return dest


def image_kernel_bytes(raw: bytes) -> int:
    """The header's kernel_bytes, read from a disk image."""
    return struct.unpack_from("<I", raw, KERNEL_OFFSET + HDR_KERNEL_BYTES)[0]


def kernel_crc32(kernel: bytes | bytearray) -> int:
    """image_crc32 as the spec defines it (docs/boot-protocol.md), computed here
    independently of the stamp plugin: zlib.crc32 of the whole image with the
    field itself read as zero."""
    image = bytearray(kernel)
    U32.pack_into(image, HDR_IMAGE_CRC32, 0)
    return zlib.crc32(bytes(image))


def restamp_crc(raw: bytearray) -> None:
    """Recompute the header's image_crc32 inside a disk image, after an edit of
    the header that only the loader's range checks may catch."""
    kernel = raw[KERNEL_OFFSET:KERNEL_OFFSET + image_kernel_bytes(raw)]
    U32.pack_into(raw, KERNEL_OFFSET + HDR_IMAGE_CRC32, kernel_crc32(kernel))


def stage2_word_sum(stage2: bytes) -> int:
    """What stage 1 adds up: stage 2's 16-bit little-endian words, modulo 2^16."""
    return sum(U16.unpack_from(stage2, i)[0] for i in range(0, len(stage2), U16.size)) & 0xFFFF


def read_screen(image: Path, drive: str, done: str, workdir: Path) -> str:
    """Boot ``image`` and return the VGA screen's text once ``done`` is on serial.

    isa-debug-exit ends QEMU at once, so the guest runs without it here: its
    exit write then goes nowhere and it halts (cli; hlt) with the screen
    intact. The serial console goes to a file that is polled for ``done``;
    then the monitor socket saves the text buffer (80x25 cells of character
    byte + attribute byte) and quits QEMU.
    """
    serial, sock, dump = workdir / "serial.txt", workdir / "monitor.sock", workdir / "vga.bin"
    argv = qemu_argv(QEMU, str(image), drive)
    argv[argv.index("-serial") + 1] = f"file:{serial}"
    argv[argv.index("-monitor") + 1] = f"unix:{sock},server,nowait"
    device = argv.index(DEBUG_EXIT)
    del argv[device - 1:device + 1]
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            deadline = time.monotonic() + BOOT_TIMEOUT_S
            while done not in (text := serial.read_text(errors="replace") if serial.exists() else ""):
                assert proc.poll() is None, (
                    f"QEMU ended ({proc.returncode}) before {done!r}:\n{text}\n{proc.communicate()[1]}")
                assert time.monotonic() < deadline, f"no {done!r} on serial after {BOOT_TIMEOUT_S} s:\n{text}"
                time.sleep(0.02)
            with socket.socket(socket.AF_UNIX) as monitor:
                monitor.settimeout(BOOT_TIMEOUT_S)
                monitor.connect(str(sock))
                _monitor_command(monitor, None)
                size = VGA_COLS * VGA_ROWS * 2
                _monitor_command(monitor, f'pmemsave {VGA_TEXT_BUFFER:#x} {size} "{dump}"')
                # Stay connected until QEMU has gone: it ignores a command
                # still unread when the client hangs up.
                monitor.sendall(b"quit\n")
                proc.wait(timeout=BOOT_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
    chars = dump.read_bytes()[0::2].decode("cp437")
    rows = (chars[row * VGA_COLS:(row + 1) * VGA_COLS].rstrip() for row in range(VGA_ROWS))
    return "\n".join(rows)


def _monitor_command(monitor: socket.socket, command: str | None) -> None:
    """Send ``command`` (None: just the greeting) and wait for the next prompt,
    which the human monitor prints only once the command has finished."""
    if command is not None:
        monitor.sendall(command.encode() + b"\n")
    reply = b""
    while not reply.endswith(MONITOR_PROMPT):
        chunk = monitor.recv(4096)
        assert chunk, f"the QEMU monitor closed the connection after {reply[-200:]!r}"
        reply += chunk
