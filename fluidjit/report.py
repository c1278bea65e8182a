"""What a JIT run tells: a live line per optimizer event, then a table and a JSON document."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from fluidjit.profiler import Clock, Counters
from fluidjit.tracked import Event, State, Tracked


def live_log(stream: IO[str] | None = None) -> Callable[[Event], None]:
    """A printer of optimizer events, safe to call from the JIT's threads."""
    lock = threading.Lock()
    closed = False

    def log(event: Event) -> None:
        nonlocal closed
        with lock:
            if closed:
                return
            try:
                print(f"[{event.ms:9.1f} ms] {event.kind:<9} {event.function:<28} {event.detail}",
                      file=stream or sys.stdout, flush=True)
            except OSError:  # the reader went away (| head): the run goes on silently
                closed = True

    return log


@dataclass
class FunctionRow:
    name: str  # symbol
    label: str  # "matrix_mul.run" for descriptor functions, else the symbol
    calls: int
    state: str
    tier0_cycles_per_call: float | None
    tier2_cycles_per_call: float | None
    speedup: float | None
    hot_at_ms: float | None
    compile_ms: float | None
    latency_ms: float | None  # hot decision to the first call of the tier-2 code
    specialization: str | None  # the clone tried and what became of it: "size=512 (kept, 1.04x)"
    guard_misses: int
    fused_fma: bool
    error: str | None
    code: str | None  # what its tier-2 code was compiled from: "tuned" or "generic"
    cached: bool  # its tier-2 object file came from the cache
    covered_by: str | None  # the function whose tuned tier-2 code took over its work

    @classmethod
    def of(cls, t: Tracked, c: Counters, clock: Clock) -> FunctionRow:
        """The row of ``t``, whose counters are ``c`` at the end of the run."""
        t0, t2 = t.tier0.per_call, t.tier2.per_call
        if t0 is None and t.state is State.TIER0 and c.calls:
            t0 = c.cycles / c.calls  # never timed in a quiet interval: every call was tier 0
        hot = t.state is not State.TIER0
        return cls(
            name=t.fn.name, label=t.label, calls=c.calls, state=t.state.value,
            tier0_cycles_per_call=t0, tier2_cycles_per_call=t2,
            speedup=t0 / t2 if t0 and t2 else None,
            hot_at_ms=clock.ms(t.hot_tsc) if hot else None,
            compile_ms=t.code.compile_ms if t.code else None,
            latency_ms=t.latency_ms,
            specialization=f"{t.tried.describe(t.arg_names)} ({t.spec_result or 'measuring'})"
            if t.tried else None,
            guard_misses=c.guard_misses, fused_fma=bool(t.code and t.code.fused_fma), error=t.error,
            code=t.code.variant if t.code else None, cached=bool(t.code and t.code.cached),
            covered_by=t.unit.label if t.unit else None)


