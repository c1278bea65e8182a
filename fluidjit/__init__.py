"""Fluid OS phase 1: a tiered, self-optimizing JIT for a Fluid module (user space, llvmlite).

Tier 0 runs the generic half of the module (every benchmark compiled for the
x86-64 baseline) with every function behind a swappable slot and profiled
(src/runtime/profile.c); a background optimizer recompiles hot functions at
tier 2 for the target CPU, swaps them in without stopping the workload, and
reverts any that measure slower; a kept version then gets a clone for the
argument values it always receives, kept only if it measures faster.

Tier 2 compiles a benchmark's descriptor function from the module's tuned
half when it can (variants.py): the same source compiled by clang for the
CPU profile, with the ``#if __AVX512F__``/``__SHA__`` paths no JIT can
recover from generic IR. Before it may, a check on the live workload proves
that the tuned variant lays the arena out as the generic one did
(workload.tuned_arena_mismatch); otherwise tier 2 optimises the generic IR
(O3, vectorised for the CPU). Object files are kept across runs and
checked against digests of their request and bytes before use
(compiler.ObjectCache). Tier 2 never compiles for a feature this host
lacks, whatever the CPU profile asks (config.host_cpu_for).

The workload itself runs in the module: the profiler runtime's
``fluid_prof_time_runs`` calls run() and times each call, as the kernel
times its benchmarks. Python only starts that loop (ctypes releases its
lock for the call), so the optimizer's thread keeps polling and swapping
while it runs and no foreign call is added to a measured run().

    from fluidjit import JitConfig, run_jit
    report = run_jit(JitConfig("build/fluid_module.bc", benchmarks=("matrix_mul",)))

One compiler serves any executor, as in LLVM ORC: the compiler
(compiler.py, with its process compile_server.py) turns IR text into object
files for a CPU and knows nothing of where they run; an executor
(executor.py) links them where the workload runs and lends the optimizer
that place's slots, profiler counters and timed runs: this process
(inprocess.py), or a bare-metal Fluid kernel over its second serial port
(phase 2, docs/kernel-jit.md: linkserver.py speaks the link, linkproto.py
its frames, kernelir.py cuts a hot function out of the kernel's bitcode,
remote.py decodes the guest's CPU and links code into the kernel's arena;
the kernel pushes its profiles and times the code itself).
runtime.py hands the object files from the one to the other. The rest:
module.py (loading and checking the bitcode), instrument.py (tier-0 IR),
tier2ir.py, variants.py and specialize.py (tier-2 IR), profiler.py (the
profiler's table and clock), tracked.py (what is known of each function),
policy.py (the rules), state_machine.py (the decisions), optimizer.py (the
threads that run them), workload.py (the benchmarks), session.py (one run:
``run_jit``), inference.py (the inference engine's module and a model in it:
``run_inference``), report.py, config.py, errors.py.

Results across tiers: integer code gives bit-identical results on every
tier. Floating-point code does too, except where clang kept ``a*b+c`` as
``llvm.fmuladd`` (C's default ``-ffp-contract=on``): tier 0 (generic
x86-64, no FMA) rounds the product and the sum separately, tier 2 on an FMA
CPU rounds once, as native ``clang -march=<cpu>`` code does. Each result
then differs by at most one rounding of each contracted operation; a
checksum of raw float bits shows it, one of results quantised coarser than
that rounding (as the project's benchmarks do) does not. The report marks
such a benchmark ``fma`` instead of ``exact``; ``fp_contract=False``
(``--no-fp-contract``) splits the fused operations at tier 2 and makes
every tier bit-identical again, for generic code. Tuned code may also order
floating-point work its own way (wider vectors, other tiles); the project's
benchmarks make their checksums the same for every variant, and the run
compares each one with tier 0's.
"""

from fluidjit.config import JitConfig, TargetCpu
from fluidjit.errors import JitError
from fluidjit.report import JitReport
from fluidjit.session import run_jit

__all__ = ["JitConfig", "JitError", "JitReport", "TargetCpu", "run_jit"]
