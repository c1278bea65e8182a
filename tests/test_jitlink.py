"""The live re-JIT link's host side without a kernel: frames, the guest's CPU, the profile's
server options, the compile strategies and their queue, and (integration) a patch linked two
ways, the strategies' patches of the kernel's functions, and the server's report when the run
ends (docs/kernel-jit.md). The runs themselves are tests/test_kernel_jit.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fluidbench import protocol as P
from fluidjit import linkproto
from fluidjit.compilequeue import URGENT, CompileQueue
from fluidjit.linkserver import args_problem
from fluidjit.remote import GuestCpu
from fluidjit.strategies import Strategy, parse_list, plan

# The leaves the kernel sent under QEMU 7.2 TCG, -cpu max and -cpu qemu32 (with their XCR0, CR4).
MAX_LEAVES = {(0, 0): (0xD, 0x68747541, 0x444D4163, 0x69746E65),
              (1, 0): (0x663, 0x800, 0xFED8320B, 0x0FCBFBFD),
              (7, 0): (0, 0x1D843A9, 0x8001020C, 0),
              (0xD, 0): (0x21F, 0x340, 0xA88, 0),
              (0x80000000, 0): (0x8000000A, 0x68747541, 0x444D4163, 0x69746E65),
              (0x80000001, 0): (0x663, 0, 0x75, 0xCDD3F3FD)}
MAX_XCR0, MAX_CR4 = 0x7, 0x40600
QEMU32_LEAVES = {(0, 0): (0x4, 0x756E6547, 0x6C65746E, 0x49656E69),
                 (1, 0): (0x663, 0x800, 0x80000001, 0x0781ABFD),
                 (0x80000000, 0): (0x80000004, 0x756E6547, 0x6C65746E, 0x49656E69),
                 (0x80000001, 0): (0x663, 0, 0, 0)}
QEMU32_XCR0, QEMU32_CR4 = 0, 0x600
CR4_SSE = 1 << 9


def test_frames_round_trip_and_survive_noise() -> None:
    profile = linkproto.profile(3, 0x11B3E0, 128, 2, 75_000_000, "matrix_mul", "avx2",
                                [(0, 0, 0), (2, 128, 0), (0, 0, 0), (0, 0, 0)])
    stream = (b"\x00\xffFJI"  # stray bytes, a torn magic
              + linkproto.HEADER.pack(P.JIT_MAGIC, 0x7777, 0, 9, 4)  # a header with a bad opcode
              + linkproto.frame(P.JIT_OP_PROFILE, 5, profile)
              + linkproto.HEADER.pack(P.JIT_MAGIC, P.JIT_OP_PATCH, 0, 6, P.JIT_MAX_PAYLOAD + 1)
              + linkproto.frame(P.JIT_OP_BYE, 7))
    reader = linkproto.FrameReader()
    frames = [f for i in range(0, len(stream), 7) for f in reader.feed(stream[i:i + 7])]
    assert [(f.name, f.seq) for f in frames] == [("PROFILE", 5), ("BYE", 7)]
    assert reader.garbage > 0
    m = linkproto.parse_profile(frames[0].payload)
    assert (m["slot"], m["fn_addr"], m["size"]) == (3, 0x11B3E0, 128)
    assert (m["name"], m["variant"]) == ("matrix_mul", "avx2")
    assert m["args"][1] == (2, 128, 0)


def test_patch_verdict_and_decline_layouts() -> None:
    code = bytes(range(200))
    header, body = linkproto.parse_patch(linkproto.patch(0xABCD1234, 2, 0x111000, 0x145000, 0x145010,
                                                         0xDEADBEEF, code))
    assert body == code and header["bytes"] == len(code) and header["entry"] == 0x145010
    assert len(linkproto.patch(1, 2, 3, 4, 5, 6, b"")) == P.JIT_PATCH_SIZE
    v = linkproto.parse_verdict(linkproto.verdict(2, P.JIT_EVENT_REFUSED, P.JIT_REASON_DIGEST, 0x145010))
    assert (v["event"], v["reason"]) == ("refused", "digest")
    assert linkproto.parse_decline(linkproto.decline(4, "not hot"))["reason"] == "not hot"
    with pytest.raises(ValueError):
        linkproto.frame(P.JIT_OP_PATCH, 1, bytes(P.JIT_MAX_PAYLOAD + 1))


def test_hello_decodes_the_guest_cpu_from_its_cpuid() -> None:
    hello = linkproto.parse_hello(linkproto.hello(0x1234, 0x145000, MAX_LEAVES, xcr0=MAX_XCR0, cr4=MAX_CR4))
    assert hello["build_id"] == 0x1234 and hello["leaves"][1, 0] == MAX_LEAVES[1, 0]
    big = GuestCpu.from_hello(hello["leaves"], hello["xcr0"], hello["cr4"])
    small = GuestCpu.from_hello(QEMU32_LEAVES, QEMU32_XCR0, QEMU32_CR4)
    assert {"avx2", "fma", "bmi2", "sse4.2", "lzcnt"} <= set(big.features)
    assert {"avx512f", "sha"} <= set(big.absent)
    assert {"sse", "sse2", "sse3"} == set(small.features)
    assert big.vendor == "AuthenticAMD" and small.vendor == "GenuineIntel"
    for name in ("+avx2", "+fma", "+bmi", "-avx512f", "+cmov"):
        assert name in big.target().features.split(",")
    # The CPU named is the newest x86-64 level the guest has all of (for its tuning); the
    # features say exactly what it has.
    assert big.target().name == "x86-64-v3" and small.target().name == "x86-64"
    assert "-avx2" in small.target().features.split(",")
    assert big.target().features != small.target().features
    no_cmov = GuestCpu.from_hello({**QEMU32_LEAVES, (1, 0): (0x543, 0, 0, 0x0781ABFD & ~(1 << 15))}, 0,
                                  QEMU32_CR4)
    assert no_cmov.target().name == "i586"


def test_register_state_gates_simd_features() -> None:
    # AVX bits set in CPUID but YMM state off in XCR0 (and SSE without CR4.OSFXSR): unusable.
    no_ymm = GuestCpu.from_hello(MAX_LEAVES, xcr0=0x3, cr4=MAX_CR4)
    assert "avx2" in no_ymm.absent and "fma" in no_ymm.absent and "sse4.2" in no_ymm.features
    no_sse = GuestCpu.from_hello(MAX_LEAVES, xcr0=0x7, cr4=MAX_CR4 & ~CR4_SSE)
    assert "sse2" in no_sse.absent and "popcnt" in no_sse.features


def test_hello_layout_matches_the_spec() -> None:
    payload = linkproto.hello(1, 2, MAX_LEAVES, slots=[0x11A760, 0x117EF0])
    assert len(payload) == P.JIT_HELLO_SIZE == struct.calcsize(P.JIT_HELLO_FORMAT)
    assert linkproto.parse_hello(payload)["slots"] == [0x11A760, 0x117EF0] + [0] * (P.JIT_MAX_SLOTS - 2)
    assert len(linkproto.profile(0, 0, 0, 0, 0, "", "")) == P.JIT_PROFILE_SIZE


def test_profile_server_options_are_checked() -> None:
    assert args_problem(["--corrupt-patch", "--candidates", "boot-fold,guest-o1+spec+br"]) is None
    assert args_problem(["--candidates", "auto", "--no-precompile"]) is None
    for bad in ("O9", "1,fold", "boot-o9", "host-o1", "boot-o1+spec+spec", "boot-o1+fast"):
        assert "not link server options" in (args_problem(["--candidates", bad]) or ""), bad
    assert "not link server options" in (args_problem(["--corupt-patch"]) or "")
    assert "set by the run profile" in (args_problem(["--socket=/tmp/x"]) or "")


def test_strategies_and_the_default_plan() -> None:
    s = Strategy.parse("guest-o1+spec+br")
    assert (s.target, s.passes, s.spec, s.branches, s.name) == ("guest", 1, True, True, "guest-o1+spec+br")
    assert Strategy.parse("boot-none").passes is None and Strategy.parse("boot-fold").passes == "fold"
    assert parse_list("auto") is None
    names = [x.name for x in plan(None, 0, 600, P.JIT_MAX_ROUNDS)]
    assert names == ["boot-none", "boot-fold+spec", "guest-o1+spec"][:P.JIT_MAX_ROUNDS]
    assert all(x.branches for x in plan(None, 2, 600, P.JIT_MAX_ROUNDS))
    assert not plan(None, 0, 600, 3)[0].spec  # the first needs no profile: compiled after HELLO
    # LLVM's pipelines take seconds over a large function: not offered there.
    assert [x.pipeline for x in plan(None, 0, 2700, 3)] == ["none", "fold"]
    assert [x.name for x in plan(parse_list("boot-o2,guest-o3,boot-none,boot-o1"), 0, 2700, 3)] == \
        ["boot-o2", "guest-o3", "boot-none"]


def test_compile_queue_runs_the_most_urgent_first() -> None:
    """One job at a time, lowest priority first; an unknown key asked for jumps the queue; a
    compile error stays with its key."""
    gate, order = threading.Event(), []

    def work(job: str) -> str:
        if job == "first":
            gate.wait(10)
        if job == "bad":
            raise ValueError("no such function")
        order.append(job)
        return job.upper()

    queue = CompileQueue(work)
    try:
        first = queue.submit("first", (0, 0), "first")
        time.sleep(0.05)  # running, holding the worker
        later = [queue.submit(name, (slot, 0), name) for name, slot in (("s5", 5), ("s2", 2), ("bad", 3))]
        urgent = queue.submit("now", URGENT, "now")
        assert queue.submit("s2", URGENT, "ignored") is later[1]  # one future per key
        gate.set()
        assert urgent.result(10) == "NOW" and first.result(10) == "FIRST"
        assert later[0].result(10) == "S5"
        with pytest.raises(ValueError, match="no such function"):
            later[2].result(10)
        assert order == ["first", "now", "s2", "s5"]
    finally:
        queue.close()


def test_own_relocation_gives_ld_lld_bytes(built_tree: Path) -> None:
    """remote._relocate places a patch where ld.lld with the kernel's symbols would."""
    from fluidjit.compiler import ObjectCompiler
    from fluidjit.kernelir import PATCH_TRIPLE, KernelIR
    from fluidjit.remote import KernelImage, RemoteExecutor, find_linker

    build = built_tree / "build"
    image = KernelImage(build / "kernel_elf.elf", build / "kernel.bin")
    function = image.descriptor_function("bench_matrix_mul_generic")
    assert function
    cpu = GuestCpu.from_hello(MAX_LEAVES, MAX_XCR0, MAX_CR4).target()
    source = KernelIR(build / "kernel_bc.bc").patch(function, "fluid_jit_entry", cpu, {1: 128})
    compiler = ObjectCompiler()
    try:
        obj = compiler.compile(source.text, PATCH_TRIPLE, cpu, 2, "fold", reloc="static").data
    finally:
        compiler.close()
    ours = RemoteExecutor(image, 0x145000, P.JIT_ARENA_BYTES)
    theirs = RemoteExecutor(image, 0x145000, P.JIT_ARENA_BYTES, linker=find_linker())
    assert ours.link("a", obj, ["fluid_jit_entry"]) == theirs.link("a", obj, ["fluid_jit_entry"])
    assert ours.libraries["a"].code == theirs.libraries["a"].code
    # The guard's general path calls (or jumps to) the kernel's own function, PC-relative.
    code = ours.libraries["a"].code
    targets = {0x145000 + i + 4 + int.from_bytes(code[i:i + 4], "little", signed=True)
               for i in range(len(code) - 4)}
    assert image.address(function) in targets


