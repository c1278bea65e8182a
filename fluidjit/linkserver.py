"""``python -m fluidjit.linkserver``: the host side of the kernel's live re-JIT.

    python -m fluidjit.linkserver --socket build/jit.sock --kernel-bc build/kernel_bc.bc \\
        --kernel-elf build/kernel_elf.elf --kernel-bin build/kernel.bin \\
        --report build/jit/kernel-report.json

It loads the kernel's bitcode and symbols and starts the compiler, then
listens on a Unix socket that QEMU connects the guest's COM2 to
(``-chardev socket,id=jit,path=...,reconnect=1 -serial stdio -serial
chardev:jit``; ``doit run profile=jit`` does all of this). Then, per frame
from the kernel (docs/kernel-jit.md):

- HELLO: decode the guest's CPU from its CPUID leaves, XCR0 and CR4
  (remote.GuestCpu); answer WELCOME with the build id of the kernel it has;
  then, in the background (compilequeue.py), compile for every slot HELLO
  names the candidates a profile cannot change (strategies.py: those
  without ``+spec``);
- PROFILE: find the function by its address in the kernel ELF (or, in a
  later round, among its own kept patches), its IR in the kernel's bitcode;
  if it is hot, take the slot's next candidate (``--candidates``; compiled
  already, or now) with the compiler the user-space JIT uses
  (compiler.ObjectCompiler), link it at an arena address
  (remote.RemoteExecutor) and send PATCH, else DECLINE; then queue the
  slot's later candidates, specialised for the integer arguments that never
  changed (a later PROFILE with other values compiles them again);
- VERDICT: record it; ``swap`` ends the latency, measured from the PROFILE's
  arrival to the kernel's report that the slot holds the new code;
  ``confirmed``/``unconfirmed`` is the kept code against the boot choice;
- BYE or the end of the connection: write the report (JSON) and exit.

A live log goes to standard output; the report has, per PROFILE, the
variant compiled, compile and link time, the latency, the cycles before and
after and the verdict, and per benchmark the confirmation. Fault options
(``--corrupt-patch`` ...) spoil a PATCH in one way each, or make the host
die or fall silent, for the tests of the kernel's checks.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import os
import signal
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fluidbench import protocol as P
from fluidjit import linkproto
from fluidjit.errors import CompileError, JitError

PREFIX = "fluidjit-link"
HOT_MIN_CYCLES = 10_000  # profiled cycles below which a function is not worth a compile
ENTRY = "fluid_jit_entry"
CODEGEN_LEVEL = 2
# The compiler process's defaults are the user-space JIT's; the kernel's own code generation
# (plugins/compile/codegen.py) runs with loop strength reduction.
LLVM_OPTIONS = ("-disable-lsr=false",)
PATCH_FAULTS = ("corrupt_patch", "wrong_build_id", "outside_arena")  # one patch each, in this order
FAULTS = (*PATCH_FAULTS, "overlap_live", "die_after_hello", "die_after_patch", "silent_after_hello",
          "garbage")


def log(message: str) -> None:
    print(f"{PREFIX}: {message}", flush=True)


def function_label(name: str) -> str:
    """A PROFILE's name as a function: a benchmark's (``matrix_mul``) names its run(); a name with
    a dot (``infer.matvec``) is the function's label already (as the kernel's FLUID-JIT lines)."""
    return name if "." in name else f"{name}.run"


@dataclass
class FunctionRecord:
    """One PROFILE and what became of it (a row of the report)."""

    benchmark: str  # the PROFILE's name: a benchmark's, or a function's label ("infer.matvec")
    slot: int
    boot_variant: str
    addr: str
    size: int
    calls: int
    cycles: int
    function: str | None = None
    specialised: dict[str, int] = field(default_factory=dict)
    round: int = 1  # the slot's how-manieth PROFILE
    strategy: str | None = None  # strategies.Strategy.name
    passes: str | int | None = None
    object_digest: str | None = None
    llvm_cpu: str | None = None
    llvm_features: str | None = None
    branch_sites: int = 0  # blocks the +br strategies split in the patch
    compiled: str | None = None  # when: "hello", "round N" (from that PROFILE's values), "on arrival"
    compile_ms: float | None = None
    wait_ms: float | None = None  # the PROFILE's wait for its candidate's compile
    link_ms: float | None = None
    cached: bool | None = None
    bytes: int | None = None
    entry: str | None = None
    digest: str | None = None
    fault: str | None = None
    latency_ms: float | None = None
    t_profile: float | None = None  # seconds from the server's start: this PROFILE's arrival
    t_swap: float | None = None  # and the kernel's report that the slot holds the new code
    cycles_before: int | None = None
    cycles_after: int | None = None
    speedup: float | None = None
    verdict: str = "pending"  # patched, kept, reverted, refused, declined
    reason: str | None = None
    received: float = field(default=0.0, repr=False)
    library: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """The function as the log names it: a benchmark's run(), or the PROFILE's label."""
        return function_label(self.benchmark)


@dataclass(frozen=True)
class _Job:
    """A compile for the queue: ``function`` with ``strategy``, specialised for ``values``."""

    function: str
    strategy: Any
    values: dict[int, int]
    origin: str  # what made it known: "hello", "round N", "on arrival"


@dataclass(frozen=True)
class _Compiled:
    obj: Any  # compiler.ObjectFile
    compile_ms: float
    origin: str


class Session:
    """One kernel's conversation: everything between its HELLO and its BYE."""

    def __init__(self, args: argparse.Namespace) -> None:
        from fluidjit.compilequeue import CompileQueue
        from fluidjit.compiler import ObjectCache, ObjectCompiler
        from fluidjit.kernelir import KernelIR
        from fluidjit.remote import KernelImage

        self.args = args
        self.faults = {name for name in FAULTS if getattr(args, name)}
        self.faults_used: set[str] = set()
        self.kir = KernelIR(args.kernel_bc)
        self.image = KernelImage(args.kernel_elf, args.kernel_bin)
        cache = ObjectCache(Path(args.cache_dir)) if args.cache_dir else None
        if cache:
            cache.directory.mkdir(parents=True, exist_ok=True)
        self.compiler = ObjectCompiler(cache)
        self.queue = CompileQueue(self._compile)
        self.slot_functions: dict[int, str] = {}  # from HELLO
        self.executor: Any = None
        self.guest: Any = None
        self.cpu: Any = None
        self.hello: dict[str, Any] | None = None
        self.functions: list[FunctionRecord] = []
        # Per benchmark: the code its slot kept against the boot choice, timed afresh.
        self.confirmations: dict[str, dict[str, Any]] = {}
        self.by_slot: dict[int, FunctionRecord] = {}
        self.seq = 0
        self.ended = "no connection"
        self.patches_sent = 0
        self._plans: dict[str, list[Any]] = {}
        self.after_reply: Any = None  # work to start once the reply is on its way
        self.garbage_in = 0
        self.started = time.time()
        self.clock0 = time.monotonic()

    def warm_up(self) -> None:
        """One small compile, so the first real one does not pay for LLVM's start."""
        from fluidjit.config import TargetCpu
        from fluidjit.kernelir import PATCH_TRIPLE

        text = 'define i32 @f(i32 %x) {\n  %y = add i32 %x, 1\n  ret i32 %y\n}\n'
        with contextlib.suppress(CompileError):
            self.compiler.compile(text, PATCH_TRIPLE, TargetCpu("i686", "", "warm-up"), CODEGEN_LEVEL,
                                  2, reloc="static")

    def reply(self, opcode: int, seq: int, payload: bytes) -> bytes:
        data = linkproto.frame(opcode, seq, payload)
        if "garbage" in self.faults:
            # Noise a reader must skip: stray bytes, and a header with a bad opcode.
            data = b"\x00\xffFJ" + linkproto.HEADER.pack(P.JIT_MAGIC, 0x7777, 0, seq, 4) + data
        return data

    # -- HELLO --------------------------------------------------------------------------------

    def on_hello(self, frame: linkproto.Frame) -> bytes:
        from fluidjit.remote import GuestCpu, RemoteExecutor

        m = linkproto.parse_hello(frame.payload)
        self.hello = m
        self.guest = GuestCpu.from_hello(m["leaves"], m["xcr0"], m["cr4"])
        self.cpu = self.guest.target()
        self.executor = RemoteExecutor(self.image, m["arena_addr"], m["arena_bytes"], self.args.linker)
        same = m["build_id"] == self.image.build_id
        build = "the build here" if same else f"ANOTHER build: 0x{self.image.build_id:08x} here, no patches"
        log(f"kernel 0x{m['build_id']:08x} connected ({build}); {m['bench_count']} slots, "
            f"arena {m['arena_bytes'] // 1024} KiB at 0x{m['arena_addr']:08x}")
        enabled = ",".join(f for f in self.cpu.features.split(",") if f[0] == "+")
        log(f"guest CPU: {self.guest.vendor} family {self.guest.family}, "
            f"{' '.join(self.guest.features) or 'no SIMD'}; XCR0 0x{m['xcr0']:x}; "
            f"compiling for {self.cpu.name} {enabled}")
        if same:
            self._precompile(m["slots"][:min(m["bench_count"], P.JIT_MAX_SLOTS)])
        return self.reply(P.JIT_OP_WELCOME, frame.seq, linkproto.welcome(self.image.build_id))

    def _precompile(self, addresses: list[int]) -> None:
        """Queue, per slot HELLO names, the candidates no profile changes (no ``+spec``)."""
        for slot, addr in enumerate(addresses):
            function = self.image.function_at(addr)
            if function is None or self.kir.token(function) is None:
                continue
            self.slot_functions[slot] = function
            if self.args.no_precompile:
                continue
            for index, strategy in enumerate(self.plan_for(function)):
                if not strategy.spec:
                    self.queue.submit(self._key(function, strategy, {}), (slot, index),
                                      _Job(function, strategy, {}, "hello"))

    # -- PROFILE ------------------------------------------------------------------------------

    def on_profile(self, frame: linkproto.Frame, received: float) -> bytes:
        m = linkproto.parse_profile(frame.payload)
        earlier = [r for r in self.functions if r.slot == m["slot"]]
        rec = FunctionRecord(m["name"], m["slot"], m["variant"], f"0x{m['fn_addr']:08x}", m["size"],
                             m["calls"], m["cycles"], round=len(earlier) + 1, received=received,
                             t_profile=round(received - self.clock0, 4))
        self.functions.append(rec)
        self.by_slot[rec.slot] = rec
        why = self._decline_reason(m, rec)
        if why:
            return self._decline(rec, frame.seq, why)
        assert rec.function is not None
        plan = self.plan_for(rec.function)
        values = self._values(m, rec.function)
        tried = {r.object_digest for r in earlier if r.object_digest}
        for index in range(len(earlier), len(plan)):
            strategy = plan[index]
            rec.strategy, rec.passes = strategy.name, strategy.passes
            try:
                payload = self._build(m, rec, strategy, values, tried, last=index + 1 == len(plan))
            except (CompileError, JitError) as exc:
                return self._decline(rec, frame.seq, f"compile failed: {exc}")
            if payload is not None:
                self.after_reply = functools.partial(self._speculate, rec, plan, index, values)
                self.patches_sent += 1
                rec.verdict = "patched"
                return self.reply(P.JIT_OP_PATCH, frame.seq, payload)
            earlier.append(rec)  # the same code as a candidate already timed: the next one
        return self._decline(rec, frame.seq, "no more candidates")

    def _speculate(self, rec: FunctionRecord, plan: list[Any], index: int, values: dict[int, int]) -> None:
        """Queue the slot's later candidates with this profile's values (once the PATCH is on its
        way: the compiles then share the host's CPU with the kernel timing it, not with the
        transfer): the slot's next PROFILE (the same calls, so the same values) finds them
        compiled."""
        assert rec.function is not None
        if self.args.no_precompile:
            return
        for later in range(index + 1, len(plan)):
            strategy = plan[later]
            used = values if strategy.spec else {}
            self.queue.submit(self._key(rec.function, strategy, used), (rec.slot, later),
                              _Job(rec.function, strategy, used, f"round {rec.round}"))

    def _values(self, m: dict[str, Any], function: str) -> dict[int, int]:
        """The integer arguments of ``function`` the profile saw never change, by position."""
        values = {}
        if not self.args.no_specialize:
            for pos, _bits in self.kir.int_params(function):
                seen, value, changes = m["args"][pos] if pos < len(m["args"]) else (0, 0, 0)
                if seen >= 1 and changes == 0:
                    values[pos] = value
        return values

    def _decline_reason(self, m: dict[str, Any], rec: FunctionRecord) -> str | None:
        if self.hello is None:
            return "no HELLO"
        if self.hello["build_id"] != self.image.build_id:
            return "another build"
        # The slot holds a kernel function, or a patch of ours kept in an earlier round (its
        # source is that patch's function; the guard still falls back to the kernel's code).
        addr = f"0x{m['fn_addr']:08x}"
        rec.function = self.image.function_at(m["fn_addr"]) or next(
            (r.function for r in self.functions if r.entry == addr and r.verdict == "kept"), None)
        if rec.function is None or self.kir.token(rec.function) is None:
            return f"no function at 0x{m['fn_addr']:08x}"
        if m["cycles"] < HOT_MIN_CYCLES or m["calls"] < 1:
            return "not hot"
        return None

    def _decline(self, rec: FunctionRecord, seq: int, why: str) -> bytes:
        rec.verdict, rec.reason = "declined", why
        log(f"{rec.label}: no patch ({why})")
        return self.reply(P.JIT_OP_DECLINE, seq, linkproto.decline(rec.slot, why))

    def plan_for(self, function: str) -> list[Any]:
        """The strategies the slot of ``function`` gets, one per round (strategies.plan)."""
        from fluidjit.strategies import plan

        if function not in self._plans:
            self._plans[function] = plan(self.args.candidates, self.kir.branch_sites(function),
                                         self.kir.size_of(function), P.JIT_MAX_ROUNDS)
        return self._plans[function]

    @staticmethod
    def _key(function: str, strategy: Any, values: dict[int, int]) -> tuple[Any, ...]:
        return function, strategy.name, tuple(sorted(values.items()))

    def _compile(self, job: _Job) -> _Compiled:
        """The compile queue's work: ``job`` as an object file (runs on its thread)."""
        from fluidjit.kernelir import PATCH_TRIPLE

        cpu = self.cpu if job.strategy.target == "guest" else None
        start = time.monotonic()
        source = self.kir.patch(job.function, ENTRY, cpu, job.values, branches=job.strategy.branches,
                                frame_pointer=self.args.frame_pointer)
        obj = self.compiler.compile(source.text, PATCH_TRIPLE, self.cpu, self.args.codegen,
                                    job.strategy.passes, reloc="static",
                                    llvm_options=tuple(self.args.llvm_option))
        return _Compiled(obj, round((time.monotonic() - start) * 1e3, 1), job.origin)

    def _build(self, m: dict[str, Any], rec: FunctionRecord, strategy: Any, values: dict[int, int],
               tried: set[str], last: bool) -> bytes | None:
        """The PATCH payload of ``rec.function`` compiled with ``strategy`` (``last``: the slot's
        last candidate), or None when that gives an object file already tried for it."""
        from fluidjit.compilequeue import URGENT

        assert rec.function is not None
        used = values if strategy.spec else {}
        rec.specialised = {("size" if pos == 1 else f"arg{pos}"): v for pos, v in used.items()}
        guest = strategy.target == "guest"
        rec.llvm_cpu = self.cpu.name if guest else "boot"
        rec.llvm_features = self.cpu.features if guest else self.kir.features_of(rec.function)
        rec.branch_sites = self.kir.branch_sites(rec.function) if strategy.branches else 0
        key = self._key(rec.function, strategy, used)
        ready = self.queue.submitted(key)
        future = self.queue.submit(key, URGENT, _Job(rec.function, strategy, used, "on arrival"))
        done = future.result()
        t1 = time.monotonic()
        rec.wait_ms = round((t1 - rec.received) * 1e3, 1)
        rec.compile_ms, rec.compiled = done.compile_ms, done.origin
        rec.cached = done.obj.cached
        spec_text = ", ".join(f"{k}={v}" for k, v in rec.specialised.items()) or "no constant arguments"
        log(f"{rec.label} = {rec.function} (boot choice {rec.boot_variant}): {rec.calls} calls, "
            f"{rec.cycles} cycles; candidate {rec.round}: {strategy.name} ({spec_text}), compiled "
            f"{'ahead' if ready else 'now'} ({done.origin})")
        rec.object_digest = hashlib.sha256(done.obj.data).hexdigest()[:16]
        if rec.object_digest in tried:
            log(f"{rec.label}: {strategy.name} gives the code already tried; next candidate")
            return None
        tried.add(rec.object_digest)
        library = f"patch{len(self.functions)}"
        rec.fault = self._next_fault()
        at = None
        if rec.fault == "outside_arena":
            at = self.executor.arena_end
        elif rec.fault == "overlap_live":
            live = [r for r in self.functions if r.verdict == "kept" and r.library]
            at = self.executor.libraries[live[-1].library].addr
        exports = self.executor.link(library, done.obj.data, [ENTRY], at=at)
        t2 = time.monotonic()
        linked = self.executor.libraries[library]
        rec.library = library
        rec.link_ms = round((t2 - t1) * 1e3, 1)
        rec.bytes, rec.entry = len(linked.code), f"0x{exports[ENTRY]:08x}"
        code, digest, build_id = linked.code, linked.digest, self.image.build_id
        if rec.fault == "corrupt_patch":
            code = code[:-1] + bytes([code[-1] ^ 0xFF])
        elif rec.fault == "wrong_build_id":
            build_id ^= 0xFFFFFFFF
        rec.digest = f"0x{digest:08x}"
        cached = " (cached)" if done.obj.cached else ""
        log(f"{rec.label}: compiled in {rec.compile_ms:.0f} ms{cached} (ready {rec.wait_ms:.0f} ms "
            f"after the profile), linked in {rec.link_ms:.0f} ms: {rec.bytes} bytes at 0x{linked.addr:08x}"
            f"{f' [fault: {rec.fault}]' if rec.fault else ''}; PATCH sent")
        return linkproto.patch(build_id, rec.slot, m["fn_addr"], linked.addr, exports[ENTRY], digest, code,
                               last)

    def _next_fault(self) -> str | None:
        """The fault this patch gets: each of PATCH_FAULTS asked for, one patch each, in that
        order; then ``overlap_live`` once, on the first patch after a kept one. With
        ``overlap_live`` the first patch is left alone: kept, it is the live code to overlap."""
        if "overlap_live" in self.faults and self.patches_sent == 0:
            return None
        for name in PATCH_FAULTS:
            if name in self.faults and name not in self.faults_used:
                self.faults_used.add(name)
                return name
        if "overlap_live" in self.faults and "overlap_live" not in self.faults_used and \
                any(r.verdict == "kept" and r.library for r in self.functions):
            self.faults_used.add("overlap_live")
            return "overlap_live"
        return None

    # -- VERDICT ------------------------------------------------------------------------------

    def on_verdict(self, frame: linkproto.Frame, received: float) -> None:
        v = linkproto.parse_verdict(frame.payload)
        rec = self.by_slot.get(v["slot"])
        if rec is None:
            log(f"VERDICT for unknown slot {v['slot']}")
            return
        if v["event"] == "swap":
            rec.latency_ms = round((received - rec.received) * 1e3, 1)
            rec.t_swap = round(received - self.clock0, 4)
            log(f"{rec.label}: new code running in the guest {rec.latency_ms:.0f} ms after "
                "its profile")
            return
        if v["event"] in ("confirmed", "unconfirmed"):
            self.confirmations[rec.benchmark] = {
                "verdict": v["event"], "reason": v["reason"] or None, "entry": f"0x{v['addr']:08x}",
                "cycles_boot": v["cycles_before"], "cycles_final": v["cycles_after"],
                "speedup": round(v["cycles_before"] / v["cycles_after"], 3) if v["cycles_after"] else None}
            c = self.confirmations[rec.benchmark]
            log(f"{rec.label}: against the boot choice, timed afresh: {c['speedup']}x, "
                f"{v['event']}{' (the boot choice is back)' if v['event'] == 'unconfirmed' else ''}")
            return
        rec.verdict, rec.reason = v["event"], v["reason"] or None
        if v["event"] == "refused":
            log(f"{rec.label}: patch refused by the kernel ({v['reason']})")
        else:
            rec.cycles_before, rec.cycles_after = v["cycles_before"], v["cycles_after"]
            rec.speedup = round(v["cycles_before"] / v["cycles_after"], 3) if v["cycles_after"] else None
            how = f"{rec.speedup}x" if rec.speedup else "?"
            log(f"{rec.label}: {v['event']}{f' ({rec.reason})' if rec.reason else ''}: "
                f"{how} ({v['cycles_before']} -> {v['cycles_after']} cycles/call)")
        if v["event"] != "kept" and rec.library:
            self.executor.release(rec.library)

    # -- the report ---------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        guest = None
        if self.hello is not None:
            guest = {"vendor": self.guest.vendor, "family": self.guest.family,
                     "features": list(self.guest.features), "llvm_cpu": self.cpu.name,
                     "llvm_features": self.cpu.features, "xcr0": f"0x{self.hello['xcr0']:x}",
                     "build_id": f"0x{self.hello['build_id']:08x}",
                     "arena": f"0x{self.hello['arena_addr']:08x}", "arena_bytes": self.hello["arena_bytes"]}
        rows = []
        for rec in self.functions:
            row = asdict(rec)
            row.pop("received")
            row.pop("library")
            rows.append(row)
        counts = {k: sum(r.verdict == k for r in self.functions)
                  for k in ("kept", "reverted", "refused", "declined", "patched")}
        return {"kernel": {"build_id": f"0x{self.image.build_id:08x}", "elf": self.args.kernel_elf,
                           "bitcode": self.args.kernel_bc},
                "guest": guest, "functions": rows, "confirmations": self.confirmations, "summary": counts,
                "faults": sorted(self.faults),
                "garbage_skipped": self.garbage_in, "ended": self.ended,
                "seconds": round(time.time() - self.started, 3)}

    def write_report(self) -> None:
        from fluidbuild.atomic import write_text

        if self.args.report:
            write_text(self.args.report, json.dumps(self.report(), indent=2) + "\n")
        rows = self.functions
        if rows:
            log(f"{'function':<22} {'boot':<8} {'candidate':<22} {'verdict':<9} {'speedup':>7} "
                f"{'compile':>8} {'compiled':<11} {'latency':>8}")
            for r in rows:
                log(f"{r.label:<22} {r.boot_variant:<8} {r.strategy or '-':<22} {r.verdict:<9} "
                    f"{(f'{r.speedup:.2f}x' if r.speedup else '-'):>7} "
                    f"{(f'{r.compile_ms:.0f} ms' if r.compile_ms is not None else '-'):>8} "
                    f"{r.compiled or '-':<11} "
                    f"{(f'{r.latency_ms:.0f} ms' if r.latency_ms is not None else '-'):>8}")
        for name, c in self.confirmations.items():
            log(f"{function_label(name):<22} against the boot choice, timed afresh: {c['speedup']}x, "
                f"{c['verdict']}")
        if self.args.report:
            log(f"report: {self.args.report}")


