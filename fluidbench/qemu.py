"""Booting an image in QEMU and deciding whether the guest succeeded.

The serial console streams to the terminal (and a log file) while the guest
runs. The verdict comes from QEMU's exit status, which the guest sets through
the ``isa-debug-exit`` device (see docs/boot-protocol.md), and from the
guest's ``FATAL ERROR`` / ``FLUID-EXIT`` lines.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluidbench import protocol
from fluidbuild.errors import FluidError

# QEMU exits with (value << 1) | 1 for a value written to isa-debug-exit; the
# values and the loader's codes are the protocol's (src/protocol/protocol.toml).
EXIT_OK = protocol.EXIT_OK
EXIT_MEANINGS = {s["qemu_status"]: s["meaning"] for s in protocol.EXIT_STATUSES.values()}
LOADER_ERRORS = {code: f"{f['name']}: {f['meaning']}" for code, f in protocol.LOADER_FATAL.items()}
_FATAL = re.compile(r"FATAL ERROR: 0x([0-9A-Fa-f]{2})")
EXIT_TAG = "FLUID-EXIT"  # the guest's last line: {"status": "ok"} or why not
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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
    qemu_errors: str = ""  # what QEMU itself printed on stderr

    @property
    def ok(self) -> bool:
        """The guest said so: its ``FLUID-EXIT {"status":"ok"}`` line arrived and
        the exit device reported success. QEMU exits with the same status 1 for
        its own errors (an unknown CPU model, a bad option), so the status alone
        proves nothing."""
        return self.status == (EXIT_OK << 1) | 1 and self._guest_said_ok()

    def _guest_said_ok(self) -> bool:
        try:
            exits = self.lines(EXIT_TAG)
        except ValueError:  # a damaged line is no verdict
            return False
        return bool(exits) and exits[-1].get("status") == "ok"

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
        if self.qemu_errors.strip():
            first = self.qemu_errors.strip().splitlines()[0]
            return f"QEMU failed: {first} (QEMU exit status {self.status})"
        if self.status == (EXIT_OK << 1) | 1 and not self._guest_said_ok():
            return (f"QEMU ended with status {self.status} but the guest printed no "
                    f'{EXIT_TAG} {{"status":"ok"}} line')
        code = self.fatal_code
        if code is not None:
            return f"loader fatal error 0x{code:02X} ({LOADER_ERRORS.get(code, 'unknown code')})"
        meaning = EXIT_MEANINGS.get(self.status, "QEMU ended without a guest verdict")
        return f"{meaning} (QEMU exit status {self.status})"


def boot(argv: list[str], timeout_s: float, echo: bool = False,
         log_path: str | None = None) -> BootResult:
    """Run QEMU until it exits or ``timeout_s`` passes; capture the serial console
    (its standard output) and QEMU's own messages (its standard error).

    QEMU never outlives the call: it is killed on a timeout, on any exception
    (KeyboardInterrupt included), and by the kernel if this process dies
    (``PR_SET_PDEATHSIG``).
    """
    if not math.isfinite(timeout_s) or timeout_s <= 0:
        raise FluidError(f"a boot needs a positive, finite timeout, got {timeout_s!r}")
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    serial, errors = bytearray(), bytearray()
    sinks = {proc.stdout: serial, proc.stderr: errors}
    timed_out = False
    try:
        with selectors.DefaultSelector() as sel:
            for stream in sinks:
                sel.register(stream, selectors.EVENT_READ)
            while sel.get_map():
                remaining = timeout_s - (time.monotonic() - start)
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(timeout=min(remaining, 0.5)):
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    sinks[key.fileobj] += data
                    if echo and key.fileobj is proc.stdout:
                        sys.stdout.write(data.decode(errors="replace"))
                        sys.stdout.flush()
    finally:
        if proc.poll() is None:
            proc.kill()
        status = proc.wait()
        for stream in sinks:
            stream.close()
    text = serial.decode(errors="replace")
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        with open(log_path, "w") as f:
            f.write(text)
    return BootResult(None if timed_out else status, text, time.monotonic() - start, argv,
                      errors.decode(errors="replace"))


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL QEMU when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_task(profile: RunProfile, qemu_command: Callable[..., list[str]], image: str,
             debug: bool) -> None:
    """The ``run`` and ``debug`` tasks: boot, stream the console, judge the result."""
    argv = qemu_command(profile, image, debug=debug)
    print(f"fluidbuild: booting {image} ({profile.name}: {' '.join(argv[1:])})", flush=True)
    result = boot(argv, profile.timeout_s, echo=True, log_path=profile.serial_log)
    if not result.ok:
        raise FluidError(f"{image} did not boot successfully: {result.reason()}")
    print(f"fluidbuild: {image} ran successfully in {result.seconds:.2f} s", flush=True)
