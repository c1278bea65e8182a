"""The build tree's state survives crashes: a damaged database or leftover temporaries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
