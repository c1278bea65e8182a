"""A JIT session: one run of a module's benchmarks under the JIT, the API behind the CLI and ``doit jit``.

``run_jit`` loads the module (runtime.py), checks that every selected
benchmark's arena fits in memory at the size asked (its own mem_bytes
says, so this waits for tier 0 but comes before any run and any tier-2
compile), runs each one from the registry (workload.py) while the
optimizer works in the background, admitting a benchmark to tuned tier-2
code when its arena check passes (``admit_tuned``), reruns them at tier 0
to compare checksums, and reports (report.py).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from fluidbuild.atomic import write_text
from fluidjit.config import JitConfig, arena_limit
from fluidjit.errors import CompileError, JitError
from fluidjit.report import BenchRow, FunctionRow, JitReport, live_log
from fluidjit.runtime import JitRuntime
from fluidjit.tracked import Event
from fluidjit.workload import (
    REGISTRY_SYMBOLS,
    ROLES,
    Arena,
    Benchmark,
    BenchRun,
    oversized_arena,
    registry,
    run_benchmark,
    select,
    tuned_arena_mismatch,
)


def _label(rt: JitRuntime, benchmarks: list[Benchmark]) -> None:
    """Name descriptor functions after their benchmark and role ("matrix_mul.run")."""
    by_address = {b_addr: (b.name, role) for b in benchmarks for b_addr, role in b.roles.items()}
    for t in rt.machine.tracked:
        found = by_address.get(rt.addresses[t.fn.name])
        if found:
            t.label, t.arg_names = f"{found[0]}.{found[1]}", ROLES[found[1]]


def admit_tuned(rt: JitRuntime, bench: Benchmark, arena: Arena, size: int, seed: int) -> str:
    """Check that ``bench``'s tuned variant can take over the workload just set up in ``arena``
    and, if so, admit it to tier 2; "tuned", or "generic: <why not>"."""
    start = time.perf_counter()
    why = rt.tuned_obstacle(bench.name)
    if why is None:
        try:
            probe = rt.tuned_probe(bench.name)
        except CompileError as exc:
            why = f"its arena check did not compile: {exc}"
        else:
            why = tuned_arena_mismatch(bench, probe, arena, size, seed)
    ms = (time.perf_counter() - start) * 1e3
    if why is None:
        rt.use_tuned(bench.name)
        rt.machine.note(bench.name, "tuned", f"same arena as the generic variant ({ms:.1f} ms): "
                          "tier 2 compiles its tuned code")
        return "tuned"
    rt.machine.note(bench.name, "generic", f"tier 2 compiles its generic code: {why}")
    return f"generic: {why}"


def check_arenas(rt: JitRuntime, plan: list[tuple[Benchmark, int, int]]) -> None:
    """Raise JitError if a benchmark of ``plan`` would need an arena beyond ``arena_limit()``.
    mem_bytes runs as its tier-0 body, so the asking leaves no trace in the profile."""
    bodies = {rt.addresses[t.fn.name]: t.tier0_address for t in rt.machine.tracked}
    limit = arena_limit()
    for bench, size, _ in plan:
        why = oversized_arena(bench, size, limit, bodies.get(bench.desc.mem_bytes))
        if why:
            raise JitError(why)


def _bench_row(b: Benchmark, size: int, iterations: int, jit: BenchRun, ref: BenchRun | None,
               fused: bool, code: str) -> BenchRow:
    if ref is None:
        match = "unchecked"
    elif ref.checksum == jit.checksum:
        match = "exact"
    else:
        match = "fma" if fused else "MISMATCH"
    tail = BenchRow.tail(jit.run_ns)
    steady = statistics.median(tail) / 1e6
    return BenchRow(
        name=b.name, unit=b.unit, size=size, iterations=iterations, first_ms=jit.run_ns[0] / 1e6,
        steady_ms=steady, best_ms=min(tail) / 1e6,
        tier0_ms=statistics.median(ref.run_ns) / 1e6 if ref else None,
        work_per_s=jit.work / (steady / 1e3) if steady else 0.0, checksum=f"{jit.checksum:#018x}",
        tier0_checksum=f"{ref.checksum:#018x}" if ref else None, match=match, code=code)


def run_jit(config: JitConfig, log: Callable[[Event], None] | None = None) -> JitReport:
    """Run the selected benchmarks under the tiered JIT; write ``config.report`` if set.

    Raises JitError for bad input. Tier-2 compile failures and checksum
    mismatches do not raise: they are in ``report.failures``."""
    if log is None:
        log = (lambda event: None) if config.quiet else live_log()
    rt = JitRuntime(config, need=REGISTRY_SYMBOLS, log=log)
    try:
        report = _run(rt, config)
    finally:
        rt.close()
    if config.report:
        write_text(str(config.report), report.to_json())
    return report


def _run(rt: JitRuntime, config: JitConfig) -> JitReport:
    benches = select(registry(rt), config.benchmarks, str(config.module))
    _label(rt, benches)
    plan = [(b, config.size or b.size, config.iterations or b.iterations) for b in benches]
    check_arenas(rt, plan)
    runs: list[BenchRun] = []
    codes: list[str] = []
    optimize = config.profile and config.optimize
    if optimize:
        rt.optimizer.start()
    for bench, size, iterations in plan:
        rt.optimizer.begin_phase(bench.name)

        def admit(arena: Arena, bench: Benchmark = bench, size: int = size) -> None:
            codes.append(admit_tuned(rt, bench, arena, size, config.seed))

        runs.append(run_benchmark(bench, size, iterations, config.seed, admit if optimize else None))
        if not optimize:
            codes.append("generic: tier 0 only")
    tracked = rt.optimizer.finish()
    final = rt.executor.read_counters(len(tracked))
    refs: list[BenchRun | None] = [None] * len(plan)
    if config.verify:
        saved = rt.use_tier0()
        refs = [run_benchmark(b, size, iterations, config.seed) for b, size, iterations in plan]
        rt.restore(saved)
    report = JitReport(
        module=str(config.module),
        cpu={"tier0": "x86-64", "tier2": rt.cpu.name, "features": rt.cpu.features, "source": rt.cpu.source},
        config={k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()},
        functions=[FunctionRow.of(t, c, rt.clock) for t, c in zip(tracked, final, strict=True) if c.calls],
        events=[*rt.machine.notes, *(e for t in tracked for e in t.events)],
    )
    report.events.sort(key=lambda e: e.ms)
    for (bench, size, iterations), jit, ref, code in zip(plan, runs, refs, codes, strict=True):
        fused = any(t.code and t.code.fused_fma for t in tracked if t.phase == bench.name)
        report.benchmarks.append(_bench_row(bench, size, iterations, jit, ref, fused, code))
    return report
