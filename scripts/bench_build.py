"""Build-system figures: fluidbuild (doit) against a plain GNU Makefile.

Both build the same image with the same commands (the Makefile is exported
from fluidbuild's own task graph, ``python -m fluidbuild.export make``) in
fresh copies of the project, in the same run. Prints wall times and ratios
for a clean build, a no-op build and a one-file kernel change. make runs
with ``-r`` (no built-in rules). No-op builds at scale, against ninja too:
``scripts/bench_noop.py``.

    .venv/bin/python scripts/bench_build.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fluidbuild import export  # noqa: E402

CHANGED = "src/kernel/vga.c"


def copy(dest: Path) -> Path:
    for name in ("src", "manifest.yaml", "dodo.py"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return dest


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def export_makefile(tree: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        export.write("make", str(tree / "Makefile"))
    finally:
        os.chdir(cwd)


def change(tree: Path, n: int) -> None:
    path = tree / CHANGED
    path.write_text(path.read_text() + f"\nint bench_build_marker_{n}(void) {{ return {n}; }}\n")


def measure(kind: str, tree: Path, repeat: int, jobs: int) -> dict[str, float]:
    cmd = ([sys.executable, "-m", "doit", "-n", str(jobs), "image"] if kind == "doit"
           else ["make", "-r", f"-j{jobs}", "all"])
    clean = timed(cmd, tree)
    noop = statistics.median(timed(cmd, tree) for _ in range(repeat))
    one = []
    for i in range(repeat):
        change(tree, i)
        one.append(timed(cmd, tree))
    return {"clean build": clean, "no-op build": noop, "one kernel file changed": statistics.median(one)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        doit_tree = copy(Path(tmp) / "doit")
        make_tree = copy(Path(tmp) / "make")
        subprocess.run([sys.executable, "-m", "doit", "cpu_profile"], cwd=make_tree, check=True,
                       stdout=subprocess.DEVNULL)
        export_makefile(make_tree)
        results = {"fluidbuild (doit)": measure("doit", doit_tree, args.repeat, args.jobs),
                   "GNU make -r": measure("make", make_tree, args.repeat, args.jobs)}
        same = (doit_tree / "build/fluid.img").read_bytes() == (make_tree / "build/fluid.img").read_bytes()
    print(f"Build times, wall seconds (median of {args.repeat}; -j{args.jobs}); images identical: {same}")
    print(f"| {'case':<24} | {'fluidbuild':>10} | {'make -r':>9} | {'ratio':>6} |")
    print(f"|{'-' * 26}|{'-' * 12}|{'-' * 11}|{'-' * 8}|")
    for case in results["GNU make -r"]:
        ours, theirs = results["fluidbuild (doit)"][case], results["GNU make -r"][case]
        print(f"| {case:<24} | {ours:>10.3f} | {theirs:>9.3f} | {ours / theirs:>6.2f} |")


if __name__ == "__main__":
    main()
