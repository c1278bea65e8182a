"""The kernel as a place JIT code runs: a remote executor over the link.

LLVM ORC splits a JIT into the controller, which compiles and links, and the
executor, which only receives finished, relocated bytes and runs them
(``llvm-jitlink-executor``; ez-clang's bare-metal executor does the same over
a serial line). Here the controller is the host's link server
(linkserver.py) and the executor a Fluid kernel (src/kernel/jitlink.c):

- :class:`GuestCpu`: what to compile for, decoded from the CPUID leaves,
  XCR0 and CR4 the kernel reports in its HELLO, never from the build host:
  a feature counts when its CPUID bit is set and its register state is
  enabled (SSE: CR4.OSFXSR; AVX, FMA, F16C, AVX2: XCR0 bits 1-2; AVX-512:
  bits 5-7 too). Features the guest lacks are switched off explicitly.
- :class:`KernelImage`: the kernel ELF's symbols (file-local ones included:
  a hot function is reported by address) and the build id (the stamped
  header's ``image_crc32`` in ``kernel.bin``).
- :class:`RemoteExecutor`: ``link`` does what the in-process executor's
  LLJIT does, for an address in the kernel's code arena: ``ld.lld`` places
  the object file there with every undefined symbol set to the kernel's
  address of that name (``name = 0x...;`` in a linker script: like
  ``--just-symbols=kernel_elf.elf``, for local symbols too), and the result
  is one block of bytes to send. Installing it, swapping the slot and timing
  it are the kernel's part, requested by the link server's PATCH; the
  profile arrives by PROFILE rather than being read (the kernel pushes, as
  its only clock and memory are its own), so the Executor methods that read
  counters or time runs have no counterpart here.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluidbench import protocol as P
from fluidjit.config import TargetCpu
from fluidjit.errors import CompileError, JitError

# Protocol feature name -> LLVM's, where they differ.
LLVM_FEATURE = {"bmi1": "bmi"}
XMM_STATE, YMM_STATE, ZMM_STATE = 0x2, 0x6, 0xE6  # XCR0 bits each register file needs
CR4_OSFXSR = 1 << 9
XMM_FEATURES = frozenset({"sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "aes", "pclmul", "sha"})
YMM_FEATURES = frozenset({"avx", "fma", "f16c", "avx2"})
ZMM_FEATURES = frozenset({"avx512f"})
# CPUID.01h:EDX bits of the i686 baseline LLVM's feature list names.
BASE_EDX = {"x87": 0, "cx8": 8, "cmov": 15, "mmx": 23, "fxsr": 24}
# LLVM's x86-64 micro-architecture levels, newest first, with the protocol features each needs
# (the rest of a level, CX16, LAHF/SAHF in 64-bit mode and XSAVE, has no instruction a compiler
# emits in 32-bit code): the newest the guest has names the LLVM CPU, for its tuning.
X86_64_LEVELS = (
    ("x86-64-v3", frozenset({"sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2",
                             "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe"})),
    ("x86-64-v2", frozenset({"sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt"})),
    ("x86-64", frozenset({"sse", "sse2"})),
)
_CPUID = re.compile(r"(0x[0-9A-Fa-f]+|\d+)(?:\.(\d+))?:E([ABCD])X\[(\d+)\]")
LINKER_CANDIDATES = ("ld.lld-22", "ld.lld-21", "ld.lld-20", "ld.lld-19", "ld.lld")
LINK_TIMEOUT_S = 30
PATCH_ALIGN = 64
# A patch is one block: code, then read-only data, data and zeroed data (ld.lld gets the same
# order in its script).
SECTION_ORDER = ((".text", ".text.*"), (".rodata", ".rodata.*"), (".data", ".data.*"),
                 (".bss", ".bss.*", "COMMON"))
SHF_ALLOC = 0x2
TRAP_FILL = b"\xcc"  # INT3 between sections, as ld.lld fills an executable section
R_386_NONE, R_386_32, R_386_PC32, R_386_PLT32 = 0, 1, 2, 4


@dataclass(frozen=True)
class GuestCpu:
    """The CPU a kernel reported: its protocol feature names and the LLVM target for them."""

    features: tuple[str, ...]  # protocol names ("avx2"), usable by the guest
    absent: tuple[str, ...]  # protocol names it lacks (or cannot use)
    family: int
    vendor: str
    edx: int  # CPUID.01h:EDX: the i686 baseline (x87, CMOV, CMPXCHG8B, MMX, FXSR)

    @classmethod
    def from_hello(cls, leaves: Mapping[tuple[int, int], Sequence[int]], xcr0: int, cr4: int) -> GuestCpu:
        regs = {key: tuple(value) for key, value in leaves.items()}
        have, lack = [], []
        for f in P.CPU_FEATURES:
            m = _CPUID.fullmatch(f["cpuid"])
            leaf, sub = int(m.group(1), 0), int(m.group(2) or 0)
            reg = "ABCD".index(m.group(3))
            on = bool(regs.get((leaf, sub), (0, 0, 0, 0))[reg] >> int(m.group(4)) & 1)
            name = f["name"]
            if name in XMM_FEATURES and not cr4 & CR4_OSFXSR:
                on = False
            if name in YMM_FEATURES and xcr0 & YMM_STATE != YMM_STATE:
                on = False
            if name in ZMM_FEATURES and xcr0 & ZMM_STATE != ZMM_STATE:
                on = False
            (have if on else lack).append(name)
        _, ebx, ecx, edx = regs.get((0, 0), (0, 0, 0, 0))
        vendor = struct.pack("<III", ebx, edx, ecx).decode("ascii", errors="replace").strip("\0")
        sig = regs.get((1, 0), (0, 0, 0, 0))[0]
        family = (sig >> 8) & 0xF
        if family == 0xF:
            family += (sig >> 20) & 0xFF
        return cls(tuple(have), tuple(lack), family, vendor, regs.get((1, 0), (0, 0, 0, 0))[3])

    def target(self) -> TargetCpu:
        """The LLVM CPU and features: exactly the guest's extensions on, every other one of the
        table off, on the CPU the newest x86-64 level the guest has all of names (its
        tuning), else i686 (or i586 without CMOV)."""
        edx = self.edx
        base = [f"{'+' if edx >> bit & 1 else '-'}{name}" for name, bit in BASE_EDX.items()]
        if self.family >= 6:
            base.append("+nopl")
        items = [*base, *(f"+{LLVM_FEATURE.get(n, n)}" for n in self.features),
                 *(f"-{LLVM_FEATURE.get(n, n)}" for n in self.absent)]
        whole = all(edx >> bit & 1 for bit in BASE_EDX.values())
        name = next((level for level, needs in X86_64_LEVELS if whole and needs <= set(self.features)),
                    "i686" if edx >> BASE_EDX["cmov"] & 1 else "i586")
        return TargetCpu(name, ",".join(items), "guest CPUID")


@dataclass
class Symbol:
    name: str
    addr: int
    size: int
    kind: str  # "func", "object", ...


class KernelImage:
    """The kernel ELF's symbols and the build id of ``kernel.bin``."""

    def __init__(self, elf_path: str | Path, bin_path: str | Path) -> None:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        self.symbols: dict[str, Symbol] = {}
        self.ambiguous: set[str] = set()
        self.functions: dict[int, str] = {}
        self.segments: list[tuple[int, bytes]] = []  # (address, file bytes) of each PT_LOAD
        try:
            with open(elf_path, "rb") as f:
                elf = ELFFile(f)
                table = elf.get_section_by_name(".symtab")
                if table is None:
                    raise JitError(f"{elf_path}: the kernel ELF has no symbol table")
                self.segments = [(seg["p_vaddr"], seg.data()) for seg in elf.iter_segments()
                                 if seg["p_type"] == "PT_LOAD"]
                for s in table.iter_symbols():
                    kind = s["st_info"]["type"].removeprefix("STT_").lower()
                    if not s.name or s["st_shndx"] == "SHN_UNDEF" or kind in ("file", "section"):
                        continue
                    if s.name in self.symbols and self.symbols[s.name].addr != s["st_value"]:
                        self.ambiguous.add(s.name)
                    self.symbols[s.name] = Symbol(s.name, s["st_value"], s["st_size"], kind)
                    if kind == "func" and s["st_size"]:
                        self.functions[s["st_value"]] = s.name
        except (OSError, ELFError) as exc:
            raise JitError(f"{elf_path}: cannot read the kernel ELF: {exc}") from None
        try:
            header = Path(bin_path).read_bytes()[:P.FLUD_HEADER_SIZE]
        except OSError as exc:
            raise JitError(f"{bin_path}: cannot read the kernel image: {exc.strerror}") from None
        if len(header) < P.FLUD_HEADER_SIZE or header[:4] != P.FLUD_MAGIC:
            raise JitError(f"{bin_path}: not a stamped kernel image (no FLUD header)")
        self.build_id = struct.unpack_from("<I", header, P.HDR_IMAGE_CRC32)[0]

    def function_at(self, addr: int) -> str | None:
        """The function starting at ``addr``, or None."""
        return self.functions.get(addr)

    def read(self, addr: int, size: int) -> bytes:
        """``size`` bytes of the image at ``addr`` (JitError outside its loaded data)."""
        for base, data in self.segments:
            if base <= addr and addr + size <= base + len(data):
                return data[addr - base:addr - base + size]
        raise JitError(f"0x{addr:08x}: not in the kernel image's loaded data")

    def descriptor_function(self, descriptor: str, role: str = "run") -> str | None:
        """The function a ``struct bench_desc`` (bench.h) names for ``role``: the kernel's
        ``bench_matrix_mul_avx2`` -> ``mm_run.485``."""
        from fluidjit.variants import DESCRIPTOR_FUNCTIONS, FIRST_FUNCTION_FIELD

        index = FIRST_FUNCTION_FIELD + DESCRIPTOR_FUNCTIONS.index(role)
        raw = self.read(self.address(descriptor), (index + 1) * 4)
        return self.function_at(struct.unpack_from("<I", raw, index * 4)[0])

    def address(self, name: str) -> int:
        """The kernel's address of symbol ``name``; CompileError if it has none or several."""
        if name in self.ambiguous:
            raise CompileError(f"the kernel ELF has several symbols named {name!r}")
        if name not in self.symbols:
            raise CompileError(f"the kernel ELF has no symbol {name!r} (the patch needs it)")
        return self.symbols[name].addr


