"""The re-JIT optimizer: watches the profile, compiles hot functions, swaps and judges them.

Two threads besides the workload's: a monitor that reads the profiler table
every few milliseconds and applies the policy, and a compiler worker that
has tier-2 code built and writes its address into the function's slot. The
workload never waits for either: it keeps calling through the slots, and a
call that starts after the slot is written runs the new code.

Per function: tier0 -> (hot) compiling -> (slot written) measuring ->
tier2, or reverted when the new version measured slower on the live
workload, or failed when it did not compile (the slot is left alone).

Costs are measured between successive polls, and only over quiet
intervals, in which no compilation ran: the compiler process shares the
machine's caches with the workload and can slow it down by half.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fluidbuild.jit import policy, specialize
from fluidbuild.jit.compiler import CompileError, Tier2Code
from fluidbuild.jit.instrument import Instrumented
from fluidbuild.jit.profiler import Counters, Profiler


class State(enum.Enum):
    TIER0 = "tier0"
    COMPILING = "compiling"
    MEASURING = "measuring"
    TIER2 = "tier2"
    REVERTED = "reverted"
    FAILED = "failed"


@dataclass(frozen=True)
class Event:
    ms: float  # since the profiler started
    kind: str  # hot, swapped, kept, reverted, failed, despecialise
    function: str
    detail: str


@dataclass
class Tracked:
    """One instrumented function and everything the optimizer learnt about it."""

    fn: Instrumented
    label: str
    slot: int  # address of its slot
    tier0_address: int
    arg_names: tuple[str, ...] = ()
    state: State = State.TIER0
    tier0: policy.Window = policy.NO_CALLS  # quiet tier-0 calls up to the hot decision
    tier2: policy.Window = policy.NO_CALLS  # quiet calls of the current tier-2 version
    last: Counters | None = None  # counters at the previous poll
    hot_tsc: int = 0
    hot_share: float = 0.0
    phase: str = ""  # the workload phase in which it went hot
    spec: specialize.Specialization | None = None
    code: Tier2Code | None = None
    swap: Counters | None = None  # counters when the slot was written
    swap_tsc: int = 0
    latency_ms: float | None = None  # hot decision to the first call of the new code
    error: str | None = None
    events: list[Event] = field(default_factory=list)


class Optimizer:
    def __init__(self, tracked: list[Tracked], profiler: Profiler,
                 compile_fn: Callable[[Instrumented, specialize.Specialization | None], Tier2Code],
                 thresholds: policy.Thresholds, log: Callable[[Event], None],
                 specialize_args: bool = True, poll_ms: float = 2.0) -> None:
        self.tracked = tracked
        self._profiler = profiler
        self._compile = compile_fn
        self._t = thresholds
        self._log = log
        self._specialize = specialize_args
        self._interval = poll_ms / 1e3
        self._min_window_cycles = policy.MIN_VERDICT_MS / 1e3 * profiler.tsc_hz
        self._lock = threading.Lock()
        # Compilations wait here, those of the current phase first (a slow
        # one from an earlier benchmark must not hold up the running one).
        self._jobs: queue.PriorityQueue[tuple[float, int, Tracked | None]] = queue.PriorityQueue()
        self._serial = itertools.count()
        self._phase_index = 0
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._phase_base = [0] * len(tracked)
        self._phase_total = 0
        self._phase = ""
        self._compile_epoch = 0  # bumped when a compilation starts or ends
        self._seen_epoch = 0  # the epoch at the previous poll
        self._compiling = False

    # -- threads ------------------------------------------------------------
    def start(self, monitor: bool = True) -> None:
        """Start the compiler worker and, unless the caller polls itself, the monitor."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="fluid-jit-compiler", daemon=True)
            self._worker.start()
        if monitor and self._monitor is None:
            self._stop.clear()
            self._monitor = threading.Thread(target=self._watch, name="fluid-jit-monitor", daemon=True)
            self._monitor.start()

    def stop(self) -> None:
        """Stop watching, let queued compilations finish, and take a last look."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join()
            self._monitor = None
        if self._worker is not None:
            self.wait_idle()
        self.poll()

    def close(self) -> None:
        """Stop both threads."""
        self.stop()
        if self._worker is not None:
            self._submit(None)
            self._worker.join()
            self._worker = None

    def wait_idle(self) -> None:
        """Block until every queued compilation has been swapped in or has failed."""
        self._jobs.join()

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            self.poll()

    def _work(self) -> None:
        while (item := self._jobs.get()[2]) is not None:
            try:
                self._compile_and_swap(item)
            finally:
                self._jobs.task_done()
        self._jobs.task_done()

    def _submit(self, t: Tracked | None) -> None:
        rank = -self._phase_index if t is not None else math.inf  # the stop request comes last
        self._jobs.put((rank, next(self._serial), t))

    # -- decisions -----------------------------------------------------------
    def begin_phase(self, name: str) -> None:
        """Measure shares from now on (a new benchmark is a new workload)."""
        snap = self._profiler.snapshot(len(self.tracked))
        with self._lock:
            self._phase, self._phase_index = name, self._phase_index + 1
            self._phase_base = [c.self_cycles for c in snap]
            self._phase_total = sum(self._phase_base)

    def poll(self) -> None:
        """Read the profile once and act on it (the monitor calls this every poll_ms)."""
        snap = self._profiler.snapshot(len(self.tracked))
        now = self._profiler.now()
        with self._lock:
            quiet = not self._compiling and self._compile_epoch == self._seen_epoch
            self._seen_epoch = self._compile_epoch
            total = sum(c.self_cycles for c in snap) - self._phase_total
            for t, c in zip(self.tracked, snap, strict=True):
                if t.state is State.TIER0:
                    t.tier0 = self._measure(t, c, quiet, t.tier0)
                    self._consider(t, c, total, now)
                elif t.state in (State.MEASURING, State.TIER2):
                    t.tier2 = self._measure(t, c, quiet, t.tier2)
                    if t.spec:
                        self._check_guard(t, c, now)
                    if t.state is State.MEASURING:
                        self._judge(t, c)

    @staticmethod
    def _measure(t: Tracked, c: Counters, quiet: bool, window: policy.Window) -> policy.Window:
        """``window`` plus the calls completed since the previous poll, if that was quiet."""
        last, t.last = t.last, c
        if last is None or not quiet or c.calls <= last.calls:
            return window
        return policy.Window(window.calls + c.calls - last.calls, window.cycles + c.cycles - last.cycles)

    def _consider(self, t: Tracked, c: Counters, total: int, now: int) -> None:
        share = policy.share(c.self_cycles - self._phase_base[t.fn.id], total)
        if not policy.is_hot(c.calls, share, self._t):
            return
        if not t.tier0.calls:  # never measured in a quiet interval: all calls so far
            t.tier0 = policy.Window(c.calls, c.cycles)
        t.spec = specialize.choose(t.fn, list(c.args), self._t.hot_calls) if self._specialize else None
        t.state, t.hot_tsc, t.hot_share, t.phase = State.COMPILING, now, share, self._phase
        spec = f", specialise {t.spec.describe(t.arg_names)}" if t.spec else ""
        self._event(t, "hot", f"calls={c.calls} share={share:.1%}{spec} -> tier 2", now)
        self._submit(t)

    def _check_guard(self, t: Tracked, c: Counters, now: int) -> None:
        """A specialised version whose guard keeps missing is replaced by a general one."""
        misses = c.guard_misses - t.swap.guard_misses
        if misses < self._t.hot_calls:
            return
        t.spec, t.state, t.hot_tsc, t.latency_ms = None, State.COMPILING, now, None
        self._event(t, "despecialise", f"guard missed {misses} times -> general tier 2", now)
        self._submit(t)

    def _compile_and_swap(self, t: Tracked) -> None:
        with self._lock:
            self._compiling, self._compile_epoch = True, self._compile_epoch + 1
        try:
            code = self._compile(t.fn, t.spec)
        except Exception as exc:  # noqa: BLE001 - whatever breaks, the running code must stay
            message = str(exc) if isinstance(exc, CompileError) else f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._compiling, self._compile_epoch = False, self._compile_epoch + 1
                t.state, t.error = State.FAILED, message
                self._event(t, "failed", f"tier-2 compile failed, the running code stays: {message}")
            return
        with self._lock:
            self._compiling, self._compile_epoch = False, self._compile_epoch + 1
            t.swap_tsc = self._profiler.now()
            self._write_slot(t, code.address)
            self._profiler.rearm_first_call(t.fn.id)
            t.code, t.state = code, State.MEASURING
            t.swap = self._profiler.snapshot(t.fn.id + 1)[t.fn.id]
            # Start measuring after the call that may still run the old code.
            t.tier2, t.last = policy.NO_CALLS, None
            self._event(t, "swapped", f"compile {code.compile_ms:.1f} ms ({code.library})")

    def _judge(self, t: Tracked, c: Counters) -> None:
        # (c may predate the swap: poll() reads the table before taking the lock.)
        if t.latency_ms is None and c.first_tsc >= t.swap_tsc:
            t.latency_ms = self._profiler.ms(c.first_tsc) - self._profiler.ms(t.hot_tsc)
        if t.last is not None and t.last.calls <= t.swap.calls:
            t.last = None  # still the swap-time call: measure from the next poll
        window = t.tier2
        if window.calls < self._t.verify_calls or window.cycles < self._min_window_cycles:
            return
        speed = f"{t.tier0.per_call:,.0f} -> {window.per_call:,.0f} cycles/call"
        if policy.keep_tier2(t.tier0, window, self._t):
            t.state = State.TIER2
            self._event(t, "kept", f"{speed} ({t.tier0.per_call / window.per_call:.2f}x)")
        else:
            self._write_slot(t, t.tier0_address)
            t.state = State.REVERTED
            self._event(t, "reverted", f"{speed}: slower than tier 0, back to tier 0")

    def finish(self) -> list[Tracked]:
        """Stop the threads (after a last poll) and return what was learnt."""
        self.close()
        return self.tracked

    # -- actions ------------------------------------------------------------
    def _write_slot(self, t: Tracked, address: int) -> None:
        # An aligned 8-byte store: callers load either the old or the new address.
        ctypes.c_uint64.from_address(t.slot).value = address

    def _event(self, t: Tracked, kind: str, detail: str, tsc: int | None = None) -> None:
        tsc = self._profiler.now() if tsc is None else tsc
        event = Event(self._profiler.ms(tsc), kind, t.label, detail)
        t.events.append(event)
        self._log(event)
