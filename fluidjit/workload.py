"""The benchmarks of a Fluid module, found through its registry and driven from Python.

Mirrors the structures of src/bench/bench.h; the driver owns the arena, as
bench.h asks: mem_bytes(size), a 64-byte aligned arena, setup(), run() as
many times as asked, checksum().

bench.h leaves the arena's layout to each variant of a benchmark (a tuned
variant may lay out tables for its own vector width). So before its tuned
run() may take over a workload set up by the generic setup(),
``tuned_arena_mismatch`` checks, on the live size and seed, that
the tuned variant asks for the same arena, places its input and output at
the same offsets and leaves the same bytes after setup(): from then on the
tuned run() sees exactly the arena its own setup() would have made.
"""

from __future__ import annotations

import ctypes
import itertools
import mmap
from collections.abc import Callable
from dataclasses import dataclass

from fluidjit.errors import JitError
from fluidjit.runtime import JitRuntime

REGISTRY_SYMBOLS = ("bench_registry", "bench_registry_count")
# Argument names of the descriptor's functions (bench.h), for reports.
ROLES: dict[str, tuple[str, ...]] = {
    "mem_bytes": ("size",),
    "setup": ("arena", "size", "seed"),
    "run": ("arena", "size"),
    "checksum": ("arena", "size"),
    "work": ("size",),
    "regions": ("size", "input", "output"),
}


class BenchDesc(ctypes.Structure):
    """struct bench_desc."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("unit", ctypes.c_char_p),
        ("default_size", ctypes.c_uint32),
        ("mem_bytes", ctypes.c_void_p),
        ("setup", ctypes.c_void_p),
        ("run", ctypes.c_void_p),
        ("checksum", ctypes.c_void_p),
        ("work", ctypes.c_void_p),
        ("regions", ctypes.c_void_p),
    ]


class BenchEntry(ctypes.Structure):
    """struct bench_entry."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("generic", ctypes.POINTER(BenchDesc)),
        ("tuned", ctypes.POINTER(BenchDesc)),
        ("size", ctypes.c_uint32),
        ("iterations", ctypes.c_uint32),
    ]


_MEM_BYTES = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_uint32)
_SETUP = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32)
_CHECKSUM = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint32)
_WORK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint32)


class BenchRegion(ctypes.Structure):
    """struct bench_region."""

    _fields_ = [("offset", ctypes.c_size_t), ("bytes", ctypes.c_size_t)]


_REGIONS = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.POINTER(BenchRegion), ctypes.POINTER(BenchRegion))


@dataclass
class Benchmark:
    name: str
    unit: str
    size: int
    iterations: int
    desc: BenchDesc
    roles: dict[int, str]  # thunk address -> descriptor field ("run", ...)
    time_runs: Callable[[int, int, int, int], list[int]]  # Executor.time_runs of its module


@dataclass
class BenchRun:
    checksum: int
    run_ns: list[int]  # each run() call, wall clock
    work: int  # units of work in one run()


