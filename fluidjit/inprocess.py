"""The executor of today: JIT code runs in this process, beside the optimizer's threads.

LLJIT links each object file into a JIT library of its own (a library name
can never be reused), tier-2 libraries against the tier-0 library, whose
exported symbols resolve every reference. ctypes does the rest: slots are
written with one aligned 8-byte store, the profiler runtime is bound by
profiler.Profiler. Libraries stay loaded as long as the executor exists,
closed or not: a swapped-out version may still be running, and Python code
may still hold the address of any of them.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from typing import Any

from fluidjit.errors import CompileError, first_line
from fluidjit.profiler import Clock, Counters, Profiler


class InProcessExecutor:
    """An Executor (executor.py) running JIT code in this process."""

    def __init__(self) -> None:
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self._llvm = llvm
        self._jit = llvm.create_lljit_compiler()
        self._libraries: list[Any] = []  # their resource trackers: code lives as long as these
        self._profiler: Profiler | None = None

    def link(self, library: str, obj: bytes, exports: Sequence[str],
             against: str | None = None) -> dict[str, int]:
        """See Executor.link."""
        builder = self._llvm.JITLibraryBuilder().add_object_img(obj)
        if against is not None:
            builder.add_jit_library(against)
        for name in exports:
            builder.export_symbol(name)
        try:
            tracker = builder.link(self._jit, library)
        except RuntimeError as exc:
            raise CompileError(f"linking {library}: {first_line(str(exc), 'link error')}") from None
        self._libraries.append(tracker)
        return {name: tracker[name] for name in exports}

    def attach_profiler(self, addresses: Mapping[str, int], capacity: int) -> Clock:
        """See Executor.attach_profiler."""
        self._profiler = Profiler(addresses, capacity)
        return self._profiler.clock

    def read_counters(self, count: int) -> list[Counters]:
        return self._profiler.snapshot(count)

    def rearm_first_call(self, fid: int) -> None:
        self._profiler.rearm_first_call(fid)

    def now(self) -> int:
        return self._profiler.now()

    def time_runs(self, run: int, arena: int, size: int, count: int) -> list[int]:
        """See Executor.time_runs; Python's lock is released while the loop runs."""
        return self._profiler.time_runs(run, arena, size, count)

    def read_slot(self, slot: int) -> int:
        return ctypes.c_uint64.from_address(slot).value

    def write_slot(self, slot: int, address: int) -> None:
        # An aligned 8-byte store: callers load either the old or the new address.
        ctypes.c_uint64.from_address(slot).value = address

    def close(self) -> None:
        """Nothing to release: the JIT libraries stay loaded (see the module docstring)."""