def test_strategies_compile_the_kernels_functions(built_tree: Path) -> None:
    """On the real kernel: physics_step's run() has selects to put behind branches, matrix_mul's
    has none; a ``boot`` patch keeps the kernel's targets, a ``guest`` one gets the guest's; no
    patch keeps a frame pointer unless asked; every strategy of the auto plan compiles and
    links."""
    from fluidjit.compiler import ObjectCompiler
    from fluidjit.kernelir import PATCH_TRIPLE, KernelIR
    from fluidjit.remote import KernelImage, RemoteExecutor

    build = built_tree / "build"
    image = KernelImage(build / "kernel_elf.elf", build / "kernel.bin")
    kir = KernelIR(build / "kernel_bc.bc")
    physics = image.descriptor_function("bench_physics_step_avx2")
    matrix = image.descriptor_function("bench_matrix_mul_avx2")
    assert physics and matrix
    assert kir.branch_sites(physics) > 0 and kir.branch_sites(matrix) == 0
    cpu = GuestCpu.from_hello(MAX_LEAVES, MAX_XCR0, MAX_CR4).target()
    boot = kir.patch(matrix, "fluid_jit_entry", None, {1: 128}).text
    guest = kir.patch(matrix, "fluid_jit_entry", cpu, {1: 128}).text
    assert '"target-cpu"="x86-64-v3"' in boot and f'"target-features"="{cpu.features}"' not in boot
    assert f'"target-features"="{cpu.features}"' in guest
    for text in (boot, guest):
        assert '"frame-pointer"="none"' in text and '"frame-pointer"="all"' not in text
    kept = kir.patch(matrix, "fluid_jit_entry", None, {1: 128}, frame_pointer=True).text
    assert '"frame-pointer"="all"' in kept and '"frame-pointer"="none"' not in kept
    executor = RemoteExecutor(image, 0x145000, P.JIT_ARENA_BYTES)
    compiler = ObjectCompiler()
    try:
        for strategy in plan(None, kir.branch_sites(physics), kir.size_of(physics), P.JIT_MAX_ROUNDS):
            source = kir.patch(physics, "fluid_jit_entry", cpu if strategy.target == "guest" else None,
                               {1: 4096} if strategy.spec else {}, branches=strategy.branches)
            assert (".slow" in source.text) == strategy.branches
            obj = compiler.compile(source.text, PATCH_TRIPLE, cpu, 2, strategy.passes, reloc="static").data
            assert "fluid_jit_entry" in executor.link(strategy.name, obj, ["fluid_jit_entry"])
    finally:
        compiler.close()