def find_linker() -> str:
    """ld.lld, newest first (the toolchain's candidates)."""
    for name in LINKER_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise JitError(f"no LLVM linker found (tried {', '.join(LINKER_CANDIDATES)}; Debian: lld-19)")


@dataclass
class LinkedCode:
    """An object file placed at ``addr``: the bytes to copy there and the exports' addresses."""

    library: str
    addr: int
    code: bytes
    exports: dict[str, int]
    digest: int = field(init=False)

    def __post_init__(self) -> None:
        self.digest = zlib.crc32(self.code)

    @property
    def end(self) -> int:
        return self.addr + len(self.code)


class RemoteExecutor:
    """Links object files into the kernel's code arena (module docstring).

    Addresses are handed out upwards from the arena's start, ``PATCH_ALIGN``
    aligned. Code is never removed while it may run: ``release`` takes back
    only the last library linked, once the kernel reverted or refused it."""

    def __init__(self, image: KernelImage, arena_addr: int, arena_bytes: int,
                 linker: str | None = None) -> None:
        self.image = image
        self.arena_addr, self.arena_bytes = arena_addr, arena_bytes
        self.linker = linker  # None: relocate here (_relocate); a path: ld.lld
        self._next = arena_addr
        self.libraries: dict[str, LinkedCode] = {}

    @property
    def arena_end(self) -> int:
        return self.arena_addr + self.arena_bytes

    def link(self, library: str, obj: bytes, exports: Sequence[str], against: str | None = None,
             at: int | None = None) -> dict[str, int]:
        """Place object file ``obj`` as ``library`` at the next free arena address (or at
        ``at``: the fault tests' way to link outside it), its undefined symbols resolved to the
        kernel's; the addresses of ``exports``. ``against`` is always the kernel. Raises
        CompileError when it cannot be linked or does not fit."""
        del against
        if library in self.libraries:
            raise CompileError(f"library name {library!r} is already used")
        addr = self._next if at is None else at
        code, symbols = self._place(obj, addr, exports)
        if at is None and addr + len(code) > self.arena_end:
            raise CompileError(f"the code arena is full ({len(code)} bytes do not fit after "
                               f"0x{addr:08x})")
        if len(code) > P.JIT_MAX_CODE:
            raise CompileError(f"{len(code)} bytes of code, more than a PATCH carries ({P.JIT_MAX_CODE})")
        linked = LinkedCode(library, addr, code, symbols)
        self.libraries[library] = linked
        if at is None:
            self._next = (linked.end + PATCH_ALIGN - 1) // PATCH_ALIGN * PATCH_ALIGN
        return dict(symbols)

    def release(self, library: str) -> None:
        """The kernel will never run ``library``: its space may be reused if it was the last."""
        linked = self.libraries.get(library)
        if linked and linked.end <= self._next and \
                self._next == (linked.end + PATCH_ALIGN - 1) // PATCH_ALIGN * PATCH_ALIGN:
            self._next = linked.addr

    def _place(self, obj: bytes, addr: int, exports: Sequence[str]) -> tuple[bytes, dict[str, int]]:
        return (self._ld if self.linker else _relocate)(obj, addr, exports, self.image.address)

    def _ld(self, obj: bytes, addr: int, exports: Sequence[str],
            resolve: Callable[[str], int]) -> tuple[bytes, dict[str, int]]:
        """``_relocate``'s result, made by ld.lld (to check one against the other)."""
        from elftools.elf.elffile import ELFFile

        with tempfile.TemporaryDirectory(prefix="fluidjit-link-") as tmp:
            src, out, script = (os.path.join(tmp, n) for n in ("patch.o", "patch.elf", "patch.ld"))
            Path(src).write_bytes(obj)
            with open(src, "rb") as f:
                undefined = {s.name for s in _symbols(ELFFile(f)) if s["st_shndx"] == "SHN_UNDEF"
                             and s.name and s["st_info"]["bind"] != "STB_LOCAL"}
            lines = ["SECTIONS", "{", f"  . = 0x{addr:x};",
                     "  .text : { " + " ".join(f"*({' '.join(g)})" for g in SECTION_ORDER) + " }",
                     "  /DISCARD/ : { *(.comment) *(.note*) *(.eh_frame*) *(.llvm_addrsig) }", "}"]
            lines += [f'"{name}" = 0x{resolve(name):x};' for name in sorted(undefined)]
            Path(script).write_text("\n".join(lines) + "\n")
            argv = [str(self.linker), "-m", "elf_i386", "-static", "--build-id=none", "-e",
                    exports[0] if exports else "0", "-T", script, "-o", out, src]
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=LINK_TIMEOUT_S,
                                      env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
                                      check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise CompileError(f"{self.linker} failed: {exc}") from None
            if proc.returncode:
                first = (proc.stderr.strip() or proc.stdout.strip() or "no message").splitlines()[0]
                raise CompileError(f"{os.path.basename(str(self.linker))}: {first}")
            with open(out, "rb") as f:
                elf = ELFFile(f)
                text = elf.get_section_by_name(".text")
                if text is None or text["sh_addr"] != addr:
                    raise CompileError(f"the linker did not place the patch at 0x{addr:x}")
                symbols = {s.name: s["st_value"] for s in _symbols(elf) if s.name in exports}
                code = text.data()
        missing = [e for e in exports if e not in symbols]
        if missing:
            raise CompileError(f"the patch defines no {', '.join(missing)}")
        return bytes(code), symbols

    def close(self) -> None:
        """Nothing to release on the host; the kernel's arena is its own."""


