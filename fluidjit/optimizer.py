"""The re-JIT optimizer: a state machine (state_machine.py) run by two background threads.

Besides the workload's thread: a monitor that polls the machine every few
milliseconds (it reads the profiler table and decides), and a compiler
worker that runs the compilations it decided, in their priority order, and
swaps their code in. The workload never waits for either: it keeps calling
through the slots, and a call that starts after a slot is written runs the
new code.
"""

from __future__ import annotations

import itertools
import queue
import threading

from fluidjit.state_machine import CLONE, Priority, TierStateMachine
from fluidjit.tracked import Tracked

STOP: Priority = (CLONE + 1, 0, 0.0)  # the stop request comes after every compilation


class Optimizer:
    """Runs ``machine``: polls it every ``poll_ms`` and compiles what it decides."""

    def __init__(self, machine: TierStateMachine, poll_ms: float = 2.0) -> None:
        self.machine = machine
        self._interval = poll_ms / 1e3
        self._jobs: queue.PriorityQueue[tuple[Priority, int, Tracked | None]] = queue.PriorityQueue()
        self._serial = itertools.count()  # first come, first served within a priority
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._worker: threading.Thread | None = None

    def start(self, monitor: bool = True) -> None:
        """Start the compiler worker and, unless the caller polls itself, the monitor."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="fluid-jit-compiler", daemon=True)
            self._worker.start()
        if monitor and self._monitor is None:
            self._stop.clear()
            self._monitor = threading.Thread(target=self._watch, name="fluid-jit-monitor", daemon=True)
            self._monitor.start()

    def poll(self) -> None:
        """Have the machine read the profile once; queue the compilations it decided."""
        for priority, t in self.machine.poll():
            self._jobs.put((priority, next(self._serial), t))

    def wait_idle(self) -> None:
        """Block until every queued compilation has been swapped in or has failed."""
        self._jobs.join()

    def stop(self) -> None:
        """Stop watching, let queued compilations finish, and take a last look at the
        measurements, deciding nothing new: the workload is over (and an optimizer never
        started has nothing to look at)."""
        self._stop.set()
        if self._monitor is not None:
            self._monitor.join()
            self._monitor = None
        if self._worker is not None:
            self.wait_idle()
            self.machine.poll(decide=False)

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
        while not self._stop.wait(self._interval):
            self.poll()

    def _work(self) -> None:
        while (t := self._jobs.get()[2]) is not None:
            try:
                self.machine.compile_and_swap(t)
            finally:
                self._jobs.task_done()
        self._jobs.task_done()
