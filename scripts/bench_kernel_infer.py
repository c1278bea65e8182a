"""Text generation in the kernel under QEMU, and what the model's boot modules cost every boot.

Builds the default image (``doit image``: the kernel with the model_260k
checkpoint, its tokenizer and the ``infer`` settings as boot modules) and, in a
copy of the project under ``build/bench_kernel_infer/`` (reused by the next
run), the same image without the modules: the same kernel, byte for byte.
Then, in rounds (one boot of each per round, so a busy host slows them
alike), ``--repeat`` times:

- both images with the default command line (the benchmarks): the guest's
  boot time (TSC, stage 1's first instruction to ``kernel_main``: stage 2
  loads and checks the modules in it) and QEMU's wall time, start to exit
  (the kernel also checks the modules' CRC-32 again before it exits);
- the default image with ``workload=infer`` (``doit run profile=llama``): the
  FLUID-INFER line's tok/s (forward passes per second, prompt included), the
  variant the kernel chose and every candidate's cycles, the selection's time;
- the same with the JIT link (``doit run profile=llama_jit``, always
  ``-cpu max``): the generation with the boot choice, the engine's
  matrix-vector product offered to the link server (docs/kernel-jit.md), the
  same generation again: both tok/s, their ratio, each candidate's verdict,
  speedup and latency (the link server's report).

Every figure is under TCG with ``--cpu`` (default ``max``): emulated, not the
host CPU's speed. Prints markdown tables (medians; tok/s also the best).

    .venv/bin/python scripts/bench_kernel_infer.py [--repeat 5] [--cpu max]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from fluidbench.qemu import BootResult, boot  # noqa: E402
from fluidbuild_plugins.fluidos.qemu import qemu_argv  # noqa: E402

PROJECT_FILES = ("src", "docs", "manifest.yaml", "dodo.py")
WORK = ROOT / "build" / "bench_kernel_infer"
QEMU = "qemu-system-i386"
BOOT_TIMEOUT_S = 120.0
INFER = "workload=infer"
JIT_PROFILE = "llama_jit"


def build(tree: Path) -> Path:
    proc = subprocess.run([sys.executable, "-m", "doit", "image"], cwd=tree, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"doit image failed in {tree}:\n{proc.stdout}\n{proc.stderr}")
    return tree / "build" / "fluid.img"


def without_modules() -> Path:
    """The default image without boot modules, built in WORK."""
    for name in PROJECT_FILES:
        src, dest = ROOT / name, WORK / name
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    path = WORK / "manifest.yaml"
    manifest = yaml.safe_load(path.read_text())
    manifest["image"]["modules"] = []
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return build(WORK)


def booted(image: Path, cpu: str, cmdline: str = "") -> BootResult:
    result = boot(qemu_argv(QEMU, str(image), "floppy", cpu=cpu, cmdline=cmdline), BOOT_TIMEOUT_S)
    if not result.ok:
        raise SystemExit(f"{image} ({cmdline or 'default command line'}) failed: {result.reason()}")
    return result


def jit_run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``doit run profile=llama_jit``: its two FLUID-INFER lines (boot, jit) and the link server's
    report."""
    report = ROOT / "build/jit/kernel-report.json"
    report.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-m", "doit", "run", f"profile={JIT_PROFILE}"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    serial = (ROOT / f"build/serial-{JIT_PROFILE}.log").read_text()
    infer = BootResult(0, serial, 0.0).lines("FLUID-INFER")
    if proc.returncode != 0 or [i["phase"] for i in infer] != ["boot", "jit"] or not report.exists():
        raise SystemExit(f"doit run profile={JIT_PROFILE} failed:\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-2000:]}")
    if infer[0]["tokens"] != infer[1]["tokens"]:
        raise SystemExit(f"profile={JIT_PROFILE}: the generation after the swaps gave other tokens")
    return infer, json.loads(report.read_text())


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cpu", default="max", help="QEMU CPU model (TCG)")
    args = parser.parse_args()
    images = {"with the modules": build(ROOT), "without": without_modules()}
    kernels = {name: (image.parent / "kernel.bin").read_bytes() for name, image in images.items()}
    if kernels["with the modules"] != kernels["without"]:
        raise SystemExit("the two images' kernels differ: the comparison would not be of the modules alone")
    bench: dict[str, list[BootResult]] = {name: [] for name in images}
    infer: list[dict[str, Any]] = []
    walls: list[float] = []
    jit: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []
    for _ in range(args.repeat):
        for name, image in images.items():
            bench[name].append(booted(image, args.cpu))
        result = booted(images["with the modules"], args.cpu, INFER)
        infer.append(result.lines("FLUID-INFER")[0])
        walls.append(result.seconds)
        jit.append(jit_run())

    print(f"Boot cost of the modules: default command line (benchmarks), TCG -cpu {args.cpu} (emulated), "
          f"median of {args.repeat} boots")
    print("| image | guest: stage 1 to kernel_main | QEMU wall, start to exit |")
    print("|---|--:|--:|")
    for name, runs in bench.items():
        guest = median([r.lines("FLUID-BOOT")[0]["boot_us"] / 1000 for r in runs])
        print(f"| {name} | {guest:.1f} ms | {median([r.seconds * 1000 for r in runs]):.0f} ms |")
    sizes = sum(m["bytes"] for m in bench["with the modules"][0].lines("FLUID-BOOT")[0].get("modules", []))
    print(f"(modules: {sizes:,} bytes; kernel: {len(kernels['without']):,} bytes)")

    print()
    line = infer[0]
    print(f"Text generation, {line['model']}: {len(line['prompt_tokens'])} prompt tokens, {line['n']} "
          f"generated, {line['forwards']} forward passes; TCG -cpu {args.cpu} (emulated), "
          f"{args.repeat} boots")
    rates = [i["tok_per_s"] for i in infer]
    chosen = sorted({i["variant"] for i in infer})
    generation = median([i["ns"] / 1e6 for i in infer])
    selection = median([i["select_us"] / 1000 for i in infer])
    print("| variant chosen | tok/s (median) | tok/s (best) | generation (median) | selection (median) "
          "| QEMU wall (median) |")
    print("|---|--:|--:|--:|--:|--:|")
    print(f"| {', '.join(chosen)} | {median(rates):.1f} | {max(rates):.1f} | {generation:.0f} ms | "
          f"{selection:.0f} ms | {median(walls):.2f} s |")
    print()
    names = [c["variant"] for c in line["candidates"]]
    print(f"Candidates: TSC cycles of one timed run of {line['trial_size']} forward pass(es), fastest of the "
          "selection's runs (median over the boots)")
    print("| " + " | ".join(names) + " |")
    print("|" + "--:|" * len(names))
    cycles = {n: median([next(c["cycles"] for c in i["candidates"] if c["variant"] == n) for i in infer])
              for n in names}
    print("| " + " | ".join(f"{cycles[n]:,.0f}" for n in names) + " |")

    print_jit(jit)


