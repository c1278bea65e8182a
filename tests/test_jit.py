"""The tiered JIT (fluidjit/) on real clang-19 bitcode and real llvmlite code.

Most tests drive the optimizer by hand: ``poll()`` reads the profile once
and ``wait_idle()`` waits for the compiler thread, so thresholds are checked
call by call. The CLI tests run ``python -m fluidjit`` as a user does.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from jitbuild import CLANG, FIXTURES, ROOT, RUNTIME_DIR, build_module
from jitbuild import registry as registry_source

from fluidjit import JitConfig, JitError, TargetCpu, policy, run_jit
from fluidjit.compiler import ObjectCompiler
from fluidjit.inprocess import InProcessExecutor
from fluidjit.runtime import JitRuntime
from fluidjit.session import admit_tuned
from fluidjit.tracked import State
from fluidjit.workload import REGISTRY_SYMBOLS, Arena, registry, run_benchmark

U32, U64 = ctypes.c_uint32, ctypes.c_uint64
HEAVY_N = 20_000
NO_SSE_PROFILE = {"mode": "pinned", "llvm_cpu": "x86-64", "llvm_features": "-sse,-sse2"}
HOST_HAS_FMA = "+fma" in TargetCpu.host().features
HOST_HAS_AVX2 = "+avx2" in TargetCpu.host().features
FX_PATH_GENERIC, FX_PATH_AVX2 = 1, 2  # variants.c FX_PATH


@pytest.fixture(scope="session")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("jit")
    reg = registry_source(out, [("fx_words", 16384, 300), ("fx_axpy", 16384, 100)])
    (out / "variants").mkdir()
    variants_reg = registry_source(out / "variants", [("fx_path", 16384, 30), ("fx_layout", 16384, 30)])
    return {
        "funcs": build_module([FIXTURES / "funcs.c"], out / "funcs.bc"),
        "benches": build_module([FIXTURES / "benches.c", reg], out / "benches.bc"),
        "variants": build_module([FIXTURES / "variants.c", variants_reg], out / "variants.bc",
                                 tuned=[FIXTURES / "variants.c"]),
        "missing": build_module([FIXTURES / "missing.c"], out / "missing.bc"),
        "no_profiler": build_module([FIXTURES / "funcs.c"], out / "no_profiler.bc", runtime=False),
        "i386": build_module([FIXTURES / "funcs.c"], out / "i386.bc",
                             target="--target=i386-unknown-none-elf", runtime=False),
        "garbage": _write(out / "garbage.bc", b"BC\xc0\xde not really bitcode"),
        "no_sse": _write(out / "no_sse.json", json.dumps(NO_SSE_PROFILE).encode()),
        "dir": out,
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@contextmanager
def jit(module: Path, need: tuple[str, ...] = (), **options: object) -> Iterator[JitRuntime]:
    """A runtime whose optimizer compiles in its worker thread but never polls by itself."""
    rt = JitRuntime(JitConfig(module, **options), need=need)
    rt.optimizer.start(monitor=False)
    try:
        yield rt
    finally:
        rt.close()


def _step(rt: JitRuntime) -> None:
    """One optimizer decision, and wait for any compilation it started."""
    rt.optimizer.poll()
    rt.optimizer.wait_idle()


def _slot(rt: JitRuntime, name: str) -> int:
    return ctypes.c_uint64.from_address(rt.tracked(name).slot).value


def _kinds(rt: JitRuntime, name: str) -> list[str]:
    return [e.kind for e in rt.tracked(name).events]


def _heavy(n: int) -> int:
    """heavy() of funcs.c in Python."""
    h = 1469598103934665603
    for i in range(n):
        h = ((h ^ i) * 1099511628211) % 2**64
    return h


def _counters(rt: JitRuntime, name: str):
    t = rt.tracked(name)
    return rt.executor.read_counters(t.fn.id + 1)[t.fn.id]


# -- tier-up -------------------------------------------------------------------

def test_tier_up_happens_at_the_call_threshold_and_not_before(modules):
    with jit(modules["funcs"], hot_calls=4, hot_share=0.0, specialize=False) as rt:
        heavy = rt.function("heavy", U64, U32)
        t = rt.tracked("heavy")
        for _ in range(3):
            heavy(HEAVY_N)
        _step(rt)
        assert t.state is State.TIER0
        assert _slot(rt, "heavy") == t.tier0_address
        heavy(HEAVY_N)
        _step(rt)
        assert t.state is State.MEASURING
        assert _kinds(rt, "heavy") == ["hot", "swapped"]
        assert _slot(rt, "heavy") == t.code.address != t.tier0_address


def test_share_threshold_keeps_a_cheap_function_at_tier0(modules):
    with jit(modules["funcs"], hot_calls=3, hot_share=0.5) as rt:
        heavy, light = rt.function("heavy", U64, U32), rt.function("light", U64, U32)
        for _ in range(5):
            heavy(HEAVY_N)
            light(7)
        _step(rt)
        assert _counters(rt, "light").calls == 5
        assert rt.tracked("light").state is State.TIER0
        assert rt.tracked("heavy").state is State.MEASURING
        assert rt.tracked("heavy").hot_share >= 0.5


def _drive(rt: JitRuntime, name: str, call: Callable[[], object], done: Callable[[object], bool],
           seconds: float = 20.0):
    """Call ``call`` and take optimizer steps until ``done(tracked)`` holds (or time runs out)."""
    t = rt.tracked(name)
    deadline = time.monotonic() + seconds
    while not done(t) and time.monotonic() < deadline:
        call()
        _step(rt)
    return t


def test_swapped_code_serves_later_calls_from_python_and_from_jit_code(modules):
    with jit(modules["funcs"], hot_calls=3, hot_share=0.0, specialize=False) as rt:
        heavy, twice = rt.function("heavy", U64, U32), rt.function("twice", U64, U32)
        expect = _heavy(HEAVY_N), _heavy(HEAVY_N + 1)
        for _ in range(3):
            assert heavy(HEAVY_N) == expect[0]
        _step(rt)
        t = rt.tracked("heavy")
        assert t.state is State.MEASURING and t.spec is None
        calls = _counters(rt, "heavy").calls
        # twice() calls heavy() through the slot, from JIT code.
        assert twice(HEAVY_N) == expect[0] ^ expect[1]
        assert heavy(HEAVY_N) == expect[0]
        assert _counters(rt, "heavy").calls == calls + 3
        assert _counters(rt, "heavy").first_tsc >= t.swap_tsc  # a call entered after the swap
        _step(rt)
        assert t.latency_ms is not None and t.latency_ms >= 0


def test_time_the_workload_was_kept_off_the_cpu_is_not_its_cost(modules):
    """Calls count the share of their cycles the workload's thread had the CPU for since the
    call before them ended, and nothing if that was under half of it: a descheduled call is
    not a slower one."""
    with jit(modules["funcs"], hot_calls=10**6, specialize=False) as rt:  # never hot
        heavy, t = rt.function("heavy", U64, U32), rt.tracked("heavy")
        heavy(HEAVY_N)
        rt.optimizer.poll()
        heavy(HEAVY_N)
        time.sleep(0.05)  # the workload's thread off the CPU for most of the time since
        rt.optimizer.poll()
        assert t.tier0 == policy.NO_CALLS
        heavy(HEAVY_N)
        rt.machine.poll(clocks=(0, 0))
        before = _counters(rt, "heavy")
        heavy(HEAVY_N)
        rt.machine.poll(clocks=(500, 1000))  # it ran half the time since the last completion
        spent = _counters(rt, "heavy").cycles - before.cycles
        assert t.tier0 == policy.Window(1, round(spent * 0.5))
        heavy(HEAVY_N)
        rt.machine.poll(clocks=(990, 2000))
        assert t.tier0 == policy.Window(1, round(spent * 0.5))


WEIGHTED_N = 32768
WEIGHTED_DATA = (U32 * WEIGHTED_N)(*range(1, WEIGHTED_N + 1))


def _weighted_sum(n: int) -> int:
    return sum(WEIGHTED_DATA[i] * (i + 1) for i in range(n)) % 2**64


WEIGHTED_SUM = _weighted_sum(WEIGHTED_N)


def _specialised_weighted(rt: JitRuntime):
    """weighted() at tier 2, then its clone for n = WEIGHTED_N swapped in."""
    weighted = rt.function("weighted", U64, ctypes.c_void_p, U32)

    def call() -> None:
        for _ in range(20):
            assert weighted(WEIGHTED_DATA, WEIGHTED_N) == WEIGHTED_SUM

    t = _drive(rt, "weighted", call, lambda t: t.spec is not None)
    assert t.spec.values == ((1, WEIGHTED_N),) and t.general_code is not None
    return weighted, t


def test_a_kept_general_version_gets_a_clone_for_a_constant_argument(modules):
    with jit(modules["funcs"], hot_calls=3, hot_share=0.0) as rt:
        _, t = _specialised_weighted(rt)
        kinds = _kinds(rt, "weighted")
        assert kinds[:3] == ["hot", "swapped", "kept"]
        assert kinds[3:5] == ["specialise", "swapped"]
        assert _slot(rt, "weighted") == t.code.address != t.general_code.address


def test_specialization_guard_falls_back_for_another_value(modules):
    with jit(modules["funcs"], hot_calls=3, hot_share=0.0) as rt:
        weighted, _ = _specialised_weighted(rt)
        misses = _counters(rt, "weighted").guard_misses
        assert weighted(WEIGHTED_DATA, 100) == _weighted_sum(100)  # guard miss: general code
        assert weighted(WEIGHTED_DATA, WEIGHTED_N) == WEIGHTED_SUM  # the clone again
        assert _counters(rt, "weighted").guard_misses == misses + 1


def test_a_guard_that_keeps_missing_brings_the_general_version_back(modules):
    with jit(modules["funcs"], hot_calls=3, hot_share=0.0) as rt:
        weighted, t = _specialised_weighted(rt)
        sizes = (10, 20, 30, 40)
        assert [weighted(WEIGHTED_DATA, n) for n in sizes] == [_weighted_sum(n) for n in sizes]
        _step(rt)
        assert _kinds(rt, "weighted")[-1] == "despecialise"
        assert t.spec is None and t.state is State.TIER2 and t.code is t.general_code
        assert _slot(rt, "weighted") == t.general_code.address
        assert t.spec_result == "guard missed"
        assert [weighted(WEIGHTED_DATA, n) for n in sizes] == [_weighted_sum(n) for n in sizes]


def test_a_slower_clone_gives_way_to_the_general_version(modules):
    with jit(modules["funcs"], hot_calls=3, hot_share=0.0) as rt:
        make_tier2 = rt.machine._make_tier2

        def slow_clone(fn, spec, tuned):
            code = make_tier2(fn, spec, tuned)
            # The "clone" is tier 0's code, unvectorised: slower than the general version.
            return replace(code, address=rt.tracked(fn.name).tier0_address) if spec else code

        rt.machine._make_tier2 = slow_clone
        weighted, t = _specialised_weighted(rt)
        _drive(rt, "weighted", lambda: [weighted(WEIGHTED_DATA, WEIGHTED_N) for _ in range(20)],
               lambda t: t.spec is None)
        assert _kinds(rt, "weighted")[-1] == "unspecialise"
        assert t.state is State.TIER2 and _slot(rt, "weighted") == t.general_code.address
        assert t.spec_result.startswith("dropped, ")


def test_a_slower_tier2_version_is_reverted(modules):
    # Tier 0 gets the best code generator, tier 2 the unoptimised one: on the
    # (SSE2-vectorised) loop of weighted() the new version measures ~1.6x slower.
    # Thirty tier-0 calls and forty tier-2 calls keep one preempted call from
    # deciding the verdict.
    n = 20_000  # cache-resident: code quality, not memory bandwidth, sets the time
    data = (U32 * n)(*range(n))
    with jit(modules["funcs"], hot_calls=30, hot_share=0.0, specialize=False, tier0_opt=3,
             tier2_opt=0, verify_calls=40) as rt:
        weighted = rt.function("weighted", U64, ctypes.c_void_p, U32)
        t = rt.tracked("weighted")
        expect = weighted(data, n)
        deadline = time.monotonic() + 20
        while t.state not in (State.TIER2, State.REVERTED) and time.monotonic() < deadline:
            assert weighted(data, n) == expect
            _step(rt)
        assert t.state is State.REVERTED
        assert _kinds(rt, "weighted")[-1] == "reverted"
        assert t.tier2.per_call > t.tier0.per_call
        assert _slot(rt, "weighted") == t.tier0_address
        assert weighted(data, n) == expect


def test_profiler_counts_calls_and_self_time(modules):
    with jit(modules["funcs"], optimize=False) as rt:
        twice = rt.function("twice", U64, U32)
        for _ in range(4):
            twice(HEAVY_N)
        outer, inner = _counters(rt, "twice"), _counters(rt, "heavy")
        assert (outer.calls, inner.calls) == (4, 8)
        assert outer.self_cycles < outer.cycles
        assert inner.cycles <= outer.cycles
        assert inner.args[0][0] == 8 and inner.args[0][2] == 7  # seen, changes: n, n+1, n, ...


def test_unprofiled_tier0_calls_through_plain_tail_calling_thunks(modules):
    data = (U32 * 8)(*range(8))
    with jit(modules["funcs"], profile=False) as rt:
        assert rt.function("heavy", U64, U32)(1000) == _heavy(1000)
        weighted = rt.function("weighted", U64, ctypes.c_void_p, U32)
        assert weighted(data, 8) == sum(i * (i + 1) for i in range(8))
        assert "fluid_prof_enter" not in rt.tier0.text.split("define i64 @heavy(", 1)[1].split("}")[0]


# -- one compiler, any executor ------------------------------------------------

def test_the_compiler_returns_relocatable_objects_for_any_executor():
    compiler = ObjectCompiler()
    try:
        obj = compiler.compile("define i32 @inc(i32 %x) {\n  %y = add i32 %x, 1\n  ret i32 %y\n}\n",
                               "x86_64-unknown-linux-gnu", TargetCpu.generic(), codegen=1, passes=None)
    finally:
        compiler.close()
    assert obj.data[:4] == b"\x7fELF" and obj.data[16] == 1  # ET_REL: nothing placed, nothing run
    assert not obj.cached


class RecordingExecutor(InProcessExecutor):
    """This process, noting what the JIT installs and which slots it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple]] = []

    def link(self, *args):
        self.calls.append(("link", args))
        return super().link(*args)

    def write_slot(self, *args):
        self.calls.append(("write_slot", args))
        super().write_slot(*args)


