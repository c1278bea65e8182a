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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluidbench import protocol
from fluidbuild.errors import FluidError
from fluidbuild.model import FatalCode

# QEMU exits with (value << 1) | 1 for a value written to isa-debug-exit; the
# values and the loader's codes are the protocol's (src/protocol/protocol.toml).
EXIT_OK = protocol.EXIT_OK
EXIT_MEANINGS = {s["qemu_status"]: s["meaning"] for s in protocol.EXIT_STATUSES.values()}
LOADER_ERRORS = {code: f"{f['name']}: {f['meaning']}" for code, f in protocol.LOADER_FATAL.items()}
_FATAL = re.compile(r"FATAL ERROR: 0x([0-9A-Fa-f]{2})")
EXIT_TAG = "FLUID-EXIT"  # the guest's last line: {"status": "ok"} or why not
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


DEFAULT_PROFILE = "default"  # the run profile every manifest has (doit run, doit bench)
JIT_SOCKET = "jit.sock"  # a jit profile's link socket, in the build directory (a Unix socket path is short)


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
    cmdline: str = ""  # the kernel's boot command line (fw_cfg), none when empty
    # The keys of the profile's plugin (fluidbuild_settings_schema("run")), validated.
    settings: dict[str, Any] = field(default_factory=dict)
    # COM2 to the live re-JIT link server on this socket, with these extra server options
    # (docs/kernel-jit.md).
    jit: bool = False
    jit_args: tuple[str, ...] = ()
    jit_socket: str = ""

    @classmethod
    def from_section(cls, name: str, spec: dict[str, Any], build_dir: str) -> RunProfile:
        """The profile ``name`` of a validated ``run`` section."""
        return cls(name=name, plugin=spec["plugin"], binary=spec["binary"], accel=spec["accel"],
                   cpu=spec["cpu"], memory_mib=spec["memory_mib"], timeout_s=spec["timeout_s"],
                   drive=spec["drive"], args=tuple(spec["args"]),
                   serial_log=spec["serial_log"] or f"{build_dir}/serial-{name}.log",
                   cmdline=spec.get("cmdline") or "",
                   settings=dict(spec.get("settings") or {}), jit=spec.get("jit", False),
                   jit_args=tuple(spec.get("jit_args") or ()),
                   jit_socket=f"{build_dir}/{JIT_SOCKET}" if spec.get("jit") else "")


@dataclass
class BootResult:
    """What one QEMU run produced."""

    status: int | None  # QEMU's exit status; None on timeout
    serial: str
    seconds: float
    argv: list[str] = field(default_factory=list)
    qemu_errors: str = ""  # what QEMU itself printed on stderr
    # The loader's FATAL codes this boot may print, "NAME: meaning" by code: the built-in
    # loader's, and those a package's loader defines (fluidbuild_fatal_codes).
    loader_errors: Mapping[int, str] = field(default_factory=lambda: dict(LOADER_ERRORS))

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
            return f"loader fatal error 0x{code:02X} ({self.loader_errors.get(code, 'unknown code')})"
        meaning = EXIT_MEANINGS.get(self.status, "QEMU ended without a guest verdict")
        return f"{meaning} (QEMU exit status {self.status})"


def boot(argv: list[str], timeout_s: float, echo: bool = False,
         log_path: str | None = None, loader_errors: Mapping[int, str] | None = None) -> BootResult:
    """Run QEMU until it exits or ``timeout_s`` passes; capture the serial console
    (its standard output) and QEMU's own messages (its standard error).
    ``loader_errors`` names the loader's FATAL codes (default: the built-in loader's).

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
    echoed = 0  # bytes of the console already on the terminal
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
                        echoed = _echo(serial, echoed, whole_lines=True)
    finally:
        if proc.poll() is None:
            proc.kill()
        status = proc.wait()
        for stream in sinks:
            stream.close()
    if echo:
        _echo(serial, echoed, whole_lines=False)
    text = serial.decode(errors="replace")
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        with open(log_path, "w") as f:
            f.write(text)
    return BootResult(None if timed_out else status, text, time.monotonic() - start, argv,
                      errors.decode(errors="replace"), dict(loader_errors or LOADER_ERRORS))


def _echo(serial: bytearray, echoed: int, whole_lines: bool) -> int:
    """Writes the console from byte ``echoed`` on (up to its last newline if ``whole_lines``:
    another process writing to the terminal, the JIT's link server, never splits a line);
    returns how far it is written."""
    end = serial.rfind(b"\n") + 1 if whole_lines else len(serial)
    if end > echoed:
        sys.stdout.write(serial[echoed:end].decode(errors="replace"))
        sys.stdout.flush()
    return max(end, echoed)


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL QEMU when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def loader_errors(codes: Mapping[int, FatalCode] | None) -> dict[int, str]:
    """"NAME: meaning" by code, from the codes the used plugins define (the built-in
    loader's come from the ``protocol`` plugin); without any, the built-in loader's."""
    if not codes:
        return dict(LOADER_ERRORS)
    return {code: f"{item.name}: {item.meaning}" for code, item in codes.items()}


def run_task(profile: RunProfile, qemu_command: Callable[..., list[str]], image: str,
             debug: bool, fatal_codes: Mapping[int, FatalCode] | None = None) -> None:
    """The ``run`` and ``debug`` tasks: boot, stream the console, judge the result
    (``fatal_codes``: the loader codes the manifest's plugins define, by code)."""
    argv = qemu_command(profile, image, debug=debug)
    print(f"fluidbuild: booting {image} ({profile.name}: {' '.join(argv[1:])})", flush=True)
    result = boot(argv, profile.timeout_s, echo=True, log_path=profile.serial_log,
                  loader_errors=loader_errors(fatal_codes))
    if not result.ok:
        raise FluidError(f"{image} did not boot successfully: {result.reason()}")
    print(f"fluidbuild: {image} ran successfully in {result.seconds:.2f} s", flush=True)
