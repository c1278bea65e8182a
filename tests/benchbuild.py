"""Build the native benchmark runners (src/bench/native/) with clang-19.

One runner per architecture links both variants of all six benchmarks:

- ``x86_64``: a static x86-64 Linux process; generic ``-march=x86-64``,
  tuned ``-march=<host cpu>``.
- ``i386``: a static 32-bit process built with the kernel's flags
  (i686-unknown-none-elf, freestanding; generic ``-march=i686 -mno-sse
  -mno-mmx``, tuned ``-march=<cpu>``): the fair peer of the in-kernel run.

Benchmarks are compiled at -O3 (as the manifest compiles them for the
kernel), the runner's own files at -O2.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "src" / "bench"
KERNEL_DIR = ROOT / "src" / "kernel"
BENCHMARKS = ("matrix_mul", "fft_1d", "sha256_stream", "regex_dfa", "gemm_tile", "physics_step")
RUNNER_SOURCES = ("start.c", "sys.c", "text.c", "regionio.c", "runner.c", "registry.c")
CLANG = "clang-19"
LLD = "ld.lld-19"

BENCH_OPT = "-O3"
SUPPORT_OPT = "-O2"
COMMON_FLAGS = ("-std=c11", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-pic",
                "-Wall", "-Wextra", "-Werror")
ARCHES = {
    "x86_64": {
        "flags": ("--target=x86_64-unknown-linux-gnu",),
        "generic": ("-march=x86-64",),
        "kernel_sources": ("klib.c",),
        "emulation": "elf_x86_64",
    },
    "i386": {
        "flags": ("--target=i686-unknown-none-elf",),
        "generic": ("-march=i686", "-mno-sse", "-mno-mmx"),
        # klib's 64-bit divisions need the kernel's libgcc-style helpers.
        "kernel_sources": ("klib.c", "divdi3.c"),
        "emulation": "elf_i386",
    },
}


def host_cpu() -> str:
    """The LLVM name of this machine's CPU (the tuned variants' -march)."""
    import llvmlite.binding as llvm

    return llvm.get_host_cpu_name()


def _run_tool(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}\n{done.stderr}")


def build_native_runners(out_dir: Path, cpu: str | None = None) -> dict[str, Path]:
    """Compile and link both runners into ``out_dir``; return {arch: path}."""
    cpu = cpu or host_cpu()
    include = [f"-I{KERNEL_DIR}", f"-I{BENCH_DIR}"]
    jobs: list[list[str]] = []
    objects: dict[str, list[Path]] = {}
    for arch, conf in ARCHES.items():
        obj_dir = out_dir / arch
        obj_dir.mkdir(parents=True, exist_ok=True)
        base = [CLANG, *conf["flags"], *COMMON_FLAGS, *include, "-c"]
        variants = {"generic": list(conf["generic"]), "tuned": [f"-march={cpu}"]}
        objs: list[Path] = []
        for name in BENCHMARKS:
            for variant, march in variants.items():
                obj = obj_dir / f"{name}_{variant}.o"
                suffix = f"-DFLUID_VARIANT_SUFFIX=_{variant}"
                source = str(BENCH_DIR / f"{name}.c")
                jobs.append([*base, BENCH_OPT, *march, suffix, source, "-o", str(obj)])
                objs.append(obj)
        support = [BENCH_DIR / "native" / src for src in RUNNER_SOURCES]
        support += [KERNEL_DIR / src for src in conf["kernel_sources"]]
        for src in support:
            obj = obj_dir / f"support_{src.stem}.o"
            jobs.append([*base, SUPPORT_OPT, *variants["generic"], str(src), "-o", str(obj)])
            objs.append(obj)
        objects[arch] = objs
    with ThreadPoolExecutor() as pool:
        list(pool.map(_run_tool, jobs))
    runners: dict[str, Path] = {}
    for arch, objs in objects.items():
        exe = out_dir / f"runner_{arch}"
        emulation = ARCHES[arch]["emulation"]
        link = [LLD, "-m", emulation, "-static", "-nostdlib", "-e", "_start"]
        _run_tool([*link, *map(str, objs), "-o", str(exe)])
        runners[arch] = exe
    return runners
