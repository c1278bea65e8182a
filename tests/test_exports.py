"""The task graph exported for other tools: build.ninja, the Makefile, compile_commands.json, dot."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import doit

from fluidbuild import buildfile, compdb, dot, makefile, ninja
from fluidbuild.atomic import write_text
from fluidbuild.model import Command, PyAction, TaskSpec


def synthetic_graph() -> list[TaskSpec]:
    cc = "/usr/bin/clang-19"
    return [
        TaskSpec("ir:src/a b.c", "compile", [Command([cc, "-c", "-MD", "-MF", "out/a.bc.d", "-o", "out/a.bc",
                                                      "src/a b.c"], ["out/a.bc"])],
                 file_dep=["src/a b.c", "gen/x.h"], targets=["out/a.bc"], depfile="out/a.bc.d"),
        TaskSpec("link", "link", [Command(["ld", "-o", "out/all.bin", "out/a.bc", "--defsym=$x"], [])],
                 file_dep=["out/a.bc"], targets=["out/all.bin"]),
        TaskSpec("image", "image", [PyAction(write_text, {"path": "out/img", "text": "x"})],
                 file_dep=["out/all.bin"], targets=["out/img", "out/img.json"]),
        TaskSpec("run", "boot", [PyAction(write_text, {"path": "log", "text": "x"})], task_dep=["image"],
                 always=True),
    ]


def test_rules_skip_tasks_that_write_nothing(tmp_path: Path) -> None:
    rules = buildfile.rules(synthetic_graph(), str(tmp_path / "actions"))
    assert [r.name for r in rules] == ["ir:src/a b.c", "link", "image"]
    python = rules[-1].commands[0]
    assert python[:4] == [sys.executable, "-m", "fluidbuild.buildfile", "call"] and Path(python[4]).exists()
    assert buildfile.default_outputs(synthetic_graph()) == ["out/img", "out/img.json"]


def test_ninja_text_escapes_and_uses_depfiles(tmp_path: Path) -> None:
    text = ninja.render(synthetic_graph(), str(tmp_path))
    assert "build out/a.bc: run_dep src/a$ b.c gen/x.h\n" in text
    assert "  dep = out/a.bc.d\n" in text and "deps = gcc" in text
    assert "--defsym=$$x" in text, "a $ in a command is escaped"
    assert "build out/img out/img.json: run out/all.bin\n" in text
    assert text.rstrip().endswith("default out/img out/img.json")
    assert "log" not in text, "a task that always runs has no rule"


def test_makefile_text(tmp_path: Path) -> None:
    text = makefile.render(synthetic_graph(), str(tmp_path))
    assert text.splitlines()[1] == "all: out/img out/img.json"
    assert "\tmkdir -p out && ld -o out/all.bin out/a.bc '--defsym=$$x'\n" in text
    assert "out/img.json: out/img\n" in text and text.rstrip().endswith("-include out/a.bc.d")


def test_compile_commands_entries() -> None:
    entries = compdb.entries(synthetic_graph(), "/project")
    assert entries == [{"directory": "/project", "file": "src/a b.c", "output": "out/a.bc",
                        "arguments": ["/usr/bin/clang-19", "-c", "-MD", "-MF", "out/a.bc.d", "-o", "out/a.bc",
                                      "src/a b.c"]}]


def test_dot_graph() -> None:
    text = dot.render(synthetic_graph())
    assert text.startswith("digraph fluidbuild {") and text.rstrip().endswith("}")
    assert '"ir:src/a b.c" -> "link";' in text and '"link" -> "image";' in text
    assert '"image" -> "run" [style=dashed];' in text and '"run" [label="run", style=dashed];' in text
    grouped = dot.render(synthetic_graph(), grouped=True)
    assert '"ir" -> "link";' in grouped


# -- integration: the real graph ---------------------------------------------------------------------


def export(tree: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "fluidbuild.export", *args], cwd=tree, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_compile_commands_of_the_kernel(tree: Path) -> None:
    export(tree, "compdb")
    entries = json.loads((tree / "build/compile_commands.json").read_text())
    by_file: dict[str, list[dict]] = {}
    for entry in entries:
        assert set(entry) == {"directory", "file", "arguments", "output"}
        assert entry["directory"] == str(tree) and entry["file"] in entry["arguments"]
        assert Path(entry["arguments"][0]).name.startswith("clang") and "-c" in entry["arguments"]
        assert (tree / entry["file"]).exists() or entry["file"].startswith("build/")  # generated
        by_file.setdefault(entry["file"], []).append(entry)
    kernel = {p.relative_to(tree).as_posix() for p in (tree / "src/kernel").glob("*.c")}
    assert kernel <= set(by_file), f"kernel files without an entry: {kernel - set(by_file)}"
    assert any("-march=i686" in e["arguments"] for e in by_file["src/kernel/vga.c"])
    bench = {p.relative_to(tree).as_posix() for p in (tree / "src/bench").glob("*.c")}
    assert all(len(by_file[b]) >= 2 for b in bench), "benchmarks: generic and tuned compiles"


def test_dot_of_the_real_graph(tree: Path) -> None:
    text = export(tree, "dot", "-o", "-").stdout
    assert text.startswith("digraph fluidbuild {")
    assert '"kernel_bc" -> "kernel_obj";' in text and '"kernel_obj" -> "kernel_elf";' in text
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)"', text, re.M)
    nodes = set(re.findall(r'^  "([^"]+)" \[label=', text, re.M))
    assert edges and all(a in nodes and b in nodes for a, b in edges)
    assert '"kernel_ir" -> "kernel_bc";' in export(tree, "dot", "--group", "-o", "-").stdout


def test_ninja_builds_the_same_image(built_tree: Path, fresh_tree: Path) -> None:
    ninja_bin = shutil.which("ninja")
    if ninja_bin is None:
        pytest.skip("NINJA IS NOT INSTALLED: build.ninja is not checked (Debian package ninja-build; "
                    "scripts/setup.sh test installs it)")
    export(fresh_tree, "ninja")
    proc = subprocess.run([ninja_bin, "-f", "build/build.ninja"], cwd=fresh_tree, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (fresh_tree / "build/fluid.img").read_bytes() == (built_tree / "build/fluid.img").read_bytes()
    again = subprocess.run([ninja_bin, "-f", "build/build.ninja"], cwd=fresh_tree, capture_output=True,
                           text=True, timeout=60, check=True)
    assert "no work to do" in again.stdout


def test_export_refuses_an_unknown_format(tree: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "fluidbuild.export", "cmake"], cwd=tree, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert doit(tree, "image").returncode == 0