class Arena:
    """A zeroed arena of ``nbytes``, alive as long as this object: anonymous memory, so
    page-aligned (bench.h asks for 64 bytes) like the native runner's and the kernel's."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self._map = mmap.mmap(-1, max(nbytes, 1))
        self._buffer = ctypes.c_char.from_buffer(self._map)
        self.address = ctypes.addressof(self._buffer)

    def bytes(self) -> bytes:
        return self._map[:self.nbytes]


def registry(rt: JitRuntime) -> list[Benchmark]:
    """Every registry entry (the generic descriptor: the JIT does its own tuning)."""
    count = ctypes.c_uint32.from_address(rt.address("bench_registry_count")).value
    entries = (BenchEntry * count).from_address(rt.address("bench_registry"))
    out = []
    for entry in entries:
        if not entry.generic:
            raise JitError(f"{rt.config.module}: registry entry '{entry.name.decode()}' has no descriptor")
        desc = entry.generic.contents
        roles = {getattr(desc, role): role for role in ROLES if getattr(desc, role)}
        out.append(Benchmark(entry.name.decode(), desc.unit.decode(), entry.size or desc.default_size,
                             entry.iterations, desc, roles, rt.executor.time_runs))
    return out


def select(benchmarks: list[Benchmark], names: tuple[str, ...], module: str) -> list[Benchmark]:
    if not names:
        return benchmarks
    known = {b.name: b for b in benchmarks}
    for name in names:
        if name not in known:
            raise JitError(f"{module}: no benchmark '{name}' in the registry "
                           f"(has: {', '.join(known) or 'none'})")
    return [known[n] for n in names]


def run_benchmark(bench: Benchmark, size: int, iterations: int, seed: int,
                  after_setup: Callable[[Arena], None] | None = None) -> BenchRun:
    """setup, ``after_setup(arena)`` if given, ``iterations`` run() calls timed one by one
    in the module's own loop, checksum."""
    d = bench.desc
    arena = Arena(_MEM_BYTES(d.mem_bytes)(size))
    _SETUP(d.setup)(arena.address, size, seed)
    if after_setup:
        after_setup(arena)
    times = bench.time_runs(d.run, arena.address, size, iterations)
    checksum = _CHECKSUM(d.checksum)(arena.address, size)
    return BenchRun(checksum, times, _WORK(d.work)(size))


def oversized_arena(bench: Benchmark, size: int, limit: int, mem_bytes: int | None = None) -> str | None:
    """Why ``bench`` cannot run at ``size`` (its arena would exceed ``limit`` bytes), or None.

    ``mem_bytes`` (default: the descriptor's) is asked at sizes 1, 2, 4, ...
    and ``size``: a need computed in 64 bits may wrap around to a small
    number for a huge size, but only after it passed the limit at a smaller
    one (arena needs grow with the size), and a need that shrinks on the way
    shows the wrap."""
    need_of = _MEM_BYTES(mem_bytes or bench.desc.mem_bytes)
    ladder = [*(1 << k for k in range(size.bit_length()) if 1 << k < size), size]
    needs = [need_of(at) for at in ladder]
    if max(needs) <= limit:
        return None
    if all(a <= b for a, b in itertools.pairwise(needs)):
        shown = f"a {needs[-1]}-byte arena ({needs[-1] / 2**30:.1f} GiB)"
    else:
        first = next(i for i, need in enumerate(needs) if need > limit)
        shown = (f"an arena too large to count in 64 bits (size {ladder[first]} already needs "
                 f"{needs[first]} bytes)")
    return (f"benchmark '{bench.name}' at size {size} needs {shown}, more than the "
            f"{limit}-byte limit ({limit / 2**30:.1f} GiB: 4 GiB or half this machine's memory)")


def _regions(fn: int, size: int) -> tuple[int, int, int, int]:
    regions = (BenchRegion * 2)()
    _REGIONS(fn)(size, ctypes.byref(regions[0]), ctypes.byref(regions[1]))
    return regions[0].offset, regions[0].bytes, regions[1].offset, regions[1].bytes


def tuned_arena_mismatch(bench: Benchmark, tuned: dict[str, int], arena: Arena, size: int,
                         seed: int) -> str | None:
    """How the tuned variant's arena differs from ``arena``, just set up by the generic
    setup(size, seed); None when it is the same. ``tuned``: the tuned mem_bytes, setup
    and regions (their addresses by role)."""
    nbytes = _MEM_BYTES(tuned["mem_bytes"])(size)
    if nbytes != arena.nbytes:
        return f"its tuned arena is {nbytes} bytes, the generic one {arena.nbytes}"
    if bench.desc.regions and "regions" in tuned and \
            _regions(bench.desc.regions, size) != _regions(tuned["regions"], size):
        return "its tuned variant keeps its input or output elsewhere in the arena"
    mine = Arena(nbytes)
    _SETUP(tuned["setup"])(mine.address, size, seed)
    generic, other = arena.bytes(), mine.bytes()
    if generic != other:
        first = next(i for i, (a, b) in enumerate(zip(generic, other, strict=True)) if a != b)
        return f"its tuned setup() leaves other bytes in the arena (from offset {first})"
    return None
