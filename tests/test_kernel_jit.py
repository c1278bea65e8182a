"""``doit run profile=jit``: the kernel's live re-JIT over COM2, real build, real QEMU (TCG).

One built tree for the module; each profile boots once (about 6 to 10 s with the
link server) and the tests read its serial log and the link server's report:
``jit`` (-cpu max), ``jit_qemu32``, ``jit_faults`` (bad patches and noise on the
link) and ``jit_killed`` (the host process killed mid-run). The runs without a
host boot the image directly. docs/kernel-jit.md describes what is checked.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bootkit import QEMU, set_manifest
from conftest import doit

from fluidbench import protocol as P
from fluidbench.lines import line_errors
from fluidbench.qemu import BootResult, boot
from fluidbuild_plugins.fluidos.qemu import qemu_argv
from fluidjit.linkserver import qemu_args

pytestmark = pytest.mark.boot

JIT = {"drive": "floppy", "timeout_s": 120, "jit": True}
# One round per function: the runs below test other things. The guest's own target, so the
# same function gets other code under another CPU model.
ONE = ["--candidates", "guest-o1+spec"]
PROFILES = {
    "jit_qemu32": {"cpu": "qemu32", **JIT, "jit_args": ONE},
    "jit_faults": {"cpu": "max", **JIT, "jit_args": [*ONE, "--corrupt-patch", "--wrong-build-id",
                                                     "--outside-arena", "--overlap-live", "--garbage"]},
    "jit_killed": {"cpu": "max", **JIT, "jit_args": [*ONE, "--die-after-patch"]},
}
RUN_TIMEOUT_S = 300


@dataclass
class Run:
    stdout: str
    serial: str
    report: dict[str, Any]

    def events(self, *kinds: str) -> list[dict[str, Any]]:
        found = BootResult(1, self.serial, 0.0).lines("FLUID-JIT")
        return [e for e in found if not kinds or e["event"] in kinds]


@pytest.fixture(scope="module")
def jit_tree(built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("kernel_jit") / "fluid"
    shutil.copytree(built_tree, tree, symlinks=True)
    (tree / "build" / ".fluidbuild" / "lock").unlink(missing_ok=True)
    for name, profile in PROFILES.items():
        set_manifest(tree, ("run", name), profile)
    return tree


@pytest.fixture(scope="module")
def runs(jit_tree: Path) -> Any:
    """``runs(profile)``: that profile's run, booted on first use."""
    done: dict[str, Run] = {}

    def get(profile: str) -> Run:
        if profile not in done:
            report = jit_tree / "build/jit/kernel-report.json"
            report.unlink(missing_ok=True)
            proc = doit(jit_tree, "run", f"profile={profile}", timeout=RUN_TIMEOUT_S)
            assert "ran successfully" in proc.stdout, proc.stdout + proc.stderr
            serial = (jit_tree / f"build/serial-{profile}.log").read_text()
            host = json.loads(report.read_text()) if report.exists() else {}
            done[profile] = Run(proc.stdout, serial, host)
        return done[profile]

    return get


def kept_or_reverted(run: Run) -> list[dict[str, Any]]:
    return run.events("kept", "reverted")


def test_jit_patches_swaps_and_decides_by_measurement(runs: Any) -> None:
    run = runs("jit")
    for event in run.events():
        assert line_errors("FLUID-JIT", event) == [], event
    hello = run.events("hello")
    assert len(hello) == 1 and hello[0]["host"] is True
    assert run.events("swap"), run.serial
    decided = kept_or_reverted(run)
    assert decided, run.serial
    swaps = [e["function"] for e in run.events("swap")]
    assert sorted(e["function"] for e in decided) == sorted(swaps)  # every swap ends in a verdict
    for event in decided:
        # A patch never changes what the benchmark computes: a kept one had the old checksum,
        # and the only reason to revert despite the same checksum is speed.
        if event["event"] == "kept":
            assert event["checksum_after"] == event["checksum_before"], event
            assert event["cycles_after"] < event["cycles_before"], event
        else:
            assert event["reason"] in ("slower", "checksum"), event
    assert run.events("bye")[0]["patches"] >= len(decided)
    # A slot that ended on a patch: timed again against the boot choice, afresh; slower, and
    # the boot choice is back (unconfirmed). Never a kept slowdown by that measurement.
    kept = {e["function"] for e in run.events("kept")}
    confirmations = run.events("confirmed", "unconfirmed")
    assert sorted(e["function"] for e in confirmations) == sorted(kept)
    for event in confirmations:
        assert event["checksum_after"] == event["checksum_before"], event
        if event["event"] == "confirmed":
            assert event["cycles_after"] <= event["cycles_before"], event
        else:
            assert event["cycles_after"] > event["cycles_before"], event
    assert set(run.report["confirmations"]) == {f.removesuffix(".run") for f in kept}
    # The host's side: what it compiled, how fast, for which CPU (a row per PROFILE: a function
    # may get a second candidate, timed against the code its slot holds then).
    rows = {(f"{r['benchmark']}.run", r["cycles_before"], r["cycles_after"]): r
            for r in run.report["functions"]}
    for event in decided:
        row = rows[event["function"], event["cycles_before"], event["cycles_after"]]
        assert row["verdict"] == event["event"]
        assert row["compile_ms"] is not None and row["latency_ms"] is not None
        assert row["cycles_before"] == event["cycles_before"]
        assert row["specialised"] == ({"size": row["size"]} if "+spec" in row["strategy"] else {}), row
    assert "+avx2" in run.report["guest"]["llvm_features"].split(",")
    # The default plan: every slot's first candidate needs no profile, so it was compiled after
    # HELLO named the slot's function; later ones fold the first profile's values in.
    # physics_step's vectorised bounce is put behind a branch (+br), nothing else has such selects.
    patched = [r for r in run.report["functions"] if r["digest"]]
    assert {r["compiled"] for r in patched if r["round"] == 1} == {"hello"}, patched
    assert {r["compiled"] for r in patched if r["round"] > 1} <= {"round 1", "round 2", "on arrival"}
    assert {r["benchmark"] for r in patched if r["strategy"].endswith("+br")} == {"physics_step"}
    assert "fluidjit-link: kernel said BYE" in run.stdout  # the live log


