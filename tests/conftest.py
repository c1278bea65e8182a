"""Shared fixtures: real builds in temporary copies of the project.

One clean build of the default manifest is made per test session and shared;
tests that change sources or the manifest work on a copy of that built tree
(sources, build directory and doit database), so each pays only for the
incremental rebuild it is about.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("src", "docs", "manifest.yaml", "dodo.py")


def copy_project(dest: Path) -> Path:
    """A fresh copy of the project's sources (no build directory)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def doit(tree: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``doit ARGS`` in ``tree`` and return the finished process."""
    proc = subprocess.run([sys.executable, "-m", "doit", *args], cwd=tree, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"doit {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def executed(proc: subprocess.CompletedProcess) -> list[str]:
    """Names of the tasks doit ran (lines '.  name'); up-to-date ones print '-- name'."""
    return [line[3:].strip() for line in proc.stdout.splitlines() if line.startswith(".  ")]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="session")
def built_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project after one clean ``doit image`` (read-only for tests)."""
    tree = copy_project(tmp_path_factory.mktemp("built") / "fluid")
    doit(tree, "image")
    return tree


@pytest.fixture
def tree(built_tree: Path, tmp_path: Path) -> Path:
    """A private copy of the built tree that a test may modify."""
    dest = tmp_path / "fluid"
    shutil.copytree(built_tree, dest, symlinks=True)
    lock = dest / "build" / ".fluidbuild" / "lock"
    if lock.exists():
        os.unlink(lock)
    return dest


@pytest.fixture
def fresh_tree(built_tree: Path, tmp_path: Path) -> Path:
    """A never-built copy of the same sources as ``built_tree``."""
    dest = tmp_path / "fresh"
    shutil.copytree(built_tree, dest, symlinks=True, ignore=shutil.ignore_patterns("build"))
    return dest