def test_the_optimizer_installs_and_swaps_code_only_through_its_executor(modules):
    executor = RecordingExecutor()
    config = JitConfig(modules["funcs"], hot_calls=2, hot_share=0.0, specialize=False)
    rt = JitRuntime(config, executor=executor)
    rt.optimizer.start(monitor=False)
    try:
        [(kind, (library, _, _, against))] = executor.calls  # tier 0
        assert (kind, library, against) == ("link", "fluid.t0", None)
        executor.calls.clear()
        heavy = rt.function("heavy", U64, U32)
        for _ in range(2):
            heavy(10)
        _step(rt)
        t = rt.tracked("heavy")
        assert t.state is State.MEASURING
        assert [kind for kind, _ in executor.calls] == ["link", "write_slot"]
        [(_, (library, obj, exports, against)), (_, (slot, address))] = executor.calls
        assert library == t.code.library and against == "fluid.t0" and obj[:4] == b"\x7fELF"
        assert [e.split(".fluid.t2.")[0] for e in exports] == ["heavy"]
        assert (slot, address) == (t.slot, t.code.address)
        assert heavy(10) == _heavy(10)
    finally:
        rt.close()


# -- results across tiers -------------------------------------------------------

def _bench_tiers(modules, name: str, **options: object) -> tuple[int, int, State]:
    """Checksum with run() at tier 0, then with run() at tier 2."""
    with jit(modules["benches"], need=REGISTRY_SYMBOLS, hot_calls=2, hot_share=0.0, **options) as rt:
        bench = next(b for b in registry(rt) if b.name == name)
        tier0 = run_benchmark(bench, 2048, 3, seed=1)
        _step(rt)
        run = next(t for t in rt.machine.tracked if rt.addresses[t.fn.name] == bench.desc.run)
        tier2 = run_benchmark(bench, 2048, 3, seed=1)
        return tier0.checksum, tier2.checksum, run.state