def _fake_kernel_session(sock: str, build_id: int) -> None:
    """HELLO, WELCOME, BYE: a kernel with nothing to profile."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(sock)
        conn.sendall(linkproto.frame(P.JIT_OP_HELLO, 0, linkproto.hello(build_id, 0x145000, MAX_LEAVES,
                                                                        MAX_XCR0, MAX_CR4)))
        reader, frames = linkproto.FrameReader(), []
        while not frames:
            frames = reader.feed(conn.recv(4096))
        assert frames[0].name == "WELCOME"
        conn.sendall(linkproto.frame(P.JIT_OP_BYE, 1))


def test_the_report_survives_the_run_task_stopping_the_server(built_tree: Path, tmp_path: Path) -> None:
    """The run task stops the link server with SIGTERM once QEMU is gone; however early that
    signal lands, even while the server is writing its report after the kernel's BYE, the
    report names the guest (it once came out without it under load)."""
    from fluidjit.remote import KernelImage

    build = built_tree / "build"
    build_id = KernelImage(build / "kernel_elf.elf", build / "kernel.bin").build_id
    for delay_ms in (0, 2, 10, 40):
        sock, report = str(tmp_path / f"jit{delay_ms}.sock"), tmp_path / f"report{delay_ms}.json"
        server = subprocess.Popen(
            [sys.executable, "-m", "fluidjit.linkserver", "--socket", sock, "--kernel-bc",
             str(build / "kernel_bc.bc"), "--kernel-elf", str(build / "kernel_elf.elf"), "--kernel-bin",
             str(build / "kernel.bin"), "--report", str(report)],
            stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.02)
            _fake_kernel_session(sock, build_id)
            time.sleep(delay_ms / 1000)
            server.send_signal(signal.SIGTERM)
            assert server.wait(30) == 0
        finally:
            server.kill()
        written = json.loads(report.read_text())
        assert written["guest"]["llvm_cpu"] == "x86-64-v3", (delay_ms, written)
        assert written["ended"] in ("bye", "terminated")
