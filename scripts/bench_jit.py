"""Measure the tiered JIT against native code, benchmark by benchmark.

    .venv/bin/python scripts/bench_jit.py [--sizes goal|manifest] [--size NAME=N] [--bench NAME]
                                          [--seconds S] [--runner PATH] [--out FILE]

For each benchmark, at the sizes the performance goals of the benchmarks
are stated at (``--sizes goal``, the manifest's ``bench.extra``) or at the
sizes the manifest runs (``--sizes manifest``, what ``doit jit`` runs),
``--size NAME=N`` overriding either. Native, JIT and JIT without
specialisation take turns three times; each steady figure is the median
of the three runs' medians, each best figure the fastest of all:

- native: the native runner (``doit native_x86_64``), i.e. the same source
  built with clang -O3, tuned variant ``-march=<profile cpu>`` and generic
  variant ``-march=x86-64``: median and fastest single run();
- JIT: ``run_jit`` on the build's JIT module, ``build/fluid_module.bc``,
  which the script has fluidbuild bring up to date (``doit fluid_module``:
  generic variant for tier 0, tuned variant with the CPU profile's flags
  for tier 2, the flags of both in manifest.yaml) and runs at the sizes
  above; steady state = median run() of the last third of the calls, with
  and without value specialisation; tier 0 = the verification rerun; code =
  what tier 2 compiled the benchmark from.
  Both time each run() alone in the same C loop (the profiler runtime's
  fluid_prof_time_runs). JIT/nat compares the medians, JIT/nat
  best the fastest runs;
- tier-up latency: from the hot decision to the first call of the new code,
  and the compile time, of the benchmark's hottest tier-2 function, cold
  (empty object cache, the first run) and warm (the second run, from the
  first run's cache);
- profiling overhead: tier 0 with profiling against tier 0 without it.

Prints a table and writes everything measured as JSON (``--out``).

The module's generic flags in manifest.yaml (``module_ir``: O3, no
vectorisation) are what tier 2 does best from, as measured here:
vectorising is left to tier 2, which knows the CPU (clang's SSE2 loops are
never revisited by the tier-2 vectoriser), while clang's O3 inlining and
unrolling are kept (tier 2 cannot redo what -fno-unroll-loops forbids, and
O3 over O2 output misses part of it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from fluidbench import native
from fluidbuild.manifest import load as load_manifest
from fluidbuild.model import Manifest
from fluidjit import JitConfig, JitReport, TargetCpu, run_jit
from fluidjit.report import FunctionRow
from fluidjit.runtime import JitRuntime
from fluidjit.workload import REGISTRY_SYMBOLS, registry, run_benchmark

ROOT = Path(__file__).resolve().parent.parent
MODULE_TARGET = "fluid_module"  # manifest.yaml's JIT module: <build_dir>/fluid_module.bc
NAMES = ("matrix_mul", "fft_1d", "sha256_stream", "regex_dfa", "gemm_tile", "physics_step")
MIN_ITERATIONS, MAX_ITERATIONS = 40, 1_000_000
OVERHEAD_RUNS = 9
REPEATS = 3


def sizes(manifest: Manifest, which: str) -> dict[str, int]:
    """Benchmark sizes: the largest ``bench.extra`` size of each benchmark (``goal``) or the
    size of the manifest's ``benchmarks`` entry (``manifest``)."""
    if which == "manifest":
        return {b["name"]: b["size"] for b in manifest.sections["benchmarks"]}
    out: dict[str, int] = {}
    for e in manifest.sections["bench"]["extra"]:
        out[e["name"]] = max(out.get(e["name"], 0), e["size"])
    return out


