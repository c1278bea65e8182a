"""The profiler runtime (src/runtime/profile.c) as the JIT sees it: its table, its clock, its binding.

``FnRecord`` is the layout of one row of the table (struct fluid_prof_fn)
and ``Counters`` a row read at one moment: any executor reads the same rows,
wherever the table is. ``Clock`` turns the profiler's TSC readings into
milliseconds. ``Profiler`` binds the runtime of a module loaded in this
process (the in-process executor's, inprocess.py) through ctypes.

The table is plain memory the workload thread writes while the optimizer
reads it; every field is an aligned 64-bit word, which x86-64 reads and
writes whole, so a snapshot may be a few calls stale but never torn.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Mapping
from dataclasses import dataclass

from fluidjit.errors import JitError
from fluidjit.instrument import PROFILED_ARGS

CALIBRATION_S = 0.02  # long enough for a 0.1% TSC rate estimate
PAIR_S = 50e-6  # clock reads further apart around a TSC reading were interrupted


class ArgRecord(ctypes.Structure):
    _fields_ = [("seen", ctypes.c_uint64), ("value", ctypes.c_uint64), ("changes", ctypes.c_uint64)]


class FnRecord(ctypes.Structure):
    """struct fluid_prof_fn."""

    _fields_ = [
        ("calls", ctypes.c_uint64),
        ("cycles", ctypes.c_uint64),
        ("self_cycles", ctypes.c_uint64),
        ("first_tsc", ctypes.c_uint64),
        ("guard_misses", ctypes.c_uint64),
        ("args", ArgRecord * PROFILED_ARGS),
    ]


@dataclass(frozen=True)
class Counters:
    """One function's counters at one moment."""

    calls: int
    self_cycles: int
    cycles: int
    first_tsc: int
    guard_misses: int
    args: tuple[tuple[int, int, int], ...]  # (seen, value, changes) per position

    @classmethod
    def of(cls, rec: FnRecord) -> Counters:
        return cls(rec.calls, rec.self_cycles, rec.cycles, rec.first_tsc, rec.guard_misses,
                   tuple((a.seen, a.value, a.changes) for a in rec.args))


@dataclass(frozen=True)
class Clock:
    """The profiler's time base: its TSC rate and the reading taken when it started."""

    tsc_hz: float
    origin_tsc: int

    def ms(self, tsc: int) -> float:
        """Milliseconds from the profiler's start to time stamp ``tsc``."""
        return (tsc - self.origin_tsc) / self.tsc_hz * 1e3

    def ms_to_cycles(self, ms: float) -> float:
        """TSC cycles in ``ms`` milliseconds."""
        return ms / 1e3 * self.tsc_hz


_NOW = ctypes.CFUNCTYPE(ctypes.c_uint64)
_TIME_RUNS = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                              ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64))


class Profiler:
    """The profiler runtime of a module loaded in this process; ``addresses`` has its symbols
    (module.PROFILER_SYMBOLS), ``capacity`` the rows of its table."""

    def __init__(self, addresses: Mapping[str, int], capacity: int) -> None:
        record_size = ctypes.c_uint32.from_address(addresses["fluid_prof_record_size"]).value
        if record_size != ctypes.sizeof(FnRecord):
            raise JitError(f"profiler record is {record_size} bytes in the module but "
                           f"{ctypes.sizeof(FnRecord)} here: profile.h and profiler.py disagree")
        self._table = (FnRecord * capacity).from_address(addresses["fluid_prof_table"])
        self.now = _NOW(addresses["fluid_prof_now"])
        self._time_runs = _TIME_RUNS(addresses["fluid_prof_time_runs"])
        tsc_hz = self._calibrate()
        self.clock = Clock(tsc_hz, self.now())

    def _calibrate(self) -> float:
        c0, t0 = self._tsc_and_time()
        time.sleep(CALIBRATION_S)
        c1, t1 = self._tsc_and_time()
        return (c1 - c0) / (t1 - t0)

    def _tsc_and_time(self) -> tuple[int, float]:
        """A TSC reading and the clock at that moment: the midpoint of two clock reads
        around it, retried until they are close (another thread may run between them)."""
        while True:
            before = time.perf_counter()
            tsc = self.now()
            after = time.perf_counter()
            if after - before < PAIR_S:
                return tsc, (before + after) / 2

    def snapshot(self, count: int) -> list[Counters]:
        """Counters of functions 0 .. count-1."""
        copy = (FnRecord * count)()
        ctypes.memmove(copy, self._table, ctypes.sizeof(copy))
        return [Counters.of(rec) for rec in copy]

    def rearm_first_call(self, fid: int) -> None:
        """Make the next entry into ``fid`` record its time stamp again."""
        self._table[fid].first_tsc = 0

    def time_runs(self, run: int, arena: int, size: int, count: int) -> list[int]:
        """Call the run() at address ``run`` on ``arena`` ``count`` times from the module's
        C loop (fluid_prof_time_runs); each call's nanoseconds. Python's lock is released
        meanwhile, so the optimizer keeps working while the workload runs."""
        ticks = (ctypes.c_uint64 * count)()
        self._time_runs(run, arena, size, count, ticks)
        return [round(t * 1e9 / self.clock.tsc_hz) for t in ticks]
