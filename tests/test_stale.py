"""A build never trusts a stale or damaged output, and a killed build loses nothing.

Each test changes one thing a naive build would miss and checks that the
build notices: the image then equals a clean build's again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import doit, edit, executed

SLOW_PLUGIN = '''
import time
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import Command, PyAction, TargetResult, TaskSpec
from fluidbuild.atomic import write_text


@hookimpl
def fluidbuild_target_tasks(target, ctx):
    out = ctx.out(target.name + ".txt")
    if target.flags == ("sleep",):
        action = Command(["/bin/sleep", "30"], [])
    else:
        action = PyAction(touch_input, {"source": target.sources[0], "out": out})
    task = TaskSpec(target.name, "test", [action], file_dep=list(target.sources), targets=[out])
    return TargetResult([task], [out])


def touch_input(source, out):
    with open(source, "a") as f:
        f.write("// saved while building\\n")
    write_text(out, "done")
'''


def image_digest(tree: Path) -> bytes:
    return (tree / "build" / "fluid.img").read_bytes()


def test_same_size_edit_with_old_mtime_is_seen(tree: Path) -> None:
    source = tree / "src" / "kernel" / "kernel.c"
    stat = source.stat()
    edit(source, "Fluid OS %s", "Fluid QS %s")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "kernel_ir:src/kernel/kernel.c" in executed(doit(tree, "image"))
    assert b"Fluid QS" in image_digest(tree)


def test_damaged_outputs_are_rebuilt(tree: Path) -> None:
    clean = image_digest(tree)
    image = tree / "build" / "fluid.img"
    data = bytearray(clean)
    data[100] ^= 1
    image.write_bytes(bytes(data))
    assert "image" in executed(doit(tree, "image"))
    assert image_digest(tree) == clean
    (tree / "build" / "kernel_obj.o").write_bytes(b"")
    assert "kernel_obj" in executed(doit(tree, "image"))
    assert image_digest(tree) == clean
    bc = tree / "build" / "kernel_bc.bc"
    bc.write_bytes((tree / "build" / "fluid_module.bc").read_bytes() if (tree / "build" / "fluid_module.bc")
                   .exists() else b"BC\xc0\xde")
    assert "kernel_bc" in executed(doit(tree, "image"))
    assert image_digest(tree) == clean


def test_option_only_checked_by_the_plugin_reruns(tree: Path) -> None:
    edit(tree / "manifest.yaml", "options: {format: bin, size: 512,", "options: {format: bin, size: 511,")
    proc = doit(tree, "image", check=False)
    assert proc.returncode != 0 and "it must be exactly 511" in proc.stdout + proc.stderr


def test_new_image_output_is_written_not_trusted(tree: Path) -> None:
    stale = tree / "build" / "other.img"
    stale.write_bytes(b"stale")
    edit(tree / "manifest.yaml", "  disk: floppy", "  disk: floppy\n  output: build/other.img")
    assert "image" in executed(doit(tree, "image"))
    assert stale.read_bytes() == image_digest(tree)


def test_tool_environment_is_explicit(tree: Path) -> None:
    clean = image_digest(tree)
    shadow = tree / "shadow"
    shadow.mkdir()
    (shadow / "stdint.h").write_text("#error the environment leaked into the compiler\n")
    env = {**os.environ, "CPATH": str(shadow), "C_INCLUDE_PATH": str(shadow),
           "CCC_OVERRIDE_OPTIONS": "+-DFLUID_OS_VERSION=\\\"leak\\\""}
    subprocess.run([sys.executable, "-m", "doit", "forget"], cwd=tree, env=env, check=True,
                   capture_output=True)
    proc = subprocess.run([sys.executable, "-m", "doit", "image"], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert image_digest(tree) == clean


def test_killed_build_keeps_finished_tasks(fresh_tree: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "doit", "image"], cwd=fresh_tree,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    started = 0
    assert proc.stdout is not None
    for line in proc.stdout:  # doit runs one task at a time: when task N starts, N-1 finished
        started += line.startswith(".  ")
        if started >= 12:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(fresh_tree / "build" / ".doit.db") as db:
        recorded = {row[0] for row in db.execute("SELECT task_id FROM doit")}
    assert len(recorded) >= started - 1, f"{started} tasks started, only {len(recorded)} recorded"
    rerun = executed(doit(fresh_tree, "image"))
    assert rerun and not recorded & set(rerun), "what the killed build finished is not redone"


def test_source_saved_during_its_build_is_not_recorded(tree: Path) -> None:
    (tree / "slow.py").write_text(SLOW_PLUGIN)
    (tree / "note.c").write_text("int x;\n")
    edit(tree / "manifest.yaml", "targets:\n",
         "local_plugins: {slow: slow.py}\ntargets:\n  noted: {plugin: slow, sources: [note.c]}\n")
    proc = doit(tree, "noted", check=False)
    assert proc.returncode != 0 and "note.c changed while the task ran" in proc.stdout + proc.stderr


def test_hanging_tool_is_killed_and_named(tree: Path) -> None:
    (tree / "slow.py").write_text(SLOW_PLUGIN)
    (tree / "note.c").write_text("int x;\n")
    edit(tree / "manifest.yaml", "targets:\n", "local_plugins: {slow: slow.py}\ntask_timeout_s: 1\ntargets:\n"
         "  hang: {plugin: slow, sources: [note.c], flags: [sleep]}\n")
    start = time.monotonic()
    proc = doit(tree, "hang", check=False)
    assert time.monotonic() - start < 20
    assert proc.returncode != 0 and "sleep did not finish in 1 s" in proc.stdout + proc.stderr


def test_plugin_edit_reruns_its_tasks(tree: Path) -> None:
    (tree / "slow.py").write_text(SLOW_PLUGIN.replace("touch_input, {", "write_only, {") +
                                  "\n\ndef write_only(source, out):\n    write_text(out, 'done')\n")
    (tree / "note.c").write_text("int x;\n")
    edit(tree / "manifest.yaml", "targets:\n",
         "local_plugins: {slow: slow.py}\ntargets:\n  noted: {plugin: slow, sources: [note.c]}\n")
    assert "noted" in executed(doit(tree, "noted"))
    assert "noted" not in executed(doit(tree, "noted"))
    with open(tree / "slow.py", "a") as f:
        f.write("# an edit to the plugin\n")
    assert "noted" in executed(doit(tree, "noted"))


def test_header_shadowing_an_included_one_reruns(tree: Path) -> None:
    shadow = tree / "src" / "kernel" / "bench.h"
    shadow.write_text((tree / "src" / "bench" / "bench.h").read_text() + "\n/* the shadow */\n")
    ran = executed(doit(tree, "image"))
    assert "kernel_ir:src/kernel/bench_run.c" in ran, "a header earlier on the search path is seen"
    shadow.unlink()
    assert "kernel_ir:src/kernel/bench_run.c" in executed(doit(tree, "image"))
    assert executed(doit(tree, "image")) == [], "then a no-op"