def test_the_workload_times_each_run_in_the_modules_c_loop(modules):
    """run() calls go through the profiled thunk one by one, each timed on its own."""
    with jit(modules["benches"], need=REGISTRY_SYMBOLS, hot_calls=1000, hot_share=0.0) as rt:
        bench = next(b for b in registry(rt) if b.name == "fx_words")
        run = next(t for t in rt.machine.tracked if rt.addresses[t.fn.name] == bench.desc.run)
        start = time.perf_counter_ns()
        result = run_benchmark(bench, 2048, 7, seed=1)
        wall = time.perf_counter_ns() - start
        assert len(result.run_ns) == 7 and all(ns > 0 for ns in result.run_ns)
        assert sum(result.run_ns) < wall
        assert _counters(rt, run.fn.name).calls == 7


def test_integer_benchmark_checksum_is_equal_across_tiers(modules):
    tier0, tier2, state = _bench_tiers(modules, "fx_words")
    assert state is State.MEASURING
    assert tier0 == tier2


def test_floating_point_results_equal_across_tiers_without_fma_contraction(modules):
    tier0, tier2, state = _bench_tiers(modules, "fx_axpy", fp_contract=False)
    assert state is State.MEASURING
    assert tier0 == tier2


@pytest.mark.skipif(not HOST_HAS_FMA, reason="the host CPU has no FMA")
def test_fma_contraction_changes_floating_point_rounding(modules):
    tier0, tier2, _ = _bench_tiers(modules, "fx_axpy")
    assert tier0 != tier2