@dataclass
class BenchRow:
    name: str
    unit: str
    size: int
    iterations: int
    first_ms: float  # first run() call: tier 0
    steady_ms: float  # median of the last third of the run() calls
    best_ms: float  # the fastest of them
    tier0_ms: float | None  # median run() at tier 0 (the verification rerun)
    work_per_s: float  # units of `unit` per second at steady state
    checksum: str
    tier0_checksum: str | None
    match: str  # exact, fma (see JitReport), MISMATCH, or unchecked
    code: str  # "tuned" (admitted to tuned tier-2 code) or "generic: <why>"

    @staticmethod
    def tail(run_ns: list[int]) -> list[int]:
        """The last third of the run() calls: the steady state."""
        return run_ns[len(run_ns) * 2 // 3:] or run_ns


@dataclass
class GenerationRow:
    """One generation of the inference engine under the JIT (inference.py)."""

    index: int  # 0-based; the last one is the generation that counts, the others warm-ups
    forwards: int  # forward passes
    n: int  # tokens generated
    ns: int  # wall clock of the whole generation (the TSC, in its loop)
    cpu_ns: int  # the calling thread's CPU time for it
    tok_per_s: float  # forward passes per second, wall clock
    tok_per_cpu_s: float  # forward passes per second of CPU time
    tier2_forwards: int  # forward passes that ran the forward pass's tier-2 code
    tier0_tok_per_s: float | None  # the rate of the others (TSC between forward passes)
    tier2_tok_per_s: float | None  # the rate of those on tier-2 code
    median_step_ns: float  # the median forward pass with its sampling
    same_tokens: bool  # the same tokens as the generation that counts


@dataclass
class JitReport:
    """The run's result; ``match`` "fma" means the checksums differ and the tier-2 code fuses
    a*b+c (one rounding instead of two), as clang does for the target CPU: rerun with
    fp_contract off to compare the tiers bit for bit."""

    module: str
    cpu: dict[str, str]
    config: dict[str, Any]
    functions: list[FunctionRow] = field(default_factory=list)
    benchmarks: list[BenchRow] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    generations: list[GenerationRow] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        out = [f"tier-2 compilation of {f.label} failed (it kept running at tier 0): {f.error}"
               for f in self.functions if f.error]
        out += [f"benchmark {b.name}: checksum {b.checksum} differs from tier 0's {b.tier0_checksum}"
                for b in self.benchmarks if b.match == "MISMATCH"]
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def table(self) -> str:
        lines = [f"{'function':<30} {'calls':>7} {'state':<9} {'code':<7} {'t0 cyc/call':>13} "
                 f"{'t2 cyc/call':>13} {'speedup':>7} {'compile':>8} {'latency':>8}  specialization"]
        for f in self.functions:
            compile_ms = _ms(f.compile_ms) + ("c" if f.cached else "")
            lines.append(
                f"{f.label:<30} {f.calls:>7} {f.state:<9} {f.code or '-':<7} "
                f"{_num(f.tier0_cycles_per_call):>13} {_num(f.tier2_cycles_per_call):>13} "
                f"{_ratio(f.speedup):>7} {compile_ms:>8} {_ms(f.latency_ms):>8}  {f.specialization or '-'}"
                + (f" (guard misses {f.guard_misses})" if f.guard_misses else "")
                + (f" (in {f.covered_by})" if f.covered_by else ""))
        if self.benchmarks:
            lines += ["", f"{'benchmark':<16} {'size':>8} {'iter':>5} {'first ms':>9} {'steady ms':>9} "
                          f"{'tier0 ms':>9} {'speedup':>7}  checksum"]
            for b in self.benchmarks:
                speed = b.tier0_ms / b.steady_ms if b.tier0_ms and b.steady_ms else None
                lines.append(f"{b.name:<16} {b.size:>8} {b.iterations:>5} {b.first_ms:>9.3f} "
                             f"{b.steady_ms:>9.3f} {_ms(b.tier0_ms, 3):>9} {_ratio(speed):>7}  "
                             f"{b.checksum} {b.match}  {b.code}")
        if self.generations:
            lines += ["", f"{'generation':<12} {'forwards':>8} {'ms':>9} {'tok/s':>10} {'tok/CPU s':>10} "
                          f"{'tier 2':>7} {'t0 tok/s':>10} {'t2 tok/s':>10}  tokens"]
            for g in self.generations:
                name = "counted" if g.index == len(self.generations) - 1 else f"warm-up {g.index + 1}"
                lines.append(f"{name:<12} {g.forwards:>8} {g.ns / 1e6:>9.2f} {g.tok_per_s:>10.1f} "
                             f"{g.tok_per_cpu_s:>10.1f} {g.tier2_forwards:>7} {_rate(g.tier0_tok_per_s):>10} "
                             f"{_rate(g.tier2_tok_per_s):>10}  {'same' if g.same_tokens else 'DIFFER'}")
        return "\n".join(lines)


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _ms(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"
