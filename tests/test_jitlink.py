"""The live re-JIT link's host side without a kernel: frames, the guest's CPU, the profile's
server options, and (integration) a patch linked two ways (docs/kernel-jit.md). The runs
themselves are tests/test_kernel_jit.py."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from fluidbench import protocol as P
from fluidjit import linkproto
from fluidjit.linkserver import args_problem
from fluidjit.remote import GuestCpu

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
    assert "-avx2" in small.target().features.split(",") and small.target().name == "i686"
    assert big.target().features != small.target().features


def test_register_state_gates_simd_features() -> None:
    # AVX bits set in CPUID but YMM state off in XCR0 (and SSE without CR4.OSFXSR): unusable.
    no_ymm = GuestCpu.from_hello(MAX_LEAVES, xcr0=0x3, cr4=MAX_CR4)
    assert "avx2" in no_ymm.absent and "fma" in no_ymm.absent and "sse4.2" in no_ymm.features
    no_sse = GuestCpu.from_hello(MAX_LEAVES, xcr0=0x7, cr4=MAX_CR4 & ~CR4_SSE)
    assert "sse2" in no_sse.absent and "popcnt" in no_sse.features


def test_hello_layout_matches_the_spec() -> None:
    payload = linkproto.hello(1, 2, MAX_LEAVES)
    assert len(payload) == P.JIT_HELLO_SIZE == struct.calcsize(P.JIT_HELLO_FORMAT)
    assert len(linkproto.profile(0, 0, 0, 0, 0, "", "")) == P.JIT_PROFILE_SIZE


def test_profile_server_options_are_checked() -> None:
    assert args_problem(["--corrupt-patch", "--candidates", "fold,1"]) is None
    assert "not link server options" in (args_problem(["--candidates", "O9"]) or "")
    assert "not link server options" in (args_problem(["--corupt-patch"]) or "")
    assert "set by the run profile" in (args_problem(["--socket=/tmp/x"]) or "")


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
