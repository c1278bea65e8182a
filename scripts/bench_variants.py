"""Per-benchmark variant choice by measurement against the all-or-nothing dispatch and each variant alone.

Builds, in a copy of the project under ``build/bench_variants/`` (reused by
the next run: only what changed is rebuilt), the default image and one test
image per variant level with ``FLUID_TEST_ONLY_VARIANT=<level>`` (every
benchmark runs that variant, or generic where the CPU cannot run it; the
``tuned`` one is the all-or-nothing dispatch the kernel had before: the
profile's variant everywhere if the CPU has all its features, else generic
everywhere). Boots each image ``--repeat`` times with the same accelerator
and CPU model, in rounds (one boot of every image per round, so a busy host
slows them alike), and takes the fastest in-kernel throughput per benchmark, then
prints a markdown table: the measured choice, the all-or-nothing figure and
each variant alone, with the ratios and their geometric mean; "pick / best"
rates the decision without the noise between boots (the variant chosen, as
fast as it ran alone, over the best variant alone).

    .venv/bin/python scripts/bench_variants.py [--repeat 3] [--cpu max] [--accel tcg|kvm|auto]

``--accel auto`` calibrates: KVM only where a calibration boot is faster
than TCG (fluidbench.accel); every figure is labelled with the accelerator
it comes from.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from fluidbench.accel import calibrate  # noqa: E402
from fluidbench.qemu import boot  # noqa: E402
from fluidbuild_plugins.fluidos.qemu import qemu_argv  # noqa: E402

PROJECT_FILES = ("src", "docs", "manifest.yaml", "dodo.py")
WORK = ROOT / "build" / "bench_variants"
QEMU = "qemu-system-i386"
BOOT_TIMEOUT_S = 120.0
MEASURED = "measured"  # the default image's column
WITHIN = 0.95  # the goal: each benchmark at least 95% of its best variant alone
GOAL_GEOMEAN = 2.0  # the goal: measured choice over all-or-nothing, geometric mean


def sync_tree(tree: Path) -> None:
    """The project's sources in ``tree``, its build directory kept."""
    tree.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src, dest = ROOT / name, tree / name
        if src.is_dir():
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest)


def set_defines(tree: Path, defines: dict[str, str]) -> None:
    """The kernel_ir target's test defines (none: a normal build)."""
    path = tree / "manifest.yaml"
    manifest = yaml.safe_load(path.read_text())
    options = manifest["targets"]["kernel_ir"].setdefault("options", {})
    if defines:
        options["defines"] = defines
    else:
        options.pop("defines", None)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def build(tree: Path, defines: dict[str, str], dest: Path) -> Path:
    set_defines(tree, defines)
    proc = subprocess.run([sys.executable, "-m", "doit", "image"], cwd=tree, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"doit image failed ({defines or 'default'}):\n{proc.stdout}\n{proc.stderr}")
    shutil.copy2(tree / "build" / "fluid.img", dest)
    return dest


def levels(tree: Path) -> list[str]:
    """The variant levels the image holds, from the generated table."""
    table = (tree / "build" / "gen" / "bench_ir.c").read_text()
    rows = table.split("variant_levels[] = {", 1)[1].split("};", 1)[0]
    return [line.strip().split('"')[1] for line in rows.splitlines() if line.strip().startswith('{"')]


