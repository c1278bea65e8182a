"""``doit run`` reports success only when the guest said so, and QEMU never outlives it.

QEMU exits with status 1 both for the guest's success (isa-debug-exit value
0) and for its own errors, so the verdict needs the guest's ``FLUID-EXIT``
line as well. Also: values handed to QEMU cannot add options, the guest gets
no network unless a profile allows it, and command-line variables are checked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import doit, edit

from fluidbench.qemu import BootResult, boot
from fluidbuild.doit_tasks import command_line_variables
from fluidbuild.errors import FluidError
from fluidbuild_plugins.fluidos.qemu import qemu_argv

OK_LINE = 'FLUID-EXIT {"status":"ok"}\n'


def test_status_one_without_the_guest_verdict_is_no_success() -> None:
    assert BootResult(1, "Fluid OS\n" + OK_LINE, 1.0).ok
    silent = BootResult(1, "Fluid OS\n", 1.0)
    assert not silent.ok and "printed no FLUID-EXIT" in silent.reason()
    qemu_error = BootResult(1, "", 0.1, qemu_errors="qemu-system-i386: unable to find CPU model 'x'\n")
    assert not qemu_error.ok and "QEMU failed: qemu-system-i386: unable to find CPU model 'x'" in \
        qemu_error.reason()
    assert not BootResult(1, 'FLUID-EXIT {"status":"panic"}\n', 1.0).ok
    assert not BootResult(1, "FLUID-EXIT {broken\n", 1.0).ok
    assert not BootResult(3, OK_LINE, 1.0).ok, "the exit device must agree"


def test_boot_kills_the_emulator_on_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    start = time.monotonic()
    result = boot([sys.executable, "-c", script], 1.0)
    assert result.status is None and time.monotonic() - start < 10
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), 0.0, -1.0])
def test_boot_refuses_a_timeout_that_never_ends(timeout: float) -> None:
    with pytest.raises(FluidError, match="positive, finite timeout"):
        boot(["true"], timeout)


def test_paths_cannot_inject_qemu_options() -> None:
    argv = qemu_argv("qemu", "build/a,if=ide,file=/etc/passwd.img", "floppy")
    drive = argv[argv.index("-drive") + 1]
    assert drive == "file=build/a,,if=ide,,file=/etc/passwd.img,format=raw,if=floppy,snapshot=on"


def test_misspelled_variable_is_an_error() -> None:
    assert command_line_variables(["doit", "run", "profile=lba", "-n", "2"]) == {"profile": "lba"}
    with pytest.raises(FluidError, match=r"unknown command-line variable 'profil' \(did you mean 'profile'"):
        command_line_variables(["doit", "run", "profil=lba"])


def test_doit_run_with_unknown_variable_exits_2(built_tree: Path) -> None:
    proc = doit(built_tree, "run", "profil=lba", check=False)
    assert proc.returncode == 2 and "unknown command-line variable 'profil'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_qemu_error_is_a_failed_run(tree: Path) -> None:
    edit(tree / "manifest.yaml", "  qemu32: {cpu: qemu32,",
         "  bad: {cpu: nosuchcpu}\n  qemu32: {cpu: qemu32,")
    proc = doit(tree, "run", "profile=bad", check=False, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "ran successfully" not in out
    assert "unable to find CPU model 'nosuchcpu'" in out


@pytest.mark.parametrize("bad,message", [
    ("timeout_s: .nan", "expected a finite number"),
    ("args: [-nic, user]", "gives the guest a network"),
    ("args: [-netdev, 'user,id=n']", "gives the guest a network"),
    ("args: [-device, e1000]", "gives the guest a network"),
])
def test_bad_run_profiles_are_refused_at_load(tree: Path, bad: str, message: str) -> None:
    edit(tree / "manifest.yaml", "  lba: {cpu: max, drive: ide, timeout_s: 60}", f"  lba: {{{bad}}}")
    proc = doit(tree, "list", check=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert "manifest.yaml:" in proc.stderr


def test_network_allowed_when_the_profile_says_so(tree: Path) -> None:
    edit(tree / "manifest.yaml", "  lba: {cpu: max, drive: ide, timeout_s: 60}",
         "  lba: {args: [-nic, user], network: true}")
    doit(tree, "list")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_qemu_dies_with_doit_run(tree: Path, sig: signal.Signals) -> None:
    edit(tree / "manifest.yaml", "  qemu32: {cpu: qemu32,", "  paused: {args: [-S]}\n  qemu32: {cpu: qemu32,")
    doit(tree, "image")
    proc = subprocess.Popen([sys.executable, "-m", "doit", "run", "profile=paused"], cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    qemu: list[int] = []
    while not qemu and time.monotonic() < deadline:
        qemu = [c for c in _children(proc.pid) if "qemu" in Path(f"/proc/{c}/comm").read_text()]
        time.sleep(0.1)
    assert qemu, "QEMU started (paused with -S, so it would run until its 60 s timeout)"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    time.sleep(0.5)
    stat = Path(f"/proc/{qemu[0]}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z", "QEMU was killed with doit run"