# -- tuned code at tier 2 ----------------------------------------------------------

def _tuned_workload(rt: JitRuntime, name: str, n: int = 16384) -> tuple[Arena, str, object]:
    """Set ``name`` up at tier 0, admit its tuned variant if its arena allows, run it twice."""
    bench = next(b for b in registry(rt) if b.name == name)
    seen: dict[str, object] = {}

    def admit(arena: Arena) -> None:
        seen["arena"], seen["code"] = arena, admit_tuned(rt, bench, arena, n, 1)

    run_benchmark(bench, n, 2, 1, admit)
    return seen["arena"], seen["code"], bench


def test_tier0_leaves_the_tuned_half_out(modules):
    with jit(modules["variants"], need=REGISTRY_SYMBOLS) as rt:
        assert set(rt.module.variants.units) == {"fx_path", "fx_layout"}
        assert "bench_fx_path_tuned" not in rt.tier0.text
        assert all(not t.fn.name.startswith("bench_") for t in rt.machine.tracked)
        assert "bench_fx_path_tuned" not in rt.addresses


@pytest.mark.skipif(not HOST_HAS_AVX2, reason="the host CPU has no AVX2")
def test_a_hot_callee_sends_its_caller_to_tier2_as_tuned_code(modules):
    with jit(modules["variants"], need=REGISTRY_SYMBOLS, hot_calls=2, hot_share=0.5) as rt:
        arena, code, bench = _tuned_workload(rt, "fx_path")
        assert code == "tuned"
        assert ctypes.c_uint32.from_address(arena.address).value == FX_PATH_GENERIC
        _step(rt)
        rounds, run = rt.tracked("fx_path_rounds"), rt.tracked("fx_path_run")
        assert rounds.state is State.COVERED and rounds.unit is run
        assert run.state is State.MEASURING and run.code.variant == "tuned"
        ctypes.CFUNCTYPE(None, ctypes.c_void_p, U32)(bench.desc.run)(arena.address, 16384)
        # The new code of run() is the one compiled with __AVX2__ defined.
        assert ctypes.c_uint32.from_address(arena.address).value == FX_PATH_AVX2


