"""Booting an image in QEMU and deciding whether the guest succeeded.

The serial console streams to the terminal (and a log file) while the guest
runs. The verdict comes from QEMU's exit status, which the guest sets through
the ``isa-debug-exit`` device (see docs/boot-protocol.md), and from the
guest's ``FATAL ERROR`` / ``FLUID-EXIT`` lines.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluidbuild.errors import FluidError

# QEMU exits with (value << 1) | 1 for a value written to isa-debug-exit.
EXIT_OK = 0x00
EXIT_MEANINGS = {
    (0x00 << 1) | 1: "success",
    (0x01 << 1) | 1: "kernel panic",
    (0x02 << 1) | 1: "CPU exception",
    (0x03 << 1) | 1: "self-test or benchmark check failed",
    0xFF: "loader fatal error",  # (0x7F << 1) | 1, truncated to 8 bits by the OS
}
LOADER_ERRORS = {
    0xD1: "DISK_READ: disk read failure",
    0xD2: "DISK_VERIFY: incorrect sector count",
    0xA2: "A20_FAILED: A20 line cannot be enabled",
    0x51: "BAD_SIGNATURE: invalid kernel signature",
    0xE0: "NO_KERNEL: kernel not found",
    0xCE: "BAD_CHECKSUM: kernel checksum mismatch",
}
_FATAL = re.compile(r"FATAL ERROR: 0x([0-9A-Fa-f]{2})")


DEFAULT_PROFILE = "default"  # the run profile every manifest has (doit run, doit bench)


@dataclass(frozen=True)
class RunProfile:
    """One ``run:`` entry of the manifest: how to boot the image in QEMU."""

    name: str
    plugin: str  # the plugin building its command line (fluidbuild_qemu_command)
    binary: str
    accel: str
    cpu: str
    memory_mib: int
    timeout_s: float
    drive: str  # "floppy" or "ide"
    args: tuple[str, ...]
    serial_log: str

    @classmethod
    def from_section(cls, name: str, spec: dict[str, Any], build_dir: str) -> RunProfile:
        """The profile ``name`` of a validated ``run`` section."""
        return cls(name=name, plugin=spec["plugin"], binary=spec["binary"], accel=spec["accel"],
                   cpu=spec["cpu"], memory_mib=spec["memory_mib"], timeout_s=spec["timeout_s"],
                   drive=spec["drive"], args=tuple(spec["args"]),
                   serial_log=spec["serial_log"] or f"{build_dir}/serial-{name}.log")


@dataclass
class BootResult:
    """What one QEMU run produced."""

    status: int | None  # QEMU's exit status; None on timeout
    serial: str
    seconds: float
    argv: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == (EXIT_OK << 1) | 1

    @property
    def fatal_code(self) -> int | None:
        match = _FATAL.search(self.serial)
        return int(match.group(1), 16) if match else None

    def lines(self, tag: str) -> list[dict[str, Any]]:
        """The JSON objects of every ``TAG {json}`` line on the serial console."""
        found = []
        for line in self.serial.splitlines():
            if line.startswith(tag + " "):
                found.append(json.loads(line[len(tag) + 1:]))
        return found

    def reason(self) -> str:
        if self.status is None:
            return f"timed out after {self.seconds:.1f} s"
        code = self.fatal_code
        if code is not None:
            return f"loader fatal error 0x{code:02X} ({LOADER_ERRORS.get(code, 'unknown code')})"
        meaning = EXIT_MEANINGS.get(self.status, "QEMU ended without a guest verdict")
        return f"{meaning} (QEMU exit status {self.status})"


def boot(argv: list[str], timeout_s: float, echo: bool = False,
         log_path: str | None = None) -> BootResult:
    """Run QEMU until it exits or ``timeout_s`` passes; capture the serial console."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    timed_out = False
    while True:
        remaining = timeout_s - (time.monotonic() - start)
        if remaining <= 0:
            timed_out = True
            break
        if not sel.select(timeout=min(remaining, 0.5)):
            if proc.poll() is not None:
                break
            continue
        data = os.read(proc.stdout.fileno(), 65536)
        if not data:
            break
        chunks.append(data)
        if echo:
            sys.stdout.write(data.decode(errors="replace"))
            sys.stdout.flush()
    if timed_out:
        proc.kill()
    status = proc.wait()
    sel.close()
    proc.stdout.close()
    serial = b"".join(chunks).decode(errors="replace")
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        with open(log_path, "w") as f:
            f.write(serial)
    return BootResult(None if timed_out else status, serial, time.monotonic() - start, argv)


def run_task(profile: RunProfile, qemu_command: Callable[..., list[str]], image: str,
             debug: bool) -> None:
    """The ``run`` and ``debug`` tasks: boot, stream the console, judge the result."""
    argv = qemu_command(profile, image, debug=debug)
    print(f"fluidbuild: booting {image} ({profile.name}: {' '.join(argv[1:])})", flush=True)
    result = boot(argv, profile.timeout_s, echo=True, log_path=profile.serial_log)
    if not result.ok:
        raise FluidError(f"{image} did not boot successfully: {result.reason()}")
    print(f"fluidbuild: {image} ran successfully in {result.seconds:.2f} s", flush=True)
