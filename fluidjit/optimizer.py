"""The re-JIT optimizer: watches the profile, compiles hot functions, swaps and judges them.

Two threads besides the workload's: a monitor that reads the profiler table
every few milliseconds and applies the policy, and a compiler worker that
has tier-2 code built and writes its address into the function's slot. The
workload never waits for either: it keeps calling through the slots, and a
call that starts after the slot is written runs the new code.

Per function: tier0 -> (hot) compiling -> (slot written) measuring ->
tier2, or reverted when the new version measured slower on the live
workload, or failed when it did not compile (the slot is left alone).

Specialisation is a second, measured step: once a general tier-2 version
is kept and measured as long as a clone will be (policy.CLONE_VERDICT_MS),
an argument that never changed (specialize.py) gets a clone for its value,
compiled while the general version runs (specialising), swapped in and
measured against that general version (measuring): kept if faster, else
the general version comes back. So does it when the clone's guard keeps
missing. Either way the general version needs no recompiling.

A descriptor function admitted to tuned code (``tuned``: its counterpart in
the module's tuned half, variants.py) is compiled from that counterpart.
Its callees' work then moves into its tier-2 code, which contains their
tuned versions: a hot callee (``fft_transform``, whose caller ``fft_run``
does little itself) sends that caller to tier 2 instead of itself and
becomes covered; covered functions go back to tier 0, and may go to tier
2 on their own, if the caller's tuned code fails or is reverted.

Costs are measured between successive polls, and only over quiet
intervals, in which no compilation ran: the compiler process shares the
machine's caches with the workload and can slow it down by half.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fluidjit import policy, specialize
from fluidjit.compiler import CompileError, Tier2Code
from fluidjit.instrument import Instrumented
from fluidjit.profiler import Counters, Profiler

# Ranks of the compile queue, first served first; the stop request comes last.
TIER_UP, CLONE, STOP = 0, 1, 2


class State(enum.Enum):
    TIER0 = "tier0"
    COMPILING = "compiling"
    MEASURING = "measuring"
    TIER2 = "tier2"
    REVERTED = "reverted"
    FAILED = "failed"
    SPECIALISING = "specialising"  # a kept general tier-2 version runs while its clone compiles
    COVERED = "covered"  # its work runs in the tuned tier-2 code of a caller (``unit``)


@dataclass(frozen=True)
class Event:
    ms: float  # since the profiler started
    kind: str  # hot, swapped, kept, reverted, failed, specialise, unspecialise, despecialise
    function: str
    detail: str


@dataclass(eq=False)
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
    general: policy.Window = policy.NO_CALLS  # quiet calls of the kept general version
    last: Counters | None = None  # counters at the previous poll
    hot_tsc: int = 0
    hot_share: float = 0.0
    phase: str = ""  # the workload phase in which it went hot
    spec: specialize.Specialization | None = None  # the specialisation of the current code
    tried: specialize.Specialization | None = None  # the one compiled, kept or not
    spec_result: str | None = None  # what became of it
    code: Tier2Code | None = None  # the current tier-2 version
    general_code: Tier2Code | None = None  # the kept general version, once specialising
    swap: Counters | None = None  # counters when the slot was written
    swap_tsc: int = 0
    hot: Counters | None = None  # counters at the hot decision
    running_tsc: int = 0  # entry of the tier-0 call still running at the swap, if none had ended
    latency_ms: float | None = None  # hot decision to the first call of the new code
    error: str | None = None
    events: list[Event] = field(default_factory=list)
    tuned: str | None = None  # token of its tuned counterpart, once admitted
    repeated: bool = False  # the workload calls it over and over (bench.h's run)
    units: tuple[Tracked, ...] = ()  # descriptor functions whose source file it belongs to
    unit: Tracked | None = None  # the one whose tuned code took over its work (COVERED)


class Optimizer:
    def __init__(self, tracked: list[Tracked], profiler: Profiler,
                 compile_fn: Callable[[Instrumented, specialize.Specialization | None, str | None],
                                      Tier2Code],
                 thresholds: policy.Thresholds, log: Callable[[Event], None],
                 specialize_args: bool = True, poll_ms: float = 2.0) -> None:
        self.tracked = tracked
        self._profiler = profiler
        self._compile = compile_fn
        self._t = thresholds
        self._log = log
        self._specialize = specialize_args
        self._interval = poll_ms / 1e3
        self._lock = threading.Lock()
        # Compilations wait here: tier-ups before clones (a clone only refines
        # code that already runs at tier 2), those of the current phase first (a
        # slow one from an earlier benchmark must not hold up the running one),
        # the largest share of the cycles first.
        self._jobs: queue.PriorityQueue[tuple[tuple[int, int, float], int, Tracked | None]] = \
            queue.PriorityQueue()
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
        self.notes: list[Event] = []  # events about benchmarks (note())

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
        if t is None:
            rank = (STOP, 0, 0.0)
        else:
            rank = (CLONE if t.state is State.SPECIALISING else TIER_UP, -self._phase_index, -t.hot_share)
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
                    self._consider(t, snap, total, now)
                elif t.state in (State.MEASURING, State.TIER2, State.SPECIALISING):
                    t.tier2 = self._measure(t, c, quiet, t.tier2)
                    if t.spec:
                        self._check_guard(t, c)
                    if t.state is State.MEASURING:
                        self._judge(t, c)
                    elif t.state is State.TIER2 and self._specialize and t.tried is None \
                            and t.tier2.cycles >= self._profiler.ms_to_cycles(policy.CLONE_VERDICT_MS):
                        self._specialise(t, c, now)

    @staticmethod
    def _measure(t: Tracked, c: Counters, quiet: bool, window: policy.Window) -> policy.Window:
        """``window`` plus the calls completed since the previous poll, if that was quiet."""
        last, t.last = t.last, c
        if last is None or not quiet or c.calls <= last.calls:
            return window
        return policy.Window(window.calls + c.calls - last.calls, window.cycles + c.cycles - last.cycles)

    def admit(self, t: Tracked, tuned: str, repeated: bool) -> None:
        """Let ``t`` go to tier 2 as its tuned counterpart ``tuned``; ``repeated``: the workload
        calls it over and over, so its first call may still be running when a callee goes hot."""
        with self._lock:
            t.tuned, t.repeated = tuned, repeated

    def _consider(self, t: Tracked, snap: list[Counters], total: int, now: int) -> None:
        c = snap[t.fn.id]
        share = policy.share(c.self_cycles - self._phase_base[t.fn.id], total)
        if not policy.is_hot(c.calls, share, self._t):
            return
        unit = self._unit(t, snap)
        hot = f"calls={c.calls} share={share:.1%}"
        if unit is None or unit is t:
            self._promote(t, c, share, hot, now)
            return
        t.state, t.unit = State.COVERED, unit
        self._event(t, "hot", f"{hot} -> tier 2 in the tuned code of {unit.label}", now)
        if unit.state is State.TIER0:
            self._promote(unit, snap[unit.fn.id], share, f"via {t.label}", now)

    def _unit(self, t: Tracked, snap: list[Counters]) -> Tracked | None:
        """The function whose tuned code should take over hot ``t``'s work: ``t`` itself, or
        the caller being compiled or called over and over (not a one-shot setup still
        running: only its current call would have gained), or None for generic tier 2."""
        if t.tuned:
            return t
        callers = [u for u in t.units if u.tuned and (
            u.state is State.COMPILING or (u.state is State.TIER0 and (u.repeated or snap[u.fn.id].calls)))]
        return max(callers, key=lambda u: (u.state is State.COMPILING, snap[u.fn.id].calls), default=None)

    def _promote(self, t: Tracked, c: Counters, share: float, why: str, now: int) -> None:
        if not t.tier0.calls:  # never measured in a quiet interval: all calls so far
            t.tier0 = policy.Window(c.calls, c.cycles)
        t.hot, t.state, t.hot_tsc, t.hot_share, t.phase = c, State.COMPILING, now, share, self._phase
        code = "tuned" if t.tuned else "generic"
        self._event(t, "hot", f"{why} -> tier 2 ({code} code)", now)
        if t.tuned:
            for o in self.tracked:
                if t in o.units and o.state is State.TIER0:
                    o.state, o.unit = State.COVERED, t
        self._submit(t)

    def _uncover(self, unit: Tracked) -> None:
        """``unit`` runs no tuned code: the functions it covered are tier 0 again."""
        for o in self.tracked:
            if o.unit is unit:
                o.state, o.unit = State.TIER0, None

    def _specialise(self, t: Tracked, c: Counters, now: int) -> None:
        """Compile a clone of kept general ``t`` for the argument values it always gets."""
        spec = specialize.choose(t.fn, list(c.args), self._t.hot_calls)
        if spec is None:
            return
        t.tried, t.state = spec, State.SPECIALISING
        self._event(t, "specialise", f"{spec.describe(t.arg_names)} never changed -> clone", now)
        self._submit(t)

    def _general_again(self, t: Tracked, result: str, kind: str, detail: str) -> None:
        """Put the kept general version back in place of the clone."""
        self._write_slot(t, t.general_code.address)
        t.code, t.spec, t.tier2, t.state = t.general_code, None, t.general, State.TIER2
        t.spec_result = result
        self._event(t, kind, detail)

    def _check_guard(self, t: Tracked, c: Counters) -> None:
        """A clone whose guard keeps missing gives way to the general version."""
        misses = c.guard_misses - t.swap.guard_misses
        if misses >= self._t.hot_calls:
            self._general_again(t, "guard missed", "despecialise",
                                f"guard missed {misses} times -> the general version")

    def _compile_and_swap(self, t: Tracked) -> None:
        with self._lock:
            self._compiling, self._compile_epoch = True, self._compile_epoch + 1
            spec = t.tried if t.state is State.SPECIALISING else None
        try:
            code = self._compile(t.fn, spec, t.tuned)
        except Exception as exc:  # noqa: BLE001 - whatever breaks, the running code must stay
            message = str(exc) if isinstance(exc, CompileError) else f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._compiling, self._compile_epoch = False, self._compile_epoch + 1
                t.error = message
                if spec is None:
                    t.state = State.FAILED
                    self._uncover(t)
                else:
                    t.state, t.spec_result = State.TIER2, "failed"
                self._event(t, "failed", f"tier-2 compile failed, the running code stays: {message}")
            return
        with self._lock:
            self._compiling, self._compile_epoch = False, self._compile_epoch + 1
            t.swap_tsc = self._profiler.now()
            self._write_slot(t, code.address)
            before = self._profiler.snapshot(t.fn.id + 1)[t.fn.id]
            if not t.tier0.calls:  # it went hot inside its first call
                if before.calls:  # tier-0 calls that ended while it compiled
                    t.tier0 = policy.Window(before.calls - t.hot.calls, before.cycles - t.hot.cycles)
                else:
                    t.running_tsc = before.first_tsc
            self._profiler.rearm_first_call(t.fn.id)
            if spec is not None:
                t.general_code, t.general = t.code, t.tier2
            t.code, t.spec, t.state = code, spec, State.MEASURING
            t.swap = self._profiler.snapshot(t.fn.id + 1)[t.fn.id]
            # Start measuring after the call that may still run the old code.
            t.tier2, t.last = policy.NO_CALLS, None
            how = "from the cache" if code.cached else "compile"
            what = f"{code.variant} code" + (f", {spec.describe(t.arg_names)}" if spec else "")
            self._event(t, "swapped", f"{what}, {how} {code.compile_ms:.1f} ms ({code.library})")

    def _judge(self, t: Tracked, c: Counters) -> None:
        # (c may predate the swap: poll() reads the table before taking the lock.)
        if t.latency_ms is None and c.first_tsc >= t.swap_tsc:
            t.latency_ms = self._profiler.ms(c.first_tsc) - self._profiler.ms(t.hot_tsc)
        if t.last is not None and t.last.calls <= t.swap.calls:
            t.last = None  # still the swap-time call: measure from the next poll
        elif t.last is not None and not t.tier0.calls and t.running_tsc and c.first_tsc > t.running_tsc:
            # It went hot inside its first call, which ran tier 0 to its end: from its entry
            # to the next entry, the first into the new code, is its tier-0 measurement.
            t.tier0 = policy.Window(1, c.first_tsc - t.running_tsc)
        window = t.tier2
        verdict_ms = policy.CLONE_VERDICT_MS if t.spec else policy.MIN_VERDICT_MS
        if window.calls < self._t.verify_calls or window.cycles < self._profiler.ms_to_cycles(verdict_ms):
            return
        base, against = (t.general, "the general version") if t.spec else (t.tier0, "tier 0")
        if base.per_call is None:
            t.state = State.TIER2
            self._event(t, "kept", f"{window.per_call:,.0f} cycles/call (no call of {against} to compare)")
            return
        speed = f"{base.per_call:,.0f} -> {window.per_call:,.0f} cycles/call"
        keep = policy.keep_clone(base, window) if t.spec else policy.keep_tier2(base, window, self._t)
        if keep:
            t.state = State.TIER2
            if t.spec:
                t.spec_result = f"kept, {base.per_call / window.per_call:.2f}x"
            self._event(t, "kept", f"{speed} ({base.per_call / window.per_call:.2f}x {against})")
        elif t.spec:
            self._general_again(t, f"dropped, {base.per_call / window.per_call:.2f}x", "unspecialise",
                                f"{speed}: slower than {against}, back to it")
        else:
            self._write_slot(t, t.tier0_address)
            t.state = State.REVERTED
            self._uncover(t)
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

    def note(self, subject: str, kind: str, detail: str) -> None:
        """Log an event about something other than one function (a benchmark)."""
        event = Event(self._profiler.ms(self._profiler.now()), kind, subject, detail)
        with self._lock:
            self.notes.append(event)
        self._log(event)