def test_tuned_tier2_code_gives_the_tier0_checksum(modules):
    report = run_jit(JitConfig(modules["variants"], benchmarks=("fx_path",), hot_calls=3, hot_share=0.2,
                               quiet=True))
    [bench] = report.benchmarks
    assert bench.code == "tuned" and bench.match == "exact"
    run = next(f for f in report.functions if f.label == "fx_path.run")
    assert run.code == "tuned" and run.state in ("measuring", "tier2", "reverted")
    assert {e.kind for e in report.events} >= {"tuned", "hot", "swapped"}


def test_a_tuned_variant_that_lays_its_arena_out_otherwise_stays_generic(modules):
    with jit(modules["variants"], need=REGISTRY_SYMBOLS, hot_calls=2, hot_share=0.0) as rt:
        _, code, _ = _tuned_workload(rt, "fx_layout")
        if HOST_HAS_AVX2:  # the tuned table holds i * 2, the generic one i
            assert code.startswith("generic: its tuned setup() leaves other bytes in the arena")
        _step(rt)
        run = rt.tracked("fx_layout_run")
        assert run.tuned is None and run.code.variant == "generic"


def test_the_object_cache_serves_a_later_run(modules, tmp_path):
    def run() -> dict[str, object]:
        report = run_jit(JitConfig(modules["benches"], benchmarks=("fx_words",), hot_calls=3,
                                   hot_share=0.2, cache_dir=tmp_path, specialize=False, quiet=True))
        return {f.label: f for f in report.functions if f.compile_ms is not None}

    first, second = run(), run()
    both = set(first) & set(second)
    assert "fx_words.run" in both and not any(f.cached for f in first.values())
    assert all(second[label].cached for label in both)
    assert len(list(tmp_path.glob("*.entry"))) >= len(first)


