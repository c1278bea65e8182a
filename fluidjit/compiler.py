"""The two tiers' compilers: code generation in a compiler process, linking in LLJIT here.

Tier 0 compiles the whole instrumented module once, fast: its IR is used as
clang left it and only the code generator runs, for the generic x86-64 CPU.
Tier 2 compiles one function at a time: the O3 pipeline with loop and SLP
vectorisation and unrolling (for tuned code, see JitRuntime._compile),
then code generation, both for the target CPU.

Both run in the compiler process (compile_server.py), so an LLVM error
that would end the process ends that one, not the workload; it is restarted
for the next request. The object files come back here and LLJIT links each
into its own JIT library (a library name can never be reused, so every
tier-2 library gets a fresh one), linked against the tier-0 library, whose
exported symbols resolve every reference. Libraries stay loaded until the
compiler is dropped: a swapped-out version may still be running.

With an ObjectCache, object files are kept across runs under the hash of
their request: a function that went hot in an earlier run of the same
module is linked from the cache instead of compiled.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluidbuild.atomic import write_bytes
from fluidjit import compile_server
from fluidjit.config import TargetCpu

TIER0_LIBRARY = "fluid.t0"


class CompileError(Exception):
    """A compilation failed; the message is one line."""


def first_line(text: str, default: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else default


@dataclass(frozen=True)
class Tier2Code:
    address: int
    library: str
    compile_ms: float  # request to callable address: optimise, codegen (or cache), link
    fused_fma: bool  # its IR has llvm.fmuladd: a*b+c may round once (FMA) on the tier-2 CPU
    variant: str  # "tuned": compiled from the tuned half of the module; "generic"
    cached: bool  # the object file came from the cache


@dataclass(frozen=True)
class Loaded:
    """A library of JIT code: its exported addresses and how it was obtained."""

    addresses: dict[str, int]
    library: str
    ms: float
    cached: bool


class ObjectCache:
    """Object files kept across runs, named by the hash of everything that made them: the
    compile request (IR text, triple, CPU, features, levels), LLVM's version and the
    compiler process's own source."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        import llvmlite.binding as llvm

        salt = Path(compile_server.__file__).read_bytes() + repr(llvm.llvm_version_info).encode()
        self._salt = hashlib.sha256(salt).digest()

    def path(self, request: dict[str, Any]) -> Path:
        digest = hashlib.sha256(self._salt + json.dumps(request, sort_keys=True).encode()).hexdigest()
        return self.directory / f"{digest}.o"

    def get(self, request: dict[str, Any]) -> bytes | None:
        try:
            return self.path(request).read_bytes()
        except OSError:
            return None

    def put(self, request: dict[str, Any], obj: bytes) -> None:
        # A read-only or full disk costs the next run a compile, nothing more.
        with contextlib.suppress(OSError):
            write_bytes(str(self.path(request)), obj)


class CompilerProcess:
    """The compiler process, started on first use and again after it dies."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the process now (it takes a moment to import LLVM)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            # Open for the process's lifetime: read (and closed) when it dies.
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
            self._proc = subprocess.Popen([sys.executable, str(Path(compile_server.__file__))],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=self._stderr)
        return self._proc

    def compile(self, request: dict[str, Any]) -> bytes:
        with self._lock:
            proc = self._ensure()
            try:
                compile_server.write_message(proc.stdin, json.dumps(request).encode())
                status = proc.stdout.read(1)
                payload = compile_server.read_message(proc.stdout)
            except BrokenPipeError:
                status, payload = b"", None
            if payload is None:
                raise CompileError(f"the compiler process died: {self._death()}")
        if status[0] != compile_server.OK:
            raise CompileError(first_line(payload.decode(errors="replace"), "LLVM error"))
        return payload

    def _death(self) -> str:
        code = self._proc.wait()
        self._stderr.seek(0)
        message = first_line(self._stderr.read().decode(errors="replace"), f"exit status {code}")
        self._stderr.close()
        self._proc = None
        return message

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._proc.stdin.close()
                self._proc.wait()
                self._stderr.close()
                self._proc = None


class Compiler:
    def __init__(self, tier0_opt: int, tier2_cpu: TargetCpu, tier2_opt: int,
                 cache: ObjectCache | None = None) -> None:
        self.process = CompilerProcess()
        self.process.start()
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self._llvm = llvm
        self._tier0_opt = tier0_opt
        self._tier2_cpu = tier2_cpu
        self._tier2_opt = tier2_opt
        self._cache = cache
        self._jit = llvm.create_lljit_compiler()
        self._libraries: list[object] = []
        self._serial = itertools.count(1)

    def tier0(self, text: str, triple: str, exports: list[str]) -> dict[str, int]:
        """Compile and load the tier-0 module; the addresses of ``exports``."""
        generic = TargetCpu.generic()
        request = {"ir": text, "triple": triple, "cpu": generic.name, "features": generic.features,
                   "codegen": self._tier0_opt, "passes": None}
        return self._load(request, exports, TIER0_LIBRARY, linked=False).addresses

    def tier2(self, text: str, triple: str, entry: str, fused_fma: bool, variant: str,
              passes: int | str | None) -> Tier2Code:
        """Optimise (``passes``: see compile_server), compile and load one tier-2 module; the
        address of ``entry``."""
        loaded = self.load(text, triple, [entry], passes, self._tier2_opt)
        return Tier2Code(loaded.addresses[entry], loaded.library, loaded.ms, fused_fma, variant,
                         loaded.cached)

    def load(self, text: str, triple: str, exports: list[str], passes: int | str | None,
             codegen: int) -> Loaded:
        """Compile ``text`` for the tier-2 CPU (IR passes ``passes``, see compile_server, and
        code generation at level ``codegen``), link it against tier 0 and load it."""
        cpu = self._tier2_cpu
        request = {"ir": text, "triple": triple, "cpu": cpu.name, "features": cpu.features,
                   "codegen": codegen, "passes": passes}
        return self._load(request, exports, f"fluid.t2.{next(self._serial)}.{exports[0]}", linked=True)

    def _load(self, request: dict[str, Any], exports: list[str], library: str, linked: bool) -> Loaded:
        start = time.perf_counter()
        obj = self._cache.get(request) if self._cache else None
        cached = obj is not None
        if obj is None:
            obj = self.process.compile(request)
            if self._cache:
                self._cache.put(request, obj)
        builder = self._llvm.JITLibraryBuilder().add_object_img(obj)
        if linked:
            builder.add_jit_library(TIER0_LIBRARY)
        for name in exports:
            builder.export_symbol(name)
        tracker = self._link(builder, library)
        return Loaded({name: tracker[name] for name in exports}, library,
                      (time.perf_counter() - start) * 1e3, cached)

    def _link(self, builder: Any, library: str) -> Any:
        try:
            tracker = builder.link(self._jit, library)
        except RuntimeError as exc:
            raise CompileError(f"linking {library}: {first_line(str(exc), 'link error')}") from None
        self._libraries.append(tracker)
        return tracker

    def close(self) -> None:
        self.process.close()
