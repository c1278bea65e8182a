"""Fluid OS phase 1: a tiered, self-optimizing JIT for a Fluid module (user space, llvmlite).

Tier 0 runs the whole module with every function behind a swappable slot
and profiled (src/kernel/profile.c); a background optimizer recompiles hot
functions at tier 2 (O3, the target CPU, value specialisation), swaps them
in without stopping the workload, and reverts any that measure slower.

    from fluidbuild.jit import JitConfig, run_jit
    report = run_jit(JitConfig("build/fluid_module.bc", benchmarks=("matrix_mul",)))
"""

from fluidbuild.jit.config import JitConfig, TargetCpu
from fluidbuild.jit.errors import JitError
from fluidbuild.jit.report import JitReport
from fluidbuild.jit.runner import run_jit

__all__ = ["JitConfig", "JitError", "JitReport", "TargetCpu", "run_jit"]
