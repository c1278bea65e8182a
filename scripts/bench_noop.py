"""No-op build times at scale: fluidbuild against make -r and ninja on the same graph.

Generates synthetic projects, copies of the project with N extra one-function
C files in ``src/kernel/extra/`` added to ``kernel_ir``'s sources by a glob,
builds each once with fluidbuild (``doit -n 2 image``), with the exported
Makefile (``make -r -j2``) and with the exported ``build.ninja`` (``ninja -j2``)
in three separate copies, checks the three images are identical, then times
no-op builds, the three (four with plain ``make``) taking turns, and prints the
medians with ratios.

    .venv/bin/python scripts/bench_noop.py [--extra 0,1000,3000] [--repeat 11] [--full-check]

``make`` (without ``-r``) is the Makefile with make's built-in rules, which
make then tries on every prerequisite: most of its no-op time. ``--full-check``
adds fluidbuild with the fast path off (``FLUIDBUILD_FAST_NOOP=0``: the whole
graph loaded and checked by doit). Needs ``make``, ``ninja`` (Debian package
``ninja-build``) and the toolchain.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("src", "docs", "manifest.yaml", "dodo.py")
EXTRA_DIR = "src/kernel/extra"
KERNEL_GLOB = "src/kernel/*.c]"


def make_project(dest: Path, source: Path, extra: int) -> Path:
    """A copy of the project at ``source`` with ``extra`` one-function C files in the kernel."""
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        src = source / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    if extra:
        folder = dest / EXTRA_DIR
        folder.mkdir()
        for i in range(extra):
            (folder / f"x{i:05d}.c").write_text(f"int extra_fn_{i:05d}(void) {{ return {i}; }}\n")
        manifest = dest / "manifest.yaml"
        text = manifest.read_text()
        if KERNEL_GLOB not in text:
            raise SystemExit(f"bench_noop: no '{KERNEL_GLOB}' in the manifest's kernel_ir sources")
        manifest.write_text(text.replace(KERNEL_GLOB, f"src/kernel/*.c, {EXTRA_DIR}/*.c]", 1))
    return dest


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_noop: {' '.join(argv)} failed in {cwd}:\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-2000:]}")
    return proc


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                          check=True, text=True)
    return time.perf_counter() - start, proc.stdout


def fast_path_taken(tree: Path) -> bool:
    trace = json.loads((tree / "build/.fluidbuild/trace.json").read_text())
    return bool(trace["otherData"].get("fast_path"))


def noop_time(name: str, argv: list[str], cwd: Path, env: dict[str, str] | None) -> float:
    """One no-op run. A fluidbuild run that ran tasks (a plugin source edited meanwhile:
    its tasks rerun, rightly), or that took the normal path where the fast one was
    measured (a file it watches changed meanwhile), is run again."""
    for _ in range(3):
        seconds, out = timed(argv, cwd, env)
        if not name.startswith("fluidbuild"):
            return seconds
        if out == "" and (name != "fluidbuild" or fast_path_taken(cwd)):
            return seconds
        print(f"bench_noop: {name} ran tasks or took the normal path (a file changed meanwhile?); "
              "again", file=sys.stderr)
    raise SystemExit(f"bench_noop: {name} is no fast no-op:\n{out}")


def task_counts(tree: Path) -> tuple[int, int]:
    """(tasks in the graph, tasks ``doit image`` needs)."""
    names = run([sys.executable, "-m", "doit", "list", "--all", "--quiet"], tree).stdout.split()
    groups = {name.split(":", 1)[0] for name in names if ":" in name}
    needed = run(["ninja", "-f", "build/build.ninja", "-t", "commands"], tree).stdout.count("\n")
    return len(set(names) - groups), needed


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            found = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
    except OSError:
        found = None
    return f"{found.group(1) if found else platform.processor()}, {os.cpu_count()} cores"


def measure(extra: int, source: Path, tmp: Path, repeat: int, full_check: bool) -> dict[str, object]:
    base = tmp / f"n{extra}"
    trees = {kind: make_project(base / kind, source, extra) for kind in ("doit", "make", "ninja")}
    python = sys.executable
    run([python, "-m", "doit", "-n", "2", "image"], trees["doit"])
    run([python, "-m", "fluidbuild.export", "make"], trees["make"])
    run(["make", "-r", "-j2", "-f", "build/Makefile"], trees["make"])
    run([python, "-m", "fluidbuild.export", "ninja"], trees["ninja"])
    run(["ninja", "-j2", "-f", "build/build.ninja"], trees["ninja"])
    image = (trees["doit"] / "build/fluid.img").read_bytes()
    same = all((trees[k] / "build/fluid.img").read_bytes() == image for k in ("make", "ninja"))
    # The first no-op of each: nothing may run (fluidbuild's first records, the second is fast).
    run([python, "-m", "doit", "image"], trees["doit"])
    noop_time("fluidbuild", [python, "-m", "doit", "image"], trees["doit"], None)
    assert "no work to do" in run(["ninja", "-f", "build/build.ninja"], trees["ninja"]).stdout
    assert "Nothing to be done" in run(["make", "-r", "-f", "build/Makefile"], trees["make"]).stdout
    commands = {
        "fluidbuild": ([python, "-m", "doit", "image"], trees["doit"], None),
        "make -r": (["make", "-r", "-f", "build/Makefile"], trees["make"], None),
        "make": (["make", "-f", "build/Makefile"], trees["make"], None),
        "ninja": (["ninja", "-f", "build/build.ninja"], trees["ninja"], None),
    }
    if full_check:
        commands["fluidbuild, full check"] = ([python, "-m", "doit", "image"], trees["doit"],
                                              {**os.environ, "FLUIDBUILD_FAST_NOOP": "0"})
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, (argv, cwd, env) in commands.items():
            times[name].append(noop_time(name, argv, cwd, env))
    tasks, needed = task_counts(trees["ninja"])
    shutil.rmtree(base, ignore_errors=True)
    return {"extra": extra, "tasks": tasks, "needed": needed, "same": same,
            **{name: statistics.median(values) for name, values in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", default="0,1000,3000", help="extra C files per project, comma-separated")
    parser.add_argument("--repeat", type=int, default=11, help="no-op runs of each build system")
    parser.add_argument("--full-check", action="store_true",
                        help="also time fluidbuild without its fast path")
    parser.add_argument("--project", type=Path, default=ROOT, help="the project to copy (default: this one)")
    args = parser.parse_args()
    for tool in ("make", "ninja"):
        if not shutil.which(tool):
            raise SystemExit(f"bench_noop: {tool} is missing (Debian: apt-get install "
                             f"{'ninja-build' if tool == 'ninja' else 'make'})")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-noop-") as tmp:
        for extra in (int(n) for n in args.extra.split(",")):
            rows.append(measure(extra, args.project.resolve(), Path(tmp), args.repeat, args.full_check))
            print(f"bench_noop: {extra} extra files measured", file=sys.stderr)
    ninja_version = run(["ninja", "--version"], ROOT).stdout.strip()
    make_version = run(["make", "--version"], ROOT).stdout.splitlines()[0]
    print(f"No-op build, wall seconds, median of {args.repeat} interleaved runs; {cpu_name()}; "
          f"Python {platform.python_version()}, {make_version}, ninja {ninja_version}")
    extra_cols = ["fluidbuild, full check"] if args.full_check else []
    header = ["extra C files", "tasks (image needs)", "fluidbuild", "make -r", "ninja", "make",
              *extra_cols, "fluidbuild / make -r", "fluidbuild / ninja", "images identical"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for row in rows:
        cells = [f"{row['extra']:,}", f"{row['tasks']:,} ({row['needed']:,})",
                 *(f"{row[name]:.3f}" for name in ("fluidbuild", "make -r", "ninja", "make", *extra_cols)),
                 f"{row['fluidbuild'] / row['make -r']:.1f}x", f"{row['fluidbuild'] / row['ninja']:.1f}x",
                 "yes" if row["same"] else "NO"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