def boot_lines(argv: list[str], what: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = boot(argv, BOOT_TIMEOUT_S)
    if not result.ok:
        raise SystemExit(f"{what}: boot failed: {result.reason()}\n{result.serial[-3000:]}")
    return result.lines("FLUID-BOOT")[0], result.lines("FLUID-BENCH")


def measure(images: dict[str, Path], argv_of: Any, repeat: int) -> dict[str, dict[str, Any]]:
    """Each image booted ``repeat`` times, in rounds (one boot of every image per
    round, so a busy host slows them alike); per image and benchmark the fastest
    in-kernel throughput of the boots, the variants that ran and the selection's
    figures of the last boot."""
    boots: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = {name: [] for name in images}
    for round_ in range(repeat):
        for name, image in images.items():
            print(f"  round {round_ + 1}/{repeat}: {image.name}", flush=True)
            boots[name].append(boot_lines(argv_of(str(image)), name))
    results = {}
    for name, runs in boots.items():
        out: dict[str, Any] = {"boot": runs[-1][0], "bench": {}}
        for i, line in enumerate(runs[-1][1]):
            rates = [r[1][i]["throughput_milli"] / 1000 for r in runs]
            out["bench"][line["name"]] = {
                "rate": max(rates), "rates": rates, "unit": line["unit"],
                "variant": "/".join(sorted({r[1][i]["variant"] for r in runs})),
                "checksum": {r[1][i]["checksum"] for r in runs},
                "candidates": line.get("candidates", []), "trial_size": line.get("trial_size"),
                "select_us": [r[1][i].get("select_us", 0) for r in runs]}
        results[name] = out
    return results


def human(rate: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rate >= scale:
            return f"{rate / scale:.3g} {prefix}{unit}/s"
    return f"{rate:.3g} {unit}/s"


def table(results: dict[str, dict[str, Any]], order: list[str], label: str) -> tuple[str, dict[str, Any]]:
    measured = results[MEASURED]["bench"]
    baseline = results["tuned"]["bench"]  # all-or-nothing: FLUID_TEST_ONLY_VARIANT=tuned
    header = (["benchmark", f"measured choice ({label})", f"all-or-nothing ({label})", "ratio"]
              + [f"{level} alone" for level in order] + ["best alone", "measured / best", "pick / best"])
    lines = ["| " + " | ".join(header) + " |", "|---|" + "--:|" * (len(header) - 1)]
    ratios, within, worst, picks = [], [], [], []
    for name, m in measured.items():
        b = baseline[name]
        alone = {}
        cells = []
        for level in order:
            r = results[level]["bench"][name]
            ran = r["variant"]
            if ran == level:
                alone[level] = r["rate"]
                cells.append(human(r["rate"], r["unit"]))
            else:
                cells.append(f"n/a ({ran} ran)")
        best_level = max(alone, key=alone.get)
        ratio, share = m["rate"] / b["rate"], m["rate"] / alone[best_level]
        # The decision alone, without the noise between boots: the worst variant any boot
        # of the default image chose, as fast as that variant ran alone.
        pick = min(alone[v] for v in m["variant"].split("/")) / alone[best_level]
        ratios.append(ratio)
        within.append(share)
        picks.append(pick)
        worst.append((share, name))
        lines.append("| " + " | ".join([name, f"{human(m['rate'], m['unit'])} ({m['variant']})",
                                         f"{human(b['rate'], b['unit'])} ({b['variant']})", f"{ratio:.2f}x",
                                         *cells, f"{best_level}", f"{share:.3f}", f"{pick:.3f}"]) + " |")
    geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    summary = {"geomean": geo, "min_share": min(within), "worst": min(worst)[1], "min_pick": min(picks),
               "goal_geomean": geo >= GOAL_GEOMEAN, "goal_within": min(within) >= WITHIN}
    lines.append("")
    lines.append(f"Geometric mean of measured / all-or-nothing: {geo:.2f}x (goal {GOAL_GEOMEAN}x: "
                 f"{'met' if summary['goal_geomean'] else 'NOT met'}); lowest measured / best alone: "
                 f"{min(within):.3f} ({min(worst)[1]}; goal {WITHIN}: "
                 f"{'met' if summary['goal_within'] else 'NOT met'}); lowest pick / best (the variant "
                 f"chosen, as fast as it ran alone): {min(picks):.3f}.")
    return "\n".join(lines), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="boots per image (the fastest counts)")
    parser.add_argument("--cpu", default="max", help="QEMU CPU model (default max)")
    parser.add_argument("--accel", choices=("tcg", "kvm", "auto"), default="tcg")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    tree = WORK / "fluid"
    images = WORK / "images"
    images.mkdir(parents=True, exist_ok=True)
    sync_tree(tree)
    print("building the default image", flush=True)
    built = {MEASURED: build(tree, {}, images / "measured.img")}
    order = levels(tree)
    for level in order:
        print(f"building the {level}-only image (FLUID_TEST_ONLY_VARIANT={level})", flush=True)
        built[level] = build(tree, {"FLUID_TEST_ONLY_VARIANT": level}, images / f"only-{level}.img")
    set_defines(tree, {})

    accel, note = args.accel, f"{args.accel.upper()} as asked"
    if accel == "auto":
        cal = calibrate({"tcg": qemu_argv(QEMU, str(built[MEASURED]), "floppy", cpu=args.cpu),
                         "kvm": qemu_argv(QEMU, str(built[MEASURED]), "floppy", accel="kvm", cpu="host")})
        accel, note = cal.chosen, cal.note
    cpu = "host" if accel == "kvm" else args.cpu
    label = f"{accel.upper()} -cpu {cpu}" + (" (emulated)" if accel == "tcg" else "")

    def argv_of(image: str) -> list[str]:
        return qemu_argv(QEMU, image, "floppy", accel=accel, cpu=cpu)

    print(f"booting every image {args.repeat}x under {label}", flush=True)
    results = measure(built, argv_of, args.repeat)
    sums = {bench: set().union(*(r["bench"][bench]["checksum"] for r in results.values()))
            for bench in results[MEASURED]["bench"]}
    text, summary = table(results, order, label)
    print()
    select_ms = [sum(b["select_us"][k] for b in results[MEASURED]["bench"].values()) / 1000
                 for k in range(args.repeat)]
    print(f"Accelerator: {note}. Every figure: {label}, the fastest of {args.repeat} boots per image "
          f"(booted in rounds); variants eligible: {', '.join(results[MEASURED]['boot']['eligible'])}; "
          f"the selection took {min(select_ms):.0f} to {max(select_ms):.0f} ms of guest time per boot "
          f"(all six benchmarks).")
    print()
    print(text)
    bad = {bench: s for bench, s in sums.items() if len(s) != 1}
    print()
    print("Checksums: " + ("every image and boot gave the same checksum per benchmark" if not bad
                           else f"DIFFER: {bad}"))
    if args.json:
        args.json.write_text(json.dumps({"accelerator": accel, "note": note, "label": label,
                                         "repeat": args.repeat, "summary": summary,
                                         "results": results}, indent=1, default=sorted))
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