def print_jit(jit: list[tuple[list[dict[str, Any]], dict[str, Any]]]) -> None:
    """The llama_jit runs: tok/s before and after the link's swaps, and what the link did."""
    print()
    print(f"Text generation with the JIT link (`doit run profile={JIT_PROFILE}`), emulated (TCG -cpu max), "
          f"{len(jit)} boots; the same tokens both times in every boot")
    boot_rates = [infer[0]["tok_per_s"] for infer, _ in jit]
    after = [infer[1]["tok_per_s"] for infer, _ in jit]
    ratios = [infer[1]["tok_per_s"] / infer[0]["tok_per_s"] for infer, _ in jit]
    variants = ", ".join(sorted({infer[0]["variant"] for infer, _ in jit}))
    print("| variant chosen | tok/s, boot choice (median) | tok/s, after the swaps (median) "
          "| after / boot (median of the boots' ratios) |")
    print("|---|--:|--:|--:|")
    print(f"| {variants} | {median(boot_rates):.1f} | {median(after):.1f} | {median(ratios):.3f} |")
    print()
    print("Candidates (the link server's report; speedup: the kernel's median pair, one forward pass "
          "at a fixed position per call)")
    print("| function | candidate | kept | reverted | speedup (median) | latency, PROFILE to swap (median) |")
    print("|---|---|--:|--:|--:|--:|")
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _, report in jit:
        for r in report["functions"]:
            rows.setdefault((r["benchmark"], r["strategy"] or "-"), []).append(r)
    for (function, strategy), found in rows.items():
        speedups = [r["speedup"] for r in found if r.get("speedup")]
        latencies = [r["latency_ms"] for r in found if r.get("latency_ms") is not None]
        kept = sum(r["verdict"] == "kept" for r in found)
        reverted = sum(r["verdict"] == "reverted" for r in found)
        print(f"| {function} | {strategy} | {kept} | {reverted} | "
              f"{f'{median(speedups):.3f}x' if speedups else '-'} | "
              f"{f'{median(latencies):.0f} ms' if latencies else '-'} |")
    held = [f"{name}: {c['verdict']} {c['speedup']}x" for _, report in jit
            for name, c in report["confirmations"].items()]
    print(f"A kept patch against the boot choice, timed afresh: {'; '.join(held) or 'none kept'}")


if __name__ == "__main__":
    main()
