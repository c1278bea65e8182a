"""The re-JIT optimizer: a state machine (state_machine.py) run by two background threads.

Besides the workload's thread: a monitor that polls the machine every few
milliseconds (it reads the profiler table and decides), and a compiler
worker that runs the compilations it decided, in their priority order, and
swaps their code in. The workload never waits for either: it keeps calling
through the slots, and a call that starts after a slot is written runs the
new code.

The monitor polls every ``poll_ms``; after QUIET_POLLS polls in a row that
changed nothing (no decision, no verdict, no compilation queued) it backs
off, doubling its interval up to MAX_POLL_MS: a workload whose code has
settled then pays for a poll every 64 ms, not every 2 ms (on a machine
shared with other work the monitor's thread competes with the workload's
for the CPU). Anything that happens brings it back to ``poll_ms``, and so
does a new workload phase (``begin_phase``) at once.

The workload's thread is the one that starts the optimizer. Each poll hands
the machine that thread's CPU clock and the wall clock, so that it can tell
the share of a stretch of time that thread had the CPU: on a machine shared
with other work a descheduled thread's calls take longer, in TSC cycles,
without its code being slower (policy.MIN_RAN_SHARE).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time

from fluidjit.state_machine import CLONE, Priority, TierStateMachine
from fluidjit.tracked import Tracked

STOP: Priority = (CLONE + 1, 0, 0.0)  # the stop request comes after every compilation
QUIET_POLLS = 16  # polls that changed nothing before the monitor backs off
MAX_POLL_MS = 64.0  # its longest interval, while nothing happens


class Optimizer:
    """Runs ``machine``: polls it every ``poll_ms`` and compiles what it decides."""

    def __init__(self, machine: TierStateMachine, poll_ms: float = 2.0) -> None:
        self.machine = machine
        self._interval = poll_ms / 1e3
        self._jobs: queue.PriorityQueue[tuple[Priority, int, Tracked | None]] = queue.PriorityQueue()
        self._serial = itertools.count()  # first come, first served within a priority
        self._stop = threading.Event()
        self._wake = threading.Event()  # set: the monitor polls now, and every poll_ms again
        self._monitor: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._workload_clock: int | None = None  # the CPU clock of the workload's thread

    def start(self, monitor: bool = True) -> None:
        """Start the compiler worker and, unless the caller polls itself, the monitor; the
        calling thread is the workload's."""
        if self._workload_clock is None:
            self._workload_clock = time.pthread_getcpuclockid(threading.get_ident())
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="fluid-jit-compiler", daemon=True)
            self._worker.start()
        if monitor and self._monitor is None:
            self._stop.clear()
            self._monitor = threading.Thread(target=self._watch, name="fluid-jit-monitor", daemon=True)
            self._monitor.start()

    def begin_phase(self, name: str) -> None:
        """A new workload: the machine measures shares from now on (TierStateMachine.begin_phase),
        and the monitor looks at it at once."""
        self.machine.begin_phase(name)
        self._wake.set()

    def poll(self) -> None:
        """Have the machine read the profile once; queue the compilations it decided."""
        for priority, t in self.machine.poll(clocks=self._clocks()):
            self._jobs.put((priority, next(self._serial), t))

    def _clocks(self) -> tuple[int, int] | None:
        """The workload thread's CPU time and the wall clock now (ns), once it is known."""
        if self._workload_clock is None:
            return None
        return time.clock_gettime_ns(self._workload_clock), time.monotonic_ns()

    def wait_idle(self) -> None:
        """Block until every queued compilation has been swapped in or has failed."""
        self._jobs.join()

    def stop(self) -> None:
        """Stop watching, let queued compilations finish, and take a last look at the
        measurements, deciding nothing new: the workload is over (and an optimizer never
        started has nothing to look at)."""
        self._stop.set()
        self._wake.set()
        if self._monitor is not None:
            self._monitor.join()
            self._monitor = None
        if self._worker is not None:
            self.wait_idle()
            self.machine.poll(decide=False, clocks=self._clocks())

    def close(self) -> None:
        """Stop both threads."""
        self.stop()
        if self._worker is not None:
            self._jobs.put((STOP, next(self._serial), None))
            self._worker.join()
            self._worker = None

    def finish(self) -> list[Tracked]:
        """Stop the threads (after a last poll) and return what was learnt."""
        self.close()
        return self.machine.tracked

    def _watch(self) -> None:
        interval, quiet = self._interval, 0
        while not self._stop.is_set():
            if self._wake.wait(interval):
                self._wake.clear()
                interval, quiet = self._interval, 0
            if self._stop.is_set():
                return
            activity = self.machine.activity
            self.poll()
            if activity != self.machine.activity or self._jobs.unfinished_tasks:
                interval, quiet = self._interval, 0
            else:
                quiet += 1
                if quiet >= QUIET_POLLS:
                    interval = min(interval * 2, MAX_POLL_MS / 1e3)

    def _work(self) -> None:
        while (t := self._jobs.get()[2]) is not None:
            try:
                self.machine.compile_and_swap(t)
            finally:
                self._jobs.task_done()
        self._jobs.task_done()