# Set once the server is ending: a SIGTERM then no longer interrupts it, so its report is
# written. (Installing SIG_IGN instead would not do: signal.signal() first runs the handler of a
# SIGTERM already pending.)
_ending = False


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM ends the server (the finally blocks write the report), unless it is ending."""
    if not _ending:
        sys.exit(0)


def serve(args: argparse.Namespace) -> int:
    global _ending
    session = Session(args)
    session.warm_up()
    path = args.socket
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # The path appears only once the socket listens: QEMU (and serving()) take its
        # existence as readiness, and a connection refused between bind() and listen()
        # would make QEMU retry after the guest's HELLO had already timed out.
        pending = f"{path}.tmp-{os.getpid()}"
        server.bind(pending)
        server.listen(1)
        os.replace(pending, path)
        log(f"listening on {path}")
        server.settimeout(args.accept_timeout)
        try:
            conn, _ = server.accept()
        except TimeoutError:
            session.ended = "no connection"
            return 0
        with conn:
            session.ended = "connected"
            _converse(session, conn)
    except SystemExit:  # SIGTERM: the run is over
        session.ended = "terminated"
        raise
    finally:
        # Whatever ended the run, a SIGTERM coming now (the run task stopping the server) must
        # not cut the report short: it is what the run leaves behind. A plain store: no signal
        # handler runs before it takes effect; then SIG_IGN, as the interpreter's exit would
        # put the default action (ending the process) back in place of a Python handler.
        _ending = True
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.close()
        for leftover in (path, f"{path}.tmp-{os.getpid()}"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        session.write_report()
        session.queue.close()
        session.compiler.close()
    return 0


def _converse(session: Session, conn: socket.socket) -> None:
    reader = linkproto.FrameReader()
    while True:
        data = conn.recv(65536)
        if not data:
            session.ended = "connection closed"
            return
        now = time.monotonic()
        for frame in reader.feed(data):
            out = b""
            if frame.opcode == P.JIT_OP_HELLO:
                out = session.on_hello(frame)
            elif frame.opcode == P.JIT_OP_PROFILE:
                if "silent_after_hello" in session.faults:
                    continue
                out = session.on_profile(frame, now)
            elif frame.opcode == P.JIT_OP_VERDICT:
                session.on_verdict(frame, now)
            elif frame.opcode == P.JIT_OP_BYE:
                session.ended = "bye"
                log("kernel said BYE")
                return
            if out:
                try:
                    conn.sendall(out)
                except OSError as exc:  # the guest is gone (QEMU ended)
                    session.ended = f"connection lost: {exc.strerror}"
                    return
            if session.after_reply:  # the compiles the reply's frame made known
                session.after_reply()
                session.after_reply = None
            after_hello = frame.opcode == P.JIT_OP_HELLO and "die_after_hello" in session.faults
            after_patch = frame.opcode == P.JIT_OP_PROFILE and session.patches_sent > 0 and \
                "die_after_patch" in session.faults
            if after_hello or after_patch:
                log(f"fault: killed after {'WELCOME' if after_hello else 'the first PATCH'} (SIGKILL)")
                os.kill(os.getpid(), signal.SIGKILL)
        session.garbage_in = reader.garbage


# -- running it beside QEMU (doit run profile=jit) ----------------------------------------------

READY_TIMEOUT_S = 30.0  # loading the bitcode and starting the compiler takes about a second
EXIT_GRACE_S = 5.0  # a server whose kernel went away ends by itself (BYE or closed socket) this fast
STOP_TIMEOUT_S = 5.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def qemu_args(socket_path: str) -> list[str]:
    """QEMU options connecting the guest's COM2 to the link server's socket (COM1 must be
    given first, as ``-serial stdio``). ``reconnect``: QEMU boots even with no server there."""
    escaped = socket_path.replace(",", ",,")
    return ["-chardev", f"socket,id=jit,path={escaped},reconnect=1", "-serial", "chardev:jit"]


def _die_with_parent() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def serving(socket_path: str, kernel_bc: str, kernel_elf: str, kernel_bin: str,
            report: str | None = None, extra: tuple[str, ...] = ()) -> Any:
    """The link server running, listening on ``socket_path``, for the duration of the block;
    then given EXIT_GRACE_S to end by itself (the kernel's BYE, or QEMU's end closing the
    socket: it writes its report and exits), and stopped otherwise (SIGTERM, then SIGKILL; it
    also gets SIGTERM when this process dies). A server that does not come up is reported in
    one line: the kernel then runs its boot choice."""
    import subprocess

    argv = [sys.executable, "-m", "fluidjit.linkserver", "--socket", socket_path, "--kernel-bc", kernel_bc,
            "--kernel-elf", kernel_elf, "--kernel-bin", kernel_bin, *(["--report", report] if report else []),
            *extra]
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not os.path.exists(socket_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not os.path.exists(socket_path):
            why = f"exit status {proc.returncode}" if proc.poll() is not None else "not ready in time"
            log(f"the link server did not start ({why}); the kernel will run its boot choice")
        yield proc
    finally:
        try:
            proc.wait(EXIT_GRACE_S if sys.exc_info()[0] is None else 0)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_task(link: dict[str, Any], **boot: Any) -> None:
    """The ``run``/``debug`` task of a profile with ``jit: true``: the link server beside the
    boot (fluidbench.qemu.run_task)."""
    from fluidbench.qemu import run_task as boot_task

    with serving(link["socket"], link["kernel_bc"], link["kernel_elf"], link["kernel_bin"], link["report"],
                 tuple(link["args"])):
        boot_task(**boot)


def args_problem(extra: list[str]) -> str | None:
    """Why ``extra`` are not options the link server takes beside its paths, or None."""
    parser = _parser()
    bad = [a for a in extra if a.startswith("-") and a.split("=", 1)[0] in PATH_OPTIONS]
    if bad:
        return f"{bad[0]} is set by the run profile itself"
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            parser.parse_args(["--socket", "s", "--kernel-bc", "b", "--kernel-elf", "e", "--kernel-bin", "k",
                               *extra])
    except SystemExit:
        return f"not link server options: {' '.join(extra)} (python -m fluidjit.linkserver --help)"
    return None


PATH_OPTIONS = ("--socket", "--kernel-bc", "--kernel-elf", "--kernel-bin", "--report")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fluidjit.linkserver", description=__doc__.splitlines()[0])
    p.add_argument("--socket", required=True, help="Unix socket QEMU's COM2 chardev connects to")
    p.add_argument("--kernel-bc", required=True, help="the kernel's bitcode (build/kernel_bc.bc)")
    p.add_argument("--kernel-elf", required=True, help="the kernel ELF (build/kernel_elf.elf)")
    p.add_argument("--kernel-bin", required=True, help="the stamped kernel image (build/kernel.bin)")
    p.add_argument("--report", help="write the JSON report here")
    p.add_argument("--linker", metavar="LD_LLD", help="link with this ld.lld (the same bytes, about 50 ms "
                   "slower) instead of relocating here")
    p.add_argument("--cache-dir", help="keep object files here across runs (default: none, every "
                   "patch compiled afresh)")
    p.add_argument("--candidates", default=None, type=_candidates, metavar="LIST",
                   help=f"compile strategies to try per function, one per round, as "
                        f"<boot|guest>-<fold|o1|o2|o3|none>[+spec][+br] (default auto: boot-none, "
                        f"boot-fold+spec, guest-o1+spec, each +br where vector selects can become "
                        f"branches; the kernel asks {P.JIT_MAX_ROUNDS} times at most)")
    p.add_argument("--no-specialize", action="store_true", help="no value specialisation")
    p.add_argument("--frame-pointer", action="store_true",
                   help="keep the kernel's frame pointers in patch code (default: none, one more "
                        "register on i386)")
    p.add_argument("--no-precompile", action="store_true",
                   help="compile each candidate when its PROFILE arrives (not after HELLO, nor from "
                        "the round before's profile)")
    p.add_argument("--codegen", type=int, default=CODEGEN_LEVEL, choices=(0, 1, 2, 3),
                   help=f"code generation level (default {CODEGEN_LEVEL}, the kernel's own)")
    p.add_argument("--llvm-option", action="append", default=list(LLVM_OPTIONS), metavar="OPT",
                   help=f"an LLVM option for the compiler process (repeatable; default: "
                        f"{' '.join(LLVM_OPTIONS)})")
    p.add_argument("--accept-timeout", type=float, default=600.0, metavar="S",
                   help="give up when no kernel connects within S seconds")
    faults = p.add_argument_group("faults (tests): a PATCH is wrong, or the host fails; the patch "
                                  "faults take one PATCH each, in this order")
    faults.add_argument("--corrupt-patch", action="store_true", help="flip a code byte after the digest")
    faults.add_argument("--wrong-build-id", action="store_true", help="stamp another build id")
    faults.add_argument("--outside-arena", action="store_true", help="link the code past the arena's end")
    faults.add_argument("--overlap-live", action="store_true",
                        help="link the first patch after a kept one over the kept one (and leave "
                             "the first patch alone)")
    faults.add_argument("--die-after-hello", action="store_true", help="SIGKILL itself after WELCOME")
    faults.add_argument("--die-after-patch", action="store_true", help="SIGKILL itself after the first PATCH")
    faults.add_argument("--silent-after-hello", action="store_true", help="answer no PROFILE")
    faults.add_argument("--garbage", action="store_true", help="send noise before every frame")
    return p


def _candidates(text: str) -> list[Any] | None:
    from fluidjit.strategies import parse_list

    try:
        return parse_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = _parser()
    args = p.parse_args(argv)
    if args.report:
        from fluidjit.config import report_path_problem

        why = report_path_problem(args.report, parent_must_exist=False)
        if why:
            p.error(why)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return serve(args)
    except JitError as exc:
        print(f"{PREFIX}: error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
