"""The fast no-op (fluidbuild.noop) never skips work a full check would do; the trace
file (fluidbuild.reporter) describes what ran and why."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import doit, edit, executed
from doit.task import Task

from fluidbuild import noop
from fluidbuild.reporter import Reporter, mark_cache

STATE = Path("build/.fluidbuild/noop.json")
TRACE = Path("build/.fluidbuild/trace.json")


def trace(tree: Path) -> dict[str, Any]:
    return json.loads((tree / TRACE).read_text())


def fast(tree: Path, *args: str) -> bool:
    """Run ``doit image`` (or ``args``): True when the fast path answered it."""
    proc = doit(tree, *(args or ("image",)))
    assert executed(proc) == [], f"a no-op ran tasks:\n{proc.stdout}"
    return bool(trace(tree)["otherData"]["fast_path"])


def settle(tree: Path) -> None:
    """One normal no-op (the copy's first build records), then the record answers."""
    doit(tree, "image")
    assert (tree / STATE).exists(), "the no-op record was not written"
    assert fast(tree), "the second no-op did not take the fast path"


# -- unit: the request and what the record watches -------------------------------------------------


def test_requests_the_fast_path_may_answer() -> None:
    assert noop.parse(["doit", "image"]) == noop.Request(("image",), ())
    assert noop.parse(["doit"]) == noop.Request((), ())
    assert noop.parse(["doit", "-n", "2", "image", "explain=1"]) == noop.Request(("image",),
                                                                              (("explain", "1"),))
    assert noop.parse(["doit", "-n2", "-P", "thread", "run", "image"]) == noop.Request(("run", "image"), ())
    for argv in (["doit", "-a", "image"], ["doit", "clean"], ["doit", "list"], ["doit", "kernel_ir:*"],
                 ["doit", "--db-file", "x", "image"], ["doit", "-v", "2", "image"], ["doit", "forget"]):
        assert noop.parse(argv) is None, argv


def test_manifest_build_dir(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("project: {name: x}\nbuild_dir: 'out/b'  # here\ntargets: {}\n")
    assert noop.manifest_build_dir(str(manifest)) == "out/b"
    manifest.write_text("targets: {}\n")
    assert noop.manifest_build_dir(str(manifest)) == "build"
    assert noop.manifest_build_dir(str(tmp_path / "missing.yaml")) is None


def test_glob_folders_cover_every_level(tmp_path: Path) -> None:
    for folder in ("a/x", "a/y", "b"):
        (tmp_path / "src" / folder).mkdir(parents=True)
    root = str(tmp_path)
    assert noop._glob_folders(f"{root}/src/a/*.c", False) == [f"{root}/src/a"]
    assert noop._glob_folders(f"{root}/src/*/x/*.c", False) == [
        f"{root}/src", f"{root}/src/a", f"{root}/src/b", f"{root}/src/a/x", f"{root}/src/b/x"]
    assert set(noop._glob_folders(f"{root}/src/**/*.c", True)) == {
        f"{root}/src", f"{root}/src/a", f"{root}/src/a/x", f"{root}/src/a/y", f"{root}/src/b"}


def test_tracker_sees_reads_listings_probes_and_variables(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.c").write_text("int a;\n")
    monkeypatch.setenv("FLUIDBUILD_NOOP_TEST", "yes")
    tracker = noop.Tracker(str(tmp_path))
    tracker.start()
    try:
        (tmp_path / "src" / "a.c").read_text()
        sorted((tmp_path / "src").glob("*.c"))
        assert not os.path.exists(tmp_path / "later.h")
        assert os.environ.get("FLUIDBUILD_NOOP_TEST") == "yes" and "FLUIDBUILD_NOOP_UNSET" not in os.environ
    finally:
        tracker.stop()
    assert os.stat is not None and os.stat.__name__ == "stat", "os.stat is os's own again"
    assert tracker.files[str(tmp_path / "src" / "a.c")] == noop._sig(str(tmp_path / "src" / "a.c"))
    assert str(tmp_path / "src") in tracker.files
    assert tracker.probes[str(tmp_path / "later.h")] is None
    assert tracker.env == {"FLUIDBUILD_NOOP_TEST": "yes", "FLUIDBUILD_NOOP_UNSET": None}
    assert noop.__file__ in tracker.modules
    os.path.exists(tmp_path / "after.h")
    assert str(tmp_path / "after.h") not in tracker.probes, "nothing is noted once stopped"


def _nothing() -> None:
    pass


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_reporter_lines_and_progress() -> None:
    tasks = {name: Task(name, [(_nothing, [])]) for name in ("a", "b", "c")}
    tasks["c"].task_dep = ["a", "b"]
    for stream, expected in ((io.StringIO(), ".  a\n.  c\n"), (_Terminal(), "[1/3] a\n[3/3] c\n")):
        reporter = Reporter(stream, {})
        reporter.initialize(tasks, ["c"])
        for name in ("a", "b", "c"):
            task = tasks[name]
            task.dep_changed = []
            if name == "b":
                reporter.skip_uptodate(task)
                continue
            reporter.execute_task(task)
            mark_cache(name, "hit")
            reporter.add_success(task)
        assert stream.getvalue() == expected
        assert [e["name"] for e in reporter.events] == ["a", "c"]
        assert all(e["args"]["cache"] == "hit" and e["args"]["reason"] for e in reporter.events)


# -- integration: the fast path against a full check ------------------------------------------------


def test_fast_noop_and_its_trace(tree: Path) -> None:
    settle(tree)
    doc = trace(tree)
    assert doc["traceEvents"][-1]["name"] == "no-op check (fast path)"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "doit", "image"], cwd=tree,
                          capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    heavy = {"fluidbuild.doit_tasks", "fluidbuild.cache", "fluidbuild.manifest", "llvmlite", "yaml", "pluggy"}
    assert "fluidbuild.noop" in imported and not imported & heavy, imported & heavy
    assert fast(tree, "-n", "2", "image")
    assert not fast(tree, "image", "explain=1"), "another request is another record"
    assert fast(tree, "image", "explain=1")


def test_edit_after_fast_noop_rebuilds_and_is_traced(tree: Path) -> None:
    settle(tree)
    vga = tree / "src/kernel/vga.c"
    vga.write_text(vga.read_text() + "\nint noop_marker(void) { return 3; }\n")
    proc = doit(tree, "image")
    ran = executed(proc)
    assert "kernel_ir:src/kernel/vga.c" in ran and "image" in ran
    doc = trace(tree)
    tasks = [e for e in doc["traceEvents"] if e.get("cat") == "task"]
    assert [e["name"] for e in tasks] == ran, "one event per executed task"
    for event in tasks:
        assert event["ph"] == "X" and event["dur"] > 0 and event["ts"] >= 0
        assert event["args"]["cache"] in ("hit", "miss", "n/a") and event["args"]["reason"]
    first = next(e for e in tasks if e["name"] == "kernel_ir:src/kernel/vga.c")
    assert first["args"]["reason"] == ["changed: src/kernel/vga.c"]
    assert doc["otherData"]["noop_recorded"] is True
    assert fast(tree), "a build records what the next no-op checks"


def test_damaged_output_after_fast_noop_is_rebuilt(tree: Path) -> None:
    settle(tree)
    image = tree / "build/fluid.img"
    clean = image.read_bytes()
    data = bytearray(clean)
    data[600] ^= 1
    image.write_bytes(bytes(data))
    assert executed(doit(tree, "image")) == ["image"]
    assert image.read_bytes() == clean
    obj = tree / "build/kernel_obj.o"
    size = obj.stat().st_size
    with open(obj, "r+b") as f:  # in place, same size
        f.seek(size // 2)
        byte = f.read(1)
        f.seek(size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert "kernel_obj" in executed(doit(tree, "image"))
    assert image.read_bytes() == clean


def test_config_change_after_fast_noop_reruns(tree: Path) -> None:
    settle(tree)
    edit(tree / "manifest.yaml", "options: {triple: i386-unknown-none-elf, opt: 2}",
         "options: {triple: i386-unknown-none-elf, opt: 1}")
    proc = doit(tree, "image")
    assert "kernel_obj" in executed(proc)
    reason = next(e for e in trace(tree)["traceEvents"] if e["name"] == "kernel_obj")["args"]["reason"]
    assert "target.options.opt: 2 -> 1" in reason
    assert fast(tree)


def test_headers_appearing_or_vanishing_after_fast_noop(tree: Path) -> None:
    settle(tree)
    shadow = tree / "src/kernel/bench.h"
    shadow.write_text((tree / "src/bench/bench.h").read_text() + "\n/* the shadow */\n")
    assert "kernel_ir:src/kernel/bench_run.c" in executed(doit(tree, "image"))
    shadow.unlink()
    assert "kernel_ir:src/kernel/bench_run.c" in executed(doit(tree, "image"))
    assert fast(tree)
    header = tree / "src/kernel/vga.h"
    kept = header.read_text()
    header.unlink()  # vga.c still includes it: the build must notice, not skip
    proc = doit(tree, "image", check=False)
    assert proc.returncode != 0 and "vga.h" in proc.stdout + proc.stderr
    assert not (tree / STATE).exists(), "a failed build leaves no record"
    header.write_text(kept)
    doit(tree, "image")
    assert fast(tree)


def test_new_source_and_local_plugin_edit_after_fast_noop(tree: Path) -> None:
    (tree / "note.py").write_text(
        "from fluidbuild.atomic import write_text\nfrom fluidbuild.hookspecs import hookimpl\n"
        "from fluidbuild.model import PyAction, TargetResult, TaskSpec\n\n\n@hookimpl\n"
        "def fluidbuild_target_tasks(target, ctx):\n    out = ctx.out(target.name + '.txt')\n"
        "    task = TaskSpec(target.name, 'note', [PyAction(write_text, {'path': out, 'text': 'x'})],\n"
        "                    file_dep=list(target.sources), targets=[out])\n"
        "    return TargetResult([task], [out])\n")
    edit(tree / "manifest.yaml", "targets:\n",
         "local_plugins: {note: note.py}\ntargets:\n  noted: {plugin: note, sources: [src/kernel/*.h]}\n")
    assert "noted" in executed(doit(tree, "noted"))
    assert fast(tree, "noted")
    with open(tree / "note.py", "a") as f:
        f.write("# an edit to the plugin\n")
    assert executed(doit(tree, "noted")) == ["noted"]
    assert fast(tree, "noted")
    (tree / "src/kernel/zz_new.h").write_text("/* new */\n")  # the glob matches one more file
    assert executed(doit(tree, "noted")) == ["noted"]


def test_forget_after_fast_noop_drops_the_record(tree: Path) -> None:
    """The outputs are all there; only doit's database changed."""
    settle(tree)
    doit(tree, "forget", "image")
    assert not (tree / STATE).exists()
    assert executed(doit(tree, "image")) == ["image"]
    assert fast(tree)


def test_environment_read_by_the_graph_is_watched(tree: Path) -> None:
    settle(tree)
    env = {**os.environ, "FLUIDBUILD_EXPLAIN": "1"}
    proc = subprocess.run([sys.executable, "-m", "doit", "image"], cwd=tree, env=env, capture_output=True,
                          text=True, check=True)
    assert executed(proc) == []
    assert trace(tree)["otherData"]["fast_path"] is False, "a variable the load read changed"


def test_trace_says_what_the_cache_did(tree: Path, tmp_path: Path) -> None:
    env = {**os.environ, "FLUIDBUILD_REMOTE_CACHE": str(tmp_path / "cache")}
    vga = tree / "src/kernel/vga.c"
    original = vga.read_text()
    edited = original + "\nint cache_marker(void) { return 5; }\n"

    def build() -> dict[str, str]:
        subprocess.run([sys.executable, "-m", "doit", "image"], cwd=tree, env=env, capture_output=True,
                       check=True)
        return {e["name"]: e["args"]["cache"] for e in trace(tree)["traceEvents"] if e.get("cat") == "task"}

    vga.write_text(edited)
    assert build()["kernel_ir:src/kernel/vga.c"] == "miss"
    vga.write_text(original)
    build()
    vga.write_text(edited)  # built once already: its outputs come from the cache
    assert build()["kernel_ir:src/kernel/vga.c"] == "hit"
