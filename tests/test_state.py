"""The build tree's state survives crashes: a damaged database or leftover temporaries."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import doit

from fluidbuild import state


def test_damaged_database_is_set_aside(tmp_path: Path, capsys) -> None:
    db = tmp_path / ".doit.db"
    db.write_bytes(b"SQLite format 3\0" + b"\xff" * 5000)
    state.check_database(str(db))
    assert not db.exists() and (tmp_path / ".doit.db.corrupt").exists()
    assert "is damaged" in capsys.readouterr().err


def test_healthy_database_is_kept(tmp_path: Path) -> None:
    db = tmp_path / ".doit.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE doit (task_id text PRIMARY KEY, task_data json)")
    state.check_database(str(db))
    assert db.exists()


def test_leftover_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "kernel.bin.tmp-1234").write_bytes(b"partial")
    (tmp_path / "kernel.bin").write_bytes(b"whole")
    state.remove_leftovers(str(tmp_path))
    assert not (tmp_path / "sub" / "kernel.bin.tmp-1234").exists() and (tmp_path / "kernel.bin").exists()


def test_build_after_a_damaged_database_rebuilds(tree: Path) -> None:
    db = tree / "build" / ".doit.db"
    db.write_bytes(db.read_bytes()[:3000] + b"garbage" * 100)
    (tree / "build" / "fluid.img.tmp-4242").write_bytes(b"partial")
    proc = doit(tree, "image")
    assert "is damaged" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tree / "build" / "fluid.img.tmp-4242").exists()
    assert doit(tree, "image").stdout.strip() == "", "then a no-op"


def test_clean_removes_orphans_and_depfiles(tree: Path) -> None:
    orphan = tree / "build" / "kernel_ir" / "src__kernel__gone.c.bc"
    orphan.write_bytes(b"BC")
    (tree / "build" / "kernel_ir" / "src__kernel__gone.c.bc.d").write_text("x: y\n")
    doit(tree, "clean")
    left = sorted(str(p.relative_to(tree)) for p in (tree / "build").rglob("*") if p.is_file())
    assert left == ["build/.doit.db", "build/.fluidbuild/lock"] or set(left) <= {
        "build/.doit.db", "build/.doit.db-wal", "build/.doit.db-shm", "build/.fluidbuild/lock"}, left


def _namespace_works() -> bool:
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def _in_namespace(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a read-only mount")
def test_read_only_checkout_can_list(fresh_tree: Path) -> None:
    if not _namespace_works():
        pytest.skip("LOUD: cannot create a mount namespace here (unshare -m failed); "
                    "the read-only checkout case is not tested on this machine")
    doit_cmd = f"{sys.executable} -m doit"
    proc = _in_namespace(f"mount --bind {fresh_tree} {fresh_tree} && mount -o remount,ro,bind {fresh_tree} "
                         f"&& cd {fresh_tree} && {doit_cmd} list && {doit_cmd} image")
    assert "kernel_ir" in proc.stdout, proc.stderr
    assert proc.returncode == 2 and "Read-only file system" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a small tmpfs")
def test_full_disk_is_one_message(fresh_tree: Path) -> None:
    if not _namespace_works():
        pytest.skip("LOUD: cannot create a mount namespace here (unshare -m failed); "
                    "the full-disk case is not tested on this machine")
    build = fresh_tree / "build"
    build.mkdir(exist_ok=True)
    proc = _in_namespace(f"mount -t tmpfs -o size=600k tmpfs {build} && cd {fresh_tree} && "
                         f"{sys.executable} -m doit image")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "disk is full" in out or "No space left on device" in out
