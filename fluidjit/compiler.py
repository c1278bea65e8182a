"""The JIT's compiler: LLVM IR text in, an object file for a given CPU out.

Both tiers compile here. Tier 0 compiles the whole instrumented module
once, fast: its IR is used as clang left it and only the code generator
runs, for the generic x86-64 CPU. Tier 2 compiles one function at a time:
the O3 pipeline with loop and SLP vectorisation and unrolling (or, for
tuned code, less: see JitRuntime._make_tier2), then code generation, both
for the target CPU. Which tier asks for what is the runtime's choice; here
a compilation is a request (compile_server.py has its fields).

Every request runs in the compiler process (compile_server.py), so an LLVM
error that would end the process ends that one, not the workload; it is
restarted for the next request. With an ObjectCache, object files are kept
across runs under the hash of their request: a function that went hot in an
earlier run of the same module is served from the cache instead of compiled.
Each entry carries the digests of its request and of its object file and is
checked against both before use: a damaged entry (a flipped bit, a torn
write, a file copied over another) is deleted with one message and its
request compiled again; it is never linked, let alone run.

The compiler knows nothing of where its code will run: it returns
relocatable object files, and an executor (executor.py) links and runs
them, in this process today, on a remote kernel later, from the same
compiler.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluidbuild.atomic import write_bytes
from fluidjit import compile_server
from fluidjit.config import TargetCpu
from fluidjit.errors import CompileError, first_line


@dataclass(frozen=True)
class ObjectFile:
    """A compiled, relocatable object file."""

    data: bytes
    cached: bool  # it came from the object cache


class ObjectCache:
    """Object files kept across runs, named by the hash of everything that made them: the
    compile request (IR text, triple, CPU, features, levels), LLVM's version and the
    compiler process's own source.

    An entry is one file, written atomically: a header line
    ``fluidjit-object <format> <request digest> <sha256 of the object> <bytes>``,
    then the object file. ``get`` checks all three against the request and
    the bytes that follow before it returns anything."""

    MAGIC = b"fluidjit-object"
    FORMAT = 2  # 1: the bare object file, without a header

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        import llvmlite.binding as llvm

        salt = Path(compile_server.__file__).read_bytes() + repr(llvm.llvm_version_info).encode()
        self._salt = hashlib.sha256(salt + b"format %d" % self.FORMAT).digest()

    def digest(self, request: dict[str, Any]) -> str:
        """The hex digest naming ``request``'s entry."""
        return hashlib.sha256(self._salt + json.dumps(request, sort_keys=True).encode()).hexdigest()

    def path(self, request: dict[str, Any]) -> Path:
        """Where the entry of ``request`` is kept."""
        return self.directory / f"{self.digest(request)}.entry"

    def get(self, request: dict[str, Any]) -> bytes | None:
        """The kept object file of ``request``, or None: none kept, or the entry was damaged
        (then it is deleted, with one line on stderr)."""
        path = self.path(request)
        try:
            entry = path.read_bytes()
        except OSError:
            return None
        obj, why = self._unpack(entry, self.digest(request))
        if why is None:
            return obj
        print(f"fluidjit: cache entry {path} is damaged ({why}); recompiling", file=sys.stderr, flush=True)
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None

    def put(self, request: dict[str, Any], obj: bytes) -> None:
        """Keep ``obj`` as the object file of ``request``."""
        head = b"%s %d %s %s %d\n" % (self.MAGIC, self.FORMAT, self.digest(request).encode(),
                                       hashlib.sha256(obj).hexdigest().encode(), len(obj))
        # A read-only or full disk costs the next run a compile, nothing more.
        with contextlib.suppress(OSError):
            write_bytes(str(self.path(request)), head + obj)

    @classmethod
    def _unpack(cls, entry: bytes, digest: str) -> tuple[bytes, str | None]:
        """The object file in ``entry`` and None, or why ``entry`` is not one for ``digest``."""
        head, newline, obj = entry.partition(b"\n")
        fields = head.split(b" ")
        if not newline or len(fields) != 5 or fields[0] != cls.MAGIC or fields[1] != b"%d" % cls.FORMAT:
            return b"", "no valid header"
        if fields[2].decode(errors="replace") != digest:
            return b"", "it holds the object file of another request"
        if not fields[4].isdigit() or int(fields[4]) != len(obj):
            recorded = fields[4].decode(errors="replace")
            return b"", f"{len(obj)} bytes of object file, its header says {recorded}"
        if hashlib.sha256(obj).hexdigest().encode() != fields[3]:
            return b"", "the object file's sha256 differs from the one recorded"
        return obj, None


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
        """The object file of ``request``; raises CompileError if LLVM refused it or the
        process died (the next request starts a new one)."""
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
        """Let the process finish and wait for it."""
        with self._lock:
            if self._proc is not None:
                self._proc.stdin.close()
                self._proc.wait()
                self._stderr.close()
                self._proc = None


class ObjectCompiler:
    """Compiles IR text to object files for any x86-64 CPU: the compiler process, behind the
    object cache if there is one."""

    def __init__(self, cache: ObjectCache | None = None) -> None:
        self.process = CompilerProcess()
        self.process.start()
        self._cache = cache

    def compile(self, text: str, triple: str, cpu: TargetCpu, codegen: int,
                passes: int | str | None, reloc: str = "pic",
                llvm_options: tuple[str, ...] = ()) -> ObjectFile:
        """``text`` compiled for ``cpu``: IR passes ``passes`` (see compile_server), then code
        generation at level ``codegen``; ``reloc="static"`` for code linked at a fixed address
        (the kernel's patches); ``llvm_options`` set in the compiler process first (they stay
        set there). Raises CompileError."""
        request = {"ir": text, "triple": triple, "cpu": cpu.name, "features": cpu.features,
                   "codegen": codegen, "passes": passes}
        if reloc != "pic":
            request["reloc"] = reloc
        if llvm_options:
            request["llvm_options"] = list(llvm_options)
        obj = self._cache.get(request) if self._cache else None
        if obj is not None:
            return ObjectFile(obj, cached=True)
        obj = self.process.compile(request)
        if self._cache:
            self._cache.put(request, obj)
        return ObjectFile(obj, cached=False)

    def close(self) -> None:
        """Stop the compiler process."""
        self.process.close()
