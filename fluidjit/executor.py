"""Where JIT code runs, as the optimizer needs it: the Executor interface.

The JIT is split the way LLVM ORC splits its JIT from its
ExecutorProcessControl. The compiler (compiler.py, compile_server.py) turns
IR text into relocatable object files for a target CPU and knows nothing of
where they will run. An executor is the place they run: it installs
finished object code and gives the optimizer what it needs from that place,
namely the addresses of what it installed, the function slots to write, the
profiler's counters and clock, and timed runs of the workload. The runtime
(runtime.py) hands each object file from the compiler to the executor; the
optimizer (state_machine.py, optimizer.py) talks to the executor only
through this interface.

The user-space JIT's executor is this process (InProcessExecutor,
inprocess.py): LLJIT links the object files, ctypes reads and writes the
memory. The kernel's live re-JIT (remote.py, linkserver.py) has
``RemoteExecutor.link``: the object relocated on the host at an address of
the kernel's code arena, sent as finished bytes; there the kernel pushes its
profiles and times old against new itself, so the methods below that read
counters or time runs have no remote counterpart yet. A remote executor
that pulled them instead would implement the same methods and be handed to
``JitRuntime(executor=)``, the compiler, policy and optimizer unchanged:

- ``link`` relocates the object file on the host, against addresses it
  allocated in the kernel and the symbols of the libraries linked before,
  and sends the finished, relocated bytes; the kernel only copies them into
  place. Tier 0 is the first library, as here.
- ``write_slot``/``read_slot`` are one message each: the kernel does an
  aligned 8-byte store or load, so a call sees the old or the new address.
- ``attach_profiler``, ``read_counters``, ``rearm_first_call``, ``now``
  read and write the same table rows (profiler.FnRecord) in the kernel's
  memory; its clock is the kernel's own TSC calibration.
- ``time_runs`` has the kernel run ``fluid_prof_time_runs`` and send back the
  ticks; the kernel sets its benchmarks up itself (workload.py, which calls
  setup() and checksum() through ctypes, drives an in-process module only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from fluidjit.profiler import Clock, Counters


class Executor(Protocol):
    """What the JIT needs from the place its code runs. Addresses are the executor's."""

    def link(self, library: str, obj: bytes, exports: Sequence[str],
             against: str | None = None) -> dict[str, int]:
        """Install object file ``obj`` as ``library`` (a name never used before), its undefined
        symbols resolved to the exports of library ``against``; the addresses of ``exports``.
        Installed code is never removed: a replaced version may still be running. Raises
        CompileError when the object cannot be linked."""
        ...

    def attach_profiler(self, addresses: Mapping[str, int], capacity: int) -> Clock:
        """Bind the profiler runtime linked at ``addresses`` (module.PROFILER_SYMBOLS), whose
        table has ``capacity`` rows; its clock. Raises JitError if the table's record layout
        is not profiler.FnRecord's."""
        ...

    def read_counters(self, count: int) -> list[Counters]:
        """The counters of profiled functions 0 .. count-1, as they are now."""
        ...

    def rearm_first_call(self, fid: int) -> None:
        """Make the next entry into function ``fid`` record its time stamp again."""
        ...

    def now(self) -> int:
        """The profiler's time stamp (TSC) now."""
        ...

    def time_runs(self, run: int, arena: int, size: int, count: int) -> list[int]:
        """Call the run() at ``run`` on ``arena`` ``count`` times in the module's timed loop
        (fluid_prof_time_runs); each call's nanoseconds."""
        ...

    def read_slot(self, slot: int) -> int:
        """The address a function's slot holds."""
        ...

    def write_slot(self, slot: int, address: int) -> None:
        """Point a function's slot at ``address``: its next call runs the code there."""
        ...

    def close(self) -> None:
        """Release the executor; no code is swapped or timed after this."""
        ...