def build_module(build_dir: Path) -> Path:
    """Bring the build's JIT module up to date with fluidbuild; its bitcode."""
    done = subprocess.run([sys.executable, "-m", "doit", MODULE_TARGET], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench_jit: `doit {MODULE_TARGET}` failed:\n{done.stdout}{done.stderr}")
    return build_dir / f"{MODULE_TARGET}.bc"


def native_ms(runner: Path, name: str, variant: str, size: int) -> tuple[float, float, str]:
    """Median and fastest run() in milliseconds, checksum."""
    result = native.timed(runner, name, variant, size, 0.5)
    return result["median_ns"] / 1e6, result["min_ns"] / 1e6, result["checksum"]


def jit_run(module: Path, name: str, size: int, iterations: int, **options: object) -> JitReport:
    return run_jit(JitConfig(module, benchmarks=(name,), size=size, iterations=iterations, quiet=True,
                             **options))


def tier0_ms(module: Path, name: str, size: int, profile: bool) -> float:
    """Median run() at tier 0, with or without profiling, nothing else running."""
    rt = JitRuntime(JitConfig(module, profile=profile, optimize=False), need=REGISTRY_SYMBOLS)
    try:
        bench = next(b for b in registry(rt) if b.name == name)
        return statistics.median(run_benchmark(bench, size, OVERHEAD_RUNS, 1).run_ns) / 1e6
    finally:
        rt.close()


def hottest(report: JitReport) -> FunctionRow | None:
    """The tier-2 function that took the most tier-0 cycles."""
    tiered = [f for f in report.functions if f.compile_ms is not None]
    return max(tiered, key=lambda f: f.calls * (f.tier0_cycles_per_call or 0), default=None)


def measure(module: Path, runner: Path, name: str, size: int, seconds: float,
            cache: Path) -> dict[str, object]:
    # Native, JIT and JIT without specialisation take turns, REPEATS times, and each
    # figure is the median of its REPEATS medians: runs on a shared 2-core machine drift
    # either way (a busy second core can even speed one up), and alternating spreads
    # the drift over all three alike.
    natives, specs, generals = [], [], []
    for i in range(REPEATS):
        natives.append(native_ms(runner, name, "tuned", size))
        if i == 0:
            iterations = max(MIN_ITERATIONS, min(MAX_ITERATIONS, int(seconds * 1e3 / natives[0][0])))
        # The first run starts with an empty object cache (and checks results against
        # tier 0), the others find its objects.
        specs.append(jit_run(module, name, size, iterations, cache_dir=cache / name, verify=i == 0))
        generals.append(jit_run(module, name, size, iterations, specialize=False, verify=False))
    tuned = statistics.median(n[0] for n in natives)
    tuned_best = min(n[1] for n in natives)
    tuned_sum = natives[0][2]
    generic = statistics.median(native_ms(runner, name, "generic", size)[0] for _ in range(REPEATS))
    # Tier 0 with and without profiling, alternated, best of REPEATS: nothing else runs
    # in these processes, so other work can only slow them down.
    pairs = [(tier0_ms(module, name, size, False), tier0_ms(module, name, size, True))
             for _ in range(REPEATS)]
    plain, profiled = min(p for p, _ in pairs), min(q for _, q in pairs)
    spec, warm = specs[0], specs[1]
    bench = spec.benchmarks[0]
    steady = statistics.median(r.benchmarks[0].steady_ms for r in specs)
    best = min(r.benchmarks[0].best_ms for r in specs)
    general = statistics.median(r.benchmarks[0].steady_ms for r in generals)
    first, again = hottest(spec), hottest(warm)
    return {
        "name": name, "size": size, "iterations": iterations,
        "native_tuned_ms": tuned, "native_tuned_best_ms": tuned_best, "native_generic_ms": generic,
        "jit_ms": steady, "jit_general_ms": general,
        "tier0_ms": bench.tier0_ms, "tier0_plain_ms": plain, "tier0_profiled_ms": profiled,
        "jit_best_ms": best,
        "vs_native_tuned": tuned / steady, "vs_native_generic": generic / steady,
        "best_vs_native_tuned": tuned_best / best,
        "specialization_gain": general / steady,
        "tier2_vs_tier0": bench.tier0_ms / steady,
        "profiling_overhead": profiled / plain - 1.0,
        "code": bench.code,
        "hottest": first.label if first else None,
        "hottest_code": first.code if first else None,
        "compile_ms": first.compile_ms if first else None,
        "latency_ms": first.latency_ms if first else None,
        "warm_compile_ms": again.compile_ms if again else None,
        "warm_latency_ms": again.latency_ms if again else None,
        "checksum_jit": bench.checksum, "checksum_native": tuned_sum, "match_tiers": bench.match,
        "functions": [{"label": f.label, "state": f.state, "code": f.code, "compile_ms": f.compile_ms,
                       "latency_ms": f.latency_ms, "speedup": f.speedup, "specialization": f.specialization}
                      for f in spec.functions if f.compile_ms is not None],
    }


def table(rows: list[dict[str, object]]) -> str:
    head = (f"{'benchmark':<14} {'native':>8} {'generic':>8} {'JIT':>8} {'no-spec':>8} {'tier0':>8} "
            f"{'JIT/nat':>7} {'best':>6} {'JIT/gen':>7} {'spec':>6} {'t2/t0':>6} {'prof':>6} {'compile':>8} "
            f"{'latency':>8} {'warm':>6}  code, checks")
    lines = [head, "(median microseconds per run(); ratios are speed ratios, >1 means the JIT is "
                   "faster; best: fastest runs; compile and latency of the hottest tier-2 function, "
                   "cold; warm: its latency from the cache)"]
    for r in rows:
        same = "native=jit" if r["checksum_native"] == r["checksum_jit"] else "native!=jit"
        lines.append(
            f"{r['name']:<14} {_us(r['native_tuned_ms'])} {_us(r['native_generic_ms'])} "
            f"{_us(r['jit_ms'])} {_us(r['jit_general_ms'])} {_us(r['tier0_ms'])} "
            f"{r['vs_native_tuned']:>6.2f}x {r['best_vs_native_tuned']:>5.2f}x "
            f"{r['vs_native_generic']:>6.2f}x "
            f"{r['specialization_gain']:>5.2f}x {r['tier2_vs_tier0']:>5.2f}x "
            f"{r['profiling_overhead']:>+6.1%} {_ms(r['compile_ms'])} {_ms(r['latency_ms'])} "
            f"{_ms(r['warm_latency_ms'], 6)}  {r['hottest_code'] or '-'}, tiers {r['match_tiers']}, {same}")
    lines += [f"{r['name']}: {r['code']}" for r in rows if r["code"] != "tuned"]
    return "\n".join(lines)


def _us(ms: float) -> str:
    """Milliseconds as microseconds, three significant digits or more, 8 wide."""
    us = ms * 1e3
    return f"{us:>8.{2 if us < 10 else 1 if us < 1000 else 0}f}"


def _ms(x: object, width: int = 8) -> str:
    return f"{x:>{width}.1f}" if isinstance(x, float) else f"{'-':>{width}}"


def main() -> int:
    manifest, _ = load_manifest(str(ROOT / "manifest.yaml"), str(ROOT))
    build_dir = ROOT / manifest.build_dir
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", choices=("goal", "manifest"), default="goal",
                   help="bench.extra's largest sizes (default) or the manifest's benchmark sizes")
    p.add_argument("--size", action="append", default=[], metavar="NAME=N",
                   help="run benchmark NAME at size N instead (repeatable)")
    p.add_argument("--bench", action="append", choices=NAMES, help="default: all six")
    p.add_argument("--seconds", type=float, default=1.0, help="JIT run length at native speed")
    p.add_argument("--runner", type=Path, default=build_dir / "native_x86_64" / "runner",
                   help="native runner (doit native_x86_64)")
    p.add_argument("--out", type=Path, help="write the measurements as JSON")
    a = p.parse_args()
    if not a.runner.exists():
        print(f"bench_jit: no {a.runner}: build it with `doit native_x86_64`", file=sys.stderr)
        return 2
    names = a.bench or list(NAMES)
    size = sizes(manifest, a.sizes)
    for item in a.size:
        name, _, value = item.partition("=")
        if name not in NAMES or not value.isdigit():
            p.error(f"--size {item}: expected NAME=N with NAME one of {', '.join(NAMES)}")
        size[name] = int(value)
    module = build_module(build_dir)
    tuned_flags = json.loads((build_dir / "cpu_profile.json").read_text())["clang_flags"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows.append(measure(module, a.runner, name, size[name], a.seconds, Path(tmp) / "cache"))
            print(table(rows[-1:]).splitlines()[2], flush=True)
    print()
    print(f"tier-2 CPU: {TargetCpu.host().name}; module: {module.relative_to(ROOT)}; "
          f"tuned variant: {' '.join(tuned_flags)}")
    print(table(rows))
    if a.out:
        a.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