# -- failure paths -------------------------------------------------------------

@pytest.mark.parametrize(("key", "message"), [
    ("garbage", "not LLVM bitcode"),
    ("i386", "foreign bitcode: target triple 'i386-unknown-none-elf'"),
    ("missing", "undefined symbol 'not_here'"),
    ("no_profiler", "missing symbol 'fluid_prof_enter'"),
])
def test_bad_modules_are_named_errors(modules, key, message):
    with pytest.raises(JitError, match=message):
        JitRuntime(JitConfig(modules[key]))


def test_unreadable_module_and_cpu_profile(modules):
    with pytest.raises(JitError, match="cannot read"):
        JitRuntime(JitConfig(modules["dir"] / "absent.bc"))
    with pytest.raises(JitError, match="no 64-bit mode"):
        JitConfig(modules["funcs"], cpu_profile=_write(modules["dir"] / "p.json",
                                                       b'{"llvm_cpu": "i686"}')).tier2_cpu()


def test_a_function_that_fails_to_compile_keeps_its_old_tier(modules):
    values = (ctypes.c_double * 4)(1.0, 2.0, 3.0, 6.0)
    with jit(modules["funcs"], hot_calls=2, hot_share=0.0, cpu_profile=modules["no_sse"]) as rt:
        mean = rt.function("mean", ctypes.c_double, ctypes.c_void_p, U32)
        for _ in range(2):
            assert mean(values, 4) == 3.0
        _step(rt)
        t = rt.tracked("mean")
        assert t.state is State.FAILED
        assert "SSE" in t.error and "\n" not in t.error
        assert _slot(rt, "mean") == t.tier0_address
        assert mean(values, 4) == 3.0
        # The compiler process died and comes back for the next function.
        heavy = rt.function("heavy", U64, U32)
        for _ in range(2):
            heavy(10)
        _step(rt)
        assert rt.tracked("heavy").state is State.MEASURING