def test_host_compiles_for_the_guest_cpuid(runs: Any) -> None:
    big, small = runs("jit").report, runs("jit_qemu32").report
    big_features = big["guest"]["llvm_features"].split(",")
    small_features = small["guest"]["llvm_features"].split(",")
    assert {"+avx2", "+fma", "+bmi2"} <= set(big_features)
    assert {"-avx2", "-fma", "-ssse3"} <= set(small_features) and "+sse2" in small_features
    assert big["guest"]["build_id"] == small["guest"]["build_id"]  # one image, two guests
    # The same kernel function, compiled for each guest's CPU: different code.
    big_code = {r["function"]: r["digest"] for r in big["functions"]
                if r["digest"] and r["strategy"].startswith("guest-")}
    small_code = {r["function"]: r["digest"] for r in small["functions"] if r["digest"]}
    assert big_code and small_code
    for function in set(big_code) & set(small_code):
        assert big_code[function] != small_code[function], function
    for event in kept_or_reverted(runs("jit_qemu32")):
        if event["event"] == "kept":
            assert event["checksum_after"] == event["checksum_before"], event


def test_bad_patches_are_refused_and_change_nothing(runs: Any) -> None:
    run = runs("jit_faults")
    for event in run.events():
        assert line_errors("FLUID-JIT", event) == [], event
    refused = run.events("refused")
    assert refused, run.serial
    # The link server spoiled its second, third and fourth patches one way each (the first was
    # left alone: kept, it is the live code --overlap-live aims the next patch at). Each one the
    # kernel received it refused for that reason; a patch can also arrive too late (silent).
    expected = {"corrupt_patch": "digest", "wrong_build_id": "build_id", "outside_arena": "bounds",
                "overlap_live": "overlap"}
    spoiled = [r for r in run.report["functions"] if r["fault"]]
    assert [r["fault"] for r in spoiled][:3] == ["corrupt_patch", "wrong_build_id", "outside_arena"]
    seen = 0
    for row in spoiled:
        function = f"{row['benchmark']}.run"
        kernel = [e for e in refused if e["function"] == function and e["addr"] == row["entry"]]
        if kernel:
            assert kernel[0]["reason"] == expected[row["fault"]], (row, kernel)
            assert row["verdict"] == "refused" and row["reason"] == expected[row["fault"]]
            seen += 1
        else:
            assert any(e["function"] == function for e in run.events("silent")), (row, run.serial)
    assert seen >= 2, run.serial
    assert len(refused) == seen  # no clean patch was refused
    events = run.events()
    for i, event in enumerate(events):
        if event["event"] == "refused":  # nothing happened to the slot: next comes another PROFILE
            assert events[i + 1]["event"] in ("profile", "bye"), events[i + 1]
    assert run.events("bye")[0]["garbage"] > 0  # the noise before every frame was skipped
    for event in kept_or_reverted(run):
        if event["event"] == "kept":
            assert event["checksum_after"] == event["checksum_before"], event


def test_host_killed_mid_run(runs: Any) -> None:
    run = runs("jit_killed")
    assert "fault: killed after the first PATCH" in run.stdout
    events = [e["event"] for e in run.events()]
    # Whatever of the first PATCH got through before the socket closed (usually nothing: QEMU
    # drops what it had not read), the kernel then heard nothing JIT_SILENT_LIMIT times in a row
    # and stopped asking.
    assert events[-1 - P.JIT_SILENT_LIMIT * 2:] == ["profile", "silent"] * P.JIT_SILENT_LIMIT + ["bye"]
    assert events.count("silent") == P.JIT_SILENT_LIMIT, run.serial
    # The boot choice ran on: every benchmark's result is there.
    assert len(BootResult(1, run.serial, 0.0).lines("FLUID-BENCH")) == len(BootResult(
        1, runs("jit").serial, 0.0).lines("FLUID-BENCH"))


def test_without_a_host_the_kernel_runs_its_boot_choice(jit_tree: Path) -> None:
    image = str(jit_tree / "build/fluid.img")
    bare = boot(qemu_argv(QEMU, image, "floppy"), 60)
    assert bare.ok, bare.reason()
    assert bare.lines("FLUID-JIT") == [{"event": "hello", "host": False, "reason": "no UART"}]
    # COM2 there, nobody listening: one HELLO, one stated timeout, then on with the boot choice.
    nobody = str(jit_tree / "build/nobody.sock")
    start = time.monotonic()
    lonely = boot([*qemu_argv(QEMU, image, "floppy"), *qemu_args(nobody)], 60)
    assert lonely.ok, lonely.reason()
    assert [e["event"] for e in lonely.lines("FLUID-JIT")] == ["hello"]
    assert lonely.lines("FLUID-JIT")[0] == {"event": "hello", "host": False, "reason": "no answer"}
    assert time.monotonic() - start < bare.seconds + 10 * P.JIT_HELLO_TIMEOUT_MS / 1000
