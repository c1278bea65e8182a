"""``python -m fluidjit build/fluid_module.bc [options]``: run the module's benchmarks under the JIT.

Exit status: 0 when every benchmark ran and checked out, 1 when a function
failed to compile at tier 2 or a checksum differs (the run still completes
and the report is written), 2 for bad input (one error line, no traceback).
Bad input is refused before anything runs: ``--report`` naming a directory
or a file in a directory that does not exist or cannot be written,
``--iterations`` outside 1..10^7, ``--size`` beyond the benchmarks' 32-bit
parameter or whose arena would not fit in memory (known once tier 0 is
compiled, before the first run). A CPU profile enabling features this host
lacks is no error: tier 2 compiles for the host's CPU, with a warning.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from fluidjit.config import JitConfig, report_path_problem
from fluidjit.errors import JitError
from fluidjit.session import run_jit

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def parse_args(argv: list[str] | None = None) -> JitConfig:
    p = argparse.ArgumentParser(prog="python -m fluidjit", description=__doc__.splitlines()[0])
    d = argparse.Namespace(**{f.name: f.default for f in fields(JitConfig) if f.name != "module"})
    p.add_argument("module", help="the module's bitcode (build/fluid_module.bc)")
    p.add_argument("--bench", action="append", default=[], metavar="NAME",
                   help="run this registry benchmark (repeatable; default: all)")
    p.add_argument("--report", metavar="FILE", help="write the JSON report here")
    p.add_argument("--cpu-profile", metavar="JSON", help="tier-2 CPU from build/cpu_profile.json "
                   "(default, and instead of a profile with features this host lacks: this host's CPU)")
    p.add_argument("--hot-calls", type=int, default=d.hot_calls, metavar="N",
                   help=f"calls before a function may go to tier 2 (default {d.hot_calls})")
    p.add_argument("--hot-share", type=float, default=d.hot_share, metavar="F",
                   help=f"share of profiled cycles it must also reach (default {d.hot_share})")
    p.add_argument("--verify-calls", type=int, default=d.verify_calls, metavar="N",
                   help=f"tier-2 calls timed before keeping or reverting (default {d.verify_calls})")
    p.add_argument("--iterations", type=int, metavar="N", help="run() calls per benchmark")
    p.add_argument("--size", type=int, metavar="N", help="problem size")
    p.add_argument("--seed", type=int, default=d.seed, metavar="N", help="input seed")
    p.add_argument("--no-specialize", action="store_true", help="no value specialisation")
    p.add_argument("--no-fp-contract", action="store_true",
                   help="never fuse a*b+c into FMA at tier 2 (generic code then gives tier 0's "
                        "results bit for bit)")
    p.add_argument("--no-verify", action="store_true", help="skip the tier-0 checksum rerun")
    p.add_argument("--cache-dir", metavar="DIR", help="keep tier-2 object files here across runs "
                   "(default: jit/cache next to the module)")
    p.add_argument("--no-cache", action="store_true", help="compile every tier-2 version afresh")
    p.add_argument("--quiet", action="store_true", help="no live log")
    a = p.parse_args(argv)
    if a.report is not None and (why := report_path_problem(a.report, parent_must_exist=True)):
        raise JitError(why)
    return JitConfig(
        module=a.module, benchmarks=tuple(a.bench), report=a.report, cpu_profile=a.cpu_profile,
        hot_calls=a.hot_calls, hot_share=a.hot_share, verify_calls=a.verify_calls,
        iterations=a.iterations, size=a.size, seed=a.seed, specialize=not a.no_specialize,
        fp_contract=not a.no_fp_contract, verify=not a.no_verify, quiet=a.quiet,
        cache_dir=None if a.no_cache else a.cache_dir or Path(a.module).parent / "jit" / "cache")


def main(argv: list[str] | None = None) -> int:
    try:
        report = run_jit(parse_args(argv))
    except JitError as exc:
        print(f"fluidjit: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report.table())
    for failure in report.failures:
        print(f"fluidjit: error: {failure}", file=sys.stderr)
    return EXIT_FAILED if report.failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
