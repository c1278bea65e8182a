"""The benchmarks of a Fluid module, found through its registry and driven from Python.

Mirrors the structures of src/bench/bench.h; the driver owns the arena, as
bench.h asks: mem_bytes(size), a 64-byte aligned arena, setup(), run() as
many times as asked, checksum().
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass

from fluidbuild.jit.errors import JitError
from fluidbuild.jit.runtime import JitRuntime

REGISTRY_SYMBOLS = ("bench_registry", "bench_registry_count")
ARENA_ALIGN = 64
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
_RUN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32)
_CHECKSUM = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint32)
_WORK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint32)


@dataclass
class Benchmark:
    name: str
    unit: str
    size: int
    iterations: int
    desc: BenchDesc
    roles: dict[int, str]  # thunk address -> descriptor field ("run", ...)


@dataclass
class BenchRun:
    checksum: int
    run_ns: list[int]  # each run() call, wall clock
    work: int  # units of work in one run()


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
                             entry.iterations, desc, roles))
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


def run_benchmark(bench: Benchmark, size: int, iterations: int, seed: int) -> BenchRun:
    """setup, ``iterations`` timed run() calls, checksum."""
    d = bench.desc
    nbytes = _MEM_BYTES(d.mem_bytes)(size)
    buffer = ctypes.create_string_buffer(nbytes + ARENA_ALIGN)
    arena = (ctypes.addressof(buffer) + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1)
    _SETUP(d.setup)(arena, size, seed)
    run = _RUN(d.run)
    times = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        run(arena, size)
        times.append(time.perf_counter_ns() - start)
    checksum = _CHECKSUM(d.checksum)(arena, size)
    return BenchRun(checksum, times, _WORK(d.work)(size))
