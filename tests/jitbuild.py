"""Build a Fluid module (one bitcode file) for the JIT, as the build's JIT module targets do.

Each C source is compiled to bitcode with clang-19 and the pieces are linked
in-process by the build's own link step (plugins/compile/llvm_link.py). Sources in
``tuned`` are compiled a second time as the tuned variant (bench.h's
``FLUID_VARIANT_SUFFIX=_tuned``, O3 and ``tuned_flags``, like the native
runner's tuned variant) into the same module: the JIT's tier 2 compiles a
hot generic function from its tuned counterpart. Tests and
scripts/bench_jit.py build their modules only through ``build_module``.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fluidbuild_plugins.fluidos.bench_registry import render as render_registry
from fluidbuild_plugins.compile.llvm_link import link

ROOT = Path(__file__).resolve().parent.parent
KERNEL_DIR = ROOT / "src" / "kernel"
BENCH_DIR = ROOT / "src" / "bench"
FIXTURES = Path(__file__).resolve().parent / "jit_fixtures"
CLANG = "clang-19"
TARGET = "--target=x86_64-unknown-linux-gnu"
COMMON_FLAGS = ("-std=c11", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-emit-llvm", "-c",
                f"-I{KERNEL_DIR}", f"-I{BENCH_DIR}")
MODULE_FLAGS = ("-O2", "-DFLUID_VARIANT_SUFFIX=_generic", "-march=x86-64")
TUNED_VARIANT_FLAGS = ("-O3", "-DFLUID_VARIANT_SUFFIX=_tuned")
# The tuned variant's CPU: this host's, the CPU tier 2 compiles for by default.
HOST_TUNED_FLAGS = ("-march=native",)
# What the JIT's tier 2 does best from for generic code (measured by
# scripts/bench_jit.py): vectorising is left to tier 2, which knows the CPU
# (clang's SSE2 loops are never revisited by the tier-2 vectoriser), while
# clang's O3 inlining and unrolling are kept (tier 2 cannot redo what
# -fno-unroll-loops forbids, and O3 over O2 output misses part of it).
JIT_FRIENDLY_FLAGS = ("-O3", "-fno-vectorize", "-fno-slp-vectorize")
RUNTIME_SOURCES = (KERNEL_DIR / "klib.c", KERNEL_DIR / "profile.c")


def registry(out_dir: Path, entries: Sequence[tuple[str, int, int]]) -> Path:
    """Write a registry C file for (name, size, iterations) entries; size 0: the default."""
    path = out_dir / "bench_registry.c"
    path.write_text(render_registry([{"name": n, "size": s, "iterations": i} for n, s, i in entries],
                                    tuned=False))
    return path


def build_module(sources: Sequence[Path], out: Path, extra_flags: Sequence[str] = (),
                 target: str = TARGET, runtime: bool = True, tuned: Sequence[Path] = (),
                 tuned_flags: Sequence[str] = HOST_TUNED_FLAGS) -> Path:
    """Compile ``sources`` (plus klib.c and profile.c when ``runtime``) and the tuned variant of
    ``tuned``, and link them into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    generic = [CLANG, target, *COMMON_FLAGS, *MODULE_FLAGS, *extra_flags]
    jobs = [(generic, src) for src in [*sources, *(RUNTIME_SOURCES if runtime else ())]]
    jobs += [([CLANG, target, *COMMON_FLAGS, *TUNED_VARIANT_FLAGS, *tuned_flags], src) for src in tuned]
    with tempfile.TemporaryDirectory() as tmp:
        objects = [Path(tmp) / f"{i}.{Path(src).stem}.bc" for i, (_, src) in enumerate(jobs)]
        _compile_all(jobs, objects)
        version = subprocess.run([CLANG, "--version"], capture_output=True, text=True).stdout
        link([str(o) for o in objects], str(out), version.splitlines()[0])
    return out


def _compile_all(jobs: Sequence[tuple[list[str], Path]], objects: Sequence[Path]) -> None:
    def compile_one(job: tuple[tuple[list[str], Path], Path]) -> None:
        (flags, src), obj = job
        done = subprocess.run([*flags, str(src), "-o", str(obj)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{CLANG} {src}: {done.stderr}")

    with ThreadPoolExecutor() as pool:
        list(pool.map(compile_one, zip(jobs, objects, strict=True)))
