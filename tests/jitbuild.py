"""Build the JIT's test modules (one bitcode file each) from the fixtures in tests/jit_fixtures/.

A test module is laid out like the build's JIT module (fluid_module in
manifest.yaml), on small C fixtures instead of the benchmarks: each C
source is compiled to bitcode with clang-19 and the pieces are linked
in-process by the build's own link step (plugins/compile/llvm_link.py).
Sources in ``tuned`` are compiled a second time as the tuned variant
(bench.h's ``FLUID_VARIANT_SUFFIX=_tuned``, O3 and ``-march=native``) into the
same module: the JIT's tier 2 compiles a hot generic function from its
tuned counterpart. The real module is built by fluidbuild only
(``doit fluid_module``); tests write their modules under pytest's tmp_path.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fluidbuild_plugins.compile.llvm_link import link
from fluidbuild_plugins.fluidos.bench_registry import render as render_registry

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DIR = ROOT / "src" / "runtime"  # klib and the profiler runtime, shared with the kernel
BENCH_DIR = ROOT / "src" / "bench"
FIXTURES = Path(__file__).resolve().parent / "jit_fixtures"
CLANG = "clang-19"
TARGET = "--target=x86_64-unknown-linux-gnu"
COMMON_FLAGS = ("-std=c11", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-emit-llvm", "-c",
                f"-I{RUNTIME_DIR}", f"-I{BENCH_DIR}")
MODULE_FLAGS = ("-O2", "-DFLUID_VARIANT_SUFFIX=_generic", "-march=x86-64")
TUNED_VARIANT_FLAGS = ("-O3", "-DFLUID_VARIANT_SUFFIX=_tuned")
# The tuned variant's CPU: this host's, the CPU tier 2 compiles for by default.
HOST_TUNED_FLAGS = ("-march=native",)
RUNTIME_SOURCES = (RUNTIME_DIR / "klib.c", RUNTIME_DIR / "profile.c")


def registry(out_dir: Path, entries: Sequence[tuple[str, int, int]]) -> Path:
    """Write a registry C file for (name, size, iterations) entries; size 0: the default."""
    path = out_dir / "bench_registry.c"
    path.write_text(render_registry([{"name": n, "size": s, "iterations": i} for n, s, i in entries],
                                    tuned=False))
    return path


def build_module(sources: Sequence[Path], out: Path, target: str = TARGET, runtime: bool = True,
                 tuned: Sequence[Path] = ()) -> Path:
    """Compile ``sources`` (plus klib.c and profile.c when ``runtime``) and the tuned variant of
    ``tuned``, and link them into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    generic = [CLANG, target, *COMMON_FLAGS, *MODULE_FLAGS]
    jobs = [(generic, src) for src in [*sources, *(RUNTIME_SOURCES if runtime else ())]]
    jobs += [([CLANG, target, *COMMON_FLAGS, *TUNED_VARIANT_FLAGS, *HOST_TUNED_FLAGS], src) for src in tuned]
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