def _symbols(elf: Any) -> list[Any]:
    table = elf.get_section_by_name(".symtab")
    return list(table.iter_symbols()) if table is not None else []


def _relocate(obj: bytes, addr: int, exports: Sequence[str],
              resolve: Callable[[str], int]) -> tuple[bytes, dict[str, int]]:
    """Object file ``obj`` (i386 ELF, static relocation model) laid out from ``addr``: its
    allocated sections in SECTION_ORDER, each at its alignment, zero-filled where NOBITS;
    R_386_32 (S + A) and R_386_PC32 / R_386_PLT32 (S + A - P, a call straight to the
    symbol) applied, undefined symbols at ``resolve(name)``; INT3 between sections. ld.lld
    with the same order in its script gives the same bytes (``RemoteExecutor(linker=...)``).
    The bytes and the addresses of ``exports``; CompileError for anything else (a GOT, TLS,
    another relocation)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(obj))
        if elf["e_machine"] != "EM_386" or elf["e_type"] != "ET_REL":
            raise CompileError("the patch is not an i386 relocatable object")
        sections = list(elf.iter_sections())
        placed: dict[int, int] = {}  # section index -> address
        image = bytearray()
        for group in SECTION_ORDER:
            for index, sec in enumerate(sections):
                if index in placed or not sec["sh_flags"] & SHF_ALLOC or not sec["sh_size"] \
                        or not any(fnmatch.fnmatchcase(sec.name, g) for g in group):
                    continue
                align = max(sec["sh_addralign"], 1)
                image += TRAP_FILL * (-len(image) % align)
                placed[index] = addr + len(image)
                image += sec.data() if sec["sh_type"] != "SHT_NOBITS" else bytes(sec["sh_size"])
        stray = [s.name for i, s in enumerate(sections)
                 if s["sh_flags"] & SHF_ALLOC and s["sh_size"] and i not in placed]
        if stray:
            raise CompileError(f"the patch has sections a patch cannot hold: {', '.join(stray)}")
        symbols = _symbols(elf)

        def value(sym: Any) -> int:
            shndx = sym["st_shndx"]
            if shndx == "SHN_UNDEF":
                return resolve(sym.name)
            if shndx == "SHN_ABS":
                return sym["st_value"]
            if isinstance(shndx, int) and shndx in placed:
                return placed[shndx] + sym["st_value"]
            raise CompileError(f"symbol {sym.name!r} is in a section the patch does not hold")

        for sec in sections:
            if sec["sh_type"] == "SHT_RELA":
                raise CompileError("the patch has RELA relocations (an i386 object has REL)")
            if sec["sh_type"] != "SHT_REL" or sec["sh_info"] not in placed:
                continue
            base = placed[sec["sh_info"]]
            for rel in sec.iter_relocations():
                kind, offset = rel["r_info_type"], rel["r_offset"]
                at = base - addr + offset
                if kind == R_386_NONE:
                    continue
                target = value(symbols[rel["r_info_sym"]])
                addend = struct.unpack_from("<i", image, at)[0]
                if kind == R_386_32:
                    result = target + addend
                elif kind in (R_386_PC32, R_386_PLT32):
                    result = target + addend - (base + offset)
                else:
                    raise CompileError(f"the patch needs relocation type {kind}, which only a "
                                       "linker with a GOT or TLS could resolve")
                struct.pack_into("<I", image, at, result & 0xFFFFFFFF)
        found = {s.name: value(s) for s in symbols if s.name in exports and s["st_shndx"] != "SHN_UNDEF"}
    except ELFError as exc:
        raise CompileError(f"the patch is not a readable object file: {exc}") from None
    missing = [e for e in exports if e not in found]
    if missing:
        raise CompileError(f"the patch defines no {', '.join(missing)}")
    return bytes(image), found
