"""The optimizer's decisions: when a function goes to tier 2, and whether its new code stays.

TierStateMachine moves each Tracked function through its states
(tracked.py) on what the profiler measured. ``poll`` reads the profile once
and returns the compilations it decided, ranked; ``compile_and_swap`` runs
one: has the tier-2 code made and writes its address into the function's
slot, so a call that starts after that runs the new code. The machine runs
no thread: the optimizer (optimizer.py) calls ``poll`` every few
milliseconds and ``compile_and_swap`` on its worker thread, and tests call
both by hand. The numbers it decides on are judged by policy.py.

Specialisation is a second, measured step: once a general tier-2 version
is kept and measured as long as a clone will be (policy.CLONE_VERDICT_MS),
an argument that never changed (specialize.py) gets a clone for its value,
and a pinned pointer argument (``pin``) one for the memory it points to,
compiled while the general version runs (specialising), swapped in and
measured against that general version (measuring), the two taking turns in
the slot so that both see the same load: kept if faster, else the general
version comes back. So does it when the clone's guard keeps missing. Either
way the general version needs no recompiling.

A descriptor function admitted to tuned code (``tuned``: its counterpart in
the module's tuned half, variants.py) is compiled from that counterpart.
Its callees' work then moves into its tier-2 code, which contains their
tuned versions: a hot callee (``fft_transform``, whose caller ``fft_run``
does little itself) sends that caller to tier 2 instead of itself and
becomes covered; covered functions go back to tier 0, and may go to tier
2 on their own, if the caller's tuned code fails or is reverted.

Costs are measured between successive polls, and only over quiet
stretches, in which no compilation ran (the compiler process shares the
machine's caches with the workload and can slow it down by half) and the
workload's thread was not kept off the CPU for long; for the time it was,
the cycles are scaled down (``_delta``, optimizer.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fluidjit import policy, specialize
from fluidjit.errors import CompileError
from fluidjit.executor import Executor
from fluidjit.instrument import Instrumented
from fluidjit.profiler import Clock, Counters
from fluidjit.tracked import Event, State, Tier2Code, Tracked

# Ranks of compilations, first served first: tier-ups before clones (a clone
# only refines code that already runs at tier 2).
TIER_UP, CLONE = 0, 1
# (rank, -phase index, -share): those of the current phase first (a slow one from an
# earlier benchmark must not hold up the running one), the largest share of the cycles first.
Priority = tuple[int, int, float]
# Makes a tier-2 version of a function (from its tuned counterpart, if named) and links it.
MakeTier2 = Callable[[Instrumented, specialize.Specialization | None, str | None], Tier2Code]


class TierStateMachine:
    """The decisions over ``tracked``, whose counters and slots are in ``executor``."""

    def __init__(self, tracked: list[Tracked], executor: Executor, clock: Clock, make_tier2: MakeTier2,
                 thresholds: policy.Thresholds, log: Callable[[Event], None],
                 specialize_args: bool = True) -> None:
        self.tracked = tracked
        self._executor = executor
        self._clock = clock
        self._make_tier2 = make_tier2
        self._t = thresholds
        self._log = log
        self._specialize = specialize_args
        self._lock = threading.Lock()
        self._phase_index = 0
        self._phase_base = [0] * len(tracked)
        self._phase_total = 0
        self._phase = ""
        self._compile_epoch = 0  # bumped when a compilation starts or ends
        self._compiling = False
        self._decided: list[tuple[Priority, Tracked]] = []  # compilations decided by this poll
        self.notes: list[Event] = []  # events about benchmarks (note())
        self.activity = 0  # counts events and phases: unchanged over a poll, nothing happened

    def begin_phase(self, name: str) -> None:
        """Measure shares from now on (a new benchmark is a new workload)."""
        snap = self._executor.read_counters(len(self.tracked))
        with self._lock:
            self.activity += 1
            self._phase, self._phase_index = name, self._phase_index + 1
            self._phase_base = [c.self_cycles for c in snap]
            self._phase_total = sum(self._phase_base)

    def poll(self, decide: bool = True,
             clocks: tuple[int, int] | None = None) -> list[tuple[Priority, Tracked]]:
        """Read the profile once and act on it; the compilations to run, with their priority.
        Without ``decide`` only measure and judge: the last look, when the workload is over
        and new code would never run. ``clocks``: the workload thread's CPU time and the wall
        clock now, in nanoseconds (``_delta`` says what they are for)."""
        snap = self._executor.read_counters(len(self.tracked))
        now = self._executor.now()
        with self._lock:
            self._decided = []
            total = sum(c.self_cycles for c in snap) - self._phase_total
            for t, c in zip(self.tracked, snap, strict=True):
                if t.state is State.TIER0:
                    t.tier0 = self._measure(t, c, clocks, t.tier0)
                    if decide:
                        self._consider(t, snap, total, now)
                elif t.state is State.MEASURING and t.spec:
                    self._interleave(t, c, clocks)
                elif t.state in (State.MEASURING, State.TIER2, State.SPECIALISING):
                    t.tier2 = self._measure(t, c, clocks, t.tier2)
                    if t.spec:
                        self._check_guard(t, c)
                    if t.state is State.MEASURING:
                        self._judge(t, c)
                    elif decide and t.state is State.TIER2 and self._specialize and t.tried is None \
                            and t.tier2.cycles >= self._clock.ms_to_cycles(policy.CLONE_VERDICT_MS):
                        self._specialise(t, c, now)
            return self._decided

    def _delta(self, t: Tracked, c: Counters, clocks: tuple[int, int] | None) -> policy.Window | None:
        """The calls of ``t`` completed since the previous poll and their cycles, if they
        measure: no compilation ran while they did, and the workload's thread had the CPU for
        policy.MIN_RAN_SHARE of that time at least, whose share of their cycles counts.

        They ran since the poll that saw the call before them complete (the workload calls in
        sequence), ``t.seen``: a call longer than a poll interval is judged over its whole
        time, not over the interval that saw it end."""
        last, t.last = t.last, c
        seen, mark = t.seen, (self._compile_epoch, clocks)
        if last is None or c.calls < last.calls:
            t.seen = mark
            return None
        if c.calls == last.calls:
            return None
        t.seen = mark
        if seen is None or self._compiling or seen[0] != self._compile_epoch:
            return None
        ran = 1.0
        if clocks is not None and seen[1] is not None:
            cpu, wall = clocks[0] - seen[1][0], clocks[1] - seen[1][1]
            ran = min(cpu / wall, 1.0) if wall > 0 else 0.0
        if ran < policy.MIN_RAN_SHARE:
            return None
        return policy.Window(c.calls - last.calls, round((c.cycles - last.cycles) * ran))

    def _measure(self, t: Tracked, c: Counters, clocks: tuple[int, int] | None,
                 window: policy.Window) -> policy.Window:
        """``window`` plus what the calls completed since the previous poll measure (``_delta``)."""
        delta = self._delta(t, c, clocks)
        return window if delta is None else policy.Window(window.calls + delta.calls,
                                                          window.cycles + delta.cycles)

    def settled(self, t: Tracked) -> bool:
        """Whether ``t`` runs code the machine will not replace while the workload stays as it
        is: past tier 0, no compilation pending, no verdict pending, no clone to come."""
        with self._lock:
            if t.state in (State.TIER0, State.COMPILING, State.MEASURING, State.SPECIALISING):
                return False
            if t.state is State.TIER2 and self._specialize and t.tried is None:
                if t.pinned:
                    return False  # the clone for the pinned memory comes once the code is measured
                return t.last is None or specialize.choose(t.fn, list(t.last.args), self._t.hot_calls) is None
            return True

    def admit(self, t: Tracked, tuned: str, repeated: bool) -> None:
        """Let ``t`` go to tier 2 as its tuned counterpart ``tuned``; ``repeated``: the workload
        calls it over and over, so its first call may still be running when a callee goes hot."""
        with self._lock:
            t.tuned, t.repeated = tuned, repeated

    def pin(self, t: Tracked, obj: specialize.PinnedObject) -> None:
        """Let ``t``'s clone take the memory ``obj`` describes as constants: its caller vouches
        that ``t`` only reads it (the clone's guard still checks it is unchanged)."""
        with self._lock:
            t.pinned += (obj,)

    def _submit(self, t: Tracked) -> None:
        rank = CLONE if t.state is State.SPECIALISING else TIER_UP
        self._decided.append(((rank, -self._phase_index, -t.hot_share), t))

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
        spec = specialize.choose(t.fn, list(c.args), self._t.hot_calls, t.pinned)
        if spec is None:
            return
        t.tried, t.state = spec, State.SPECIALISING
        self._event(t, "specialise", f"{spec.describe(t.arg_names)} never changed -> clone", now)
        self._submit(t)

    def _general_again(self, t: Tracked, result: str, kind: str, detail: str) -> None:
        """Put the kept general version back in place of the clone."""
        self._executor.write_slot(t.slot, t.general_code.address)
        t.code, t.spec, t.tier2, t.state = t.general_code, None, t.general, State.TIER2
        t.spec_result = result
        self._event(t, kind, detail)

    def _check_guard(self, t: Tracked, c: Counters) -> None:
        """A clone whose guard keeps missing gives way to the general version."""
        misses = c.guard_misses - t.swap.guard_misses
        if misses >= self._t.hot_calls:
            self._general_again(t, "guard missed", "despecialise",
                                f"guard missed {misses} times -> the general version")

    def compile_and_swap(self, t: Tracked) -> None:
        """Make the tier-2 version ``poll`` decided for ``t`` and point its slot at it; if it
        cannot be made, the running code stays."""
        with self._lock:
            self._compiling, self._compile_epoch = True, self._compile_epoch + 1
            spec = t.tried if t.state is State.SPECIALISING else None
        try:
            code = self._make_tier2(t.fn, spec, t.tuned)
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
            t.swap_tsc = self._executor.now()
            self._executor.write_slot(t.slot, code.address)
            before = self._executor.read_counters(t.fn.id + 1)[t.fn.id]
            if not t.tier0.calls:  # it went hot inside its first call
                if before.calls:  # tier-0 calls that ended while it compiled
                    t.tier0 = policy.Window(before.calls - t.hot.calls, before.cycles - t.hot.cycles)
                else:
                    t.running_tsc = before.first_tsc
            self._executor.rearm_first_call(t.fn.id)
            if spec is not None:  # the general version is timed again, taking turns with the clone
                t.general_code, t.general = t.code, policy.NO_CALLS
                t.on_clone, t.clean, t.serving_from = True, False, 0
            t.code, t.spec, t.state = code, spec, State.MEASURING
            t.swap = self._executor.read_counters(t.fn.id + 1)[t.fn.id]
            # Start measuring after the call that may still run the old code.
            t.tier2, t.last = policy.NO_CALLS, None
            how = "from the cache" if code.cached else "compile"
            what = f"{code.variant} code" + (f", {spec.describe(t.arg_names)}" if spec else "")
            self._event(t, "swapped", f"{what}, {how} {code.compile_ms:.1f} ms ({code.library})")

    def _judge(self, t: Tracked, c: Counters) -> None:
        # (c may predate the swap: poll() reads the table before taking the lock.)
        if t.latency_ms is None and c.first_tsc >= t.swap_tsc:
            t.latency_ms = self._clock.ms(c.first_tsc) - self._clock.ms(t.hot_tsc)
        if t.last is not None and t.last.calls <= t.swap.calls:
            t.last = None  # still the swap-time call: measure from the next poll
        elif t.last is not None and not t.tier0.calls and t.running_tsc and c.first_tsc > t.running_tsc:
            # It went hot inside its first call, which ran tier 0 to its end: from its entry
            # to the next entry, the first into the new code, is its tier-0 measurement.
            t.tier0 = policy.Window(1, c.first_tsc - t.running_tsc)
        window, enough = t.tier2, self._clock.ms_to_cycles(policy.MIN_VERDICT_MS)
        if window.calls < self._t.verify_calls or window.cycles < enough:
            return
        base = t.tier0
        if base.per_call is None:
            t.state = State.TIER2
            self._event(t, "kept", f"{window.per_call:,.0f} cycles/call (no call of tier 0 to compare)")
            return
        speed = f"{base.per_call:,.0f} -> {window.per_call:,.0f} cycles/call"
        if policy.keep_tier2(base, window, self._t):
            t.state = State.TIER2
            self._event(t, "kept", f"{speed} ({base.per_call / window.per_call:.2f}x tier 0)")
        else:
            self._executor.write_slot(t.slot, t.tier0_address)
            t.state = State.REVERTED
            self._uncover(t)
            self._event(t, "reverted", f"{speed}: slower than tier 0, back to tier 0")

    def _interleave(self, t: Tracked, c: Counters, clocks: tuple[int, int] | None) -> None:
        """A clone's verdict, on the workload as it runs now (load on a shared machine comes
        and goes): the slot alternates between the clone and the general version, each for
        policy.SWITCH_MS of measured calls, and each is measured only over intervals that
        began after its first call since the switch (the workload calls in sequence, so the
        other code's last call had ended by then). Once both have CLONE_VERDICT_MS / 2 and
        verify_calls calls, the clone is kept if faster."""
        self._check_guard(t, c)
        if t.state is not State.MEASURING:
            return
        delta = self._delta(t, c, clocks)
        if t.clean and delta is not None:
            if t.on_clone:
                t.tier2 = policy.Window(t.tier2.calls + delta.calls, t.tier2.cycles + delta.cycles)
            else:
                t.general = policy.Window(t.general.calls + delta.calls, t.general.cycles + delta.cycles)
        t.clean = c.first_tsc != 0
        clone, general = t.tier2, t.general
        half = self._clock.ms_to_cycles(policy.CLONE_VERDICT_MS / 2)
        if min(clone.calls, general.calls) >= self._t.verify_calls and min(clone.cycles, general.cycles) \
                >= half:
            ratio = f"{general.per_call / clone.per_call:.2f}x"
            speed = f"{general.per_call:,.0f} -> {clone.per_call:,.0f} cycles/call"
            if not policy.keep_clone(general, clone):
                self._general_again(t, f"dropped, {ratio}", "unspecialise",
                                    f"{speed}, taking turns: slower than the general version, back to it")
                return
            self._executor.write_slot(t.slot, t.code.address)
            t.state, t.spec_result = State.TIER2, f"kept, {ratio}"
            self._event(t, "kept", f"{speed}, taking turns ({ratio} the general version)")
            return
        serving = clone if t.on_clone else general
        if serving.cycles - t.serving_from >= self._clock.ms_to_cycles(policy.SWITCH_MS):
            t.on_clone = not t.on_clone
            self._executor.write_slot(t.slot, (t.code if t.on_clone else t.general_code).address)
            self._executor.rearm_first_call(t.fn.id)
            t.clean, t.serving_from = False, (clone if t.on_clone else general).cycles

    def _event(self, t: Tracked, kind: str, detail: str, tsc: int | None = None) -> None:
        tsc = self._executor.now() if tsc is None else tsc
        event = Event(self._clock.ms(tsc), kind, t.label, detail)
        self.activity += 1
        t.events.append(event)
        self._log(event)

    def note(self, subject: str, kind: str, detail: str) -> None:
        """Log an event about something other than one function (a benchmark)."""
        event = Event(self._clock.ms(self._executor.now()), kind, subject, detail)
        with self._lock:
            self.activity += 1
            self.notes.append(event)
        self._log(event)