# -- command line ----------------------------------------------------------------

def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fluidjit", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_runs_benchmarks_and_writes_the_report(modules):
    report = modules["dir"] / "report.json"
    done = _cli(modules["benches"], "--report", report, "--hot-calls", "3", "--hot-share", "0.2",
                "--no-fp-contract", "--no-cache", "--iterations", "1000")
    assert done.returncode == 0, done.stderr
    assert "hot " in done.stdout and "swapped" in done.stdout
    data = json.loads(report.read_text())
    assert [(b["name"], b["match"]) for b in data["benchmarks"]] == [("fx_words", "exact"),
                                                                      ("fx_axpy", "exact")]
    run = next(f for f in data["functions"] if f["label"] == "fx_words.run")
    # Its serial loop gains little at tier 2: kept or reverted, it was measured on both tiers;
    # once kept, a clone may still be measuring when the run ends.
    assert run["state"] in ("tier2", "reverted", "measuring") and run["compile_ms"] > 0
    assert run["state"] != "measuring" or run["specialization"] == "size=16384 (measuring)"
    assert run["specialization"] is None or run["specialization"].startswith("size=16384 (")
    assert run["tier0_cycles_per_call"] > 0 and run["tier2_cycles_per_call"] > 0
    assert {e["kind"] for e in data["events"]} >= {"hot", "swapped"}


@pytest.mark.parametrize(("args", "message"), [
    (("{garbage}",), "not LLVM bitcode"),
    (("{i386}",), "foreign bitcode"),
    (("{missing}",), "undefined symbol 'not_here'"),
    (("{benches}", "--bench", "nope"), "no benchmark 'nope' in the registry (has: fx_words, fx_axpy)"),
    (("{benches}", "--hot-share", "2"), "hot_share must be within 0..1"),
])
def test_cli_bad_input_is_one_line_and_exit_2(modules, args, message):
    done = _cli(*(a.format(**modules) for a in args))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_reports_a_compile_failure_and_finishes_at_tier0(modules):
    report = modules["dir"] / "failed.json"
    done = _cli(modules["benches"], "--bench", "fx_axpy", "--cpu-profile", modules["no_sse"],
                "--hot-calls", "2", "--hot-share", "0.2", "--report", report)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = done.stderr.splitlines()
    assert errors and all(e.startswith("fluidjit: error: tier-2 compilation of ") for e in errors)
    data = json.loads(report.read_text())
    assert data["benchmarks"][0]["match"] == "exact"
    assert any(f["state"] == "failed" and "SSE" in f["error"] for f in data["functions"])


# -- the profiler runtime builds for both targets ----------------------------------------

@pytest.mark.parametrize("target", ["i386-unknown-none-elf", "x86_64-unknown-linux-gnu"])
def test_profile_c_is_freestanding_on_both_targets(tmp_path, target):
    obj = tmp_path / "profile.o"
    subprocess.run([CLANG, f"--target={target}", "-O2", "-ffreestanding", "-fno-builtin", "-Wall",
                    "-Wextra", "-Werror", "-c", str(RUNTIME_DIR / "profile.c"), "-o", str(obj)], check=True)
    syms = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    assert syms.strip() == ""  # no helper (memset, __udivdi3, ...) needed
