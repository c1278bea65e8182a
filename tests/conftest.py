"""Shared fixtures: real builds in temporary copies of the project.

One clean build of the default manifest is made per test session and shared;
tests that change sources or the manifest work on a copy of that built tree
(sources, build directory and doit database), so each pays only for the
incremental rebuild it is about.

Every test has exactly one tier, ``unit``, ``integration`` or ``boot``
(README "Test tiers"); ``pytest_collection_modifyitems`` below gives each
test its tier by the rule written there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("src", "docs", "manifest.yaml", "dodo.py")
# Test builds never use a shared build cache configured for the machine (a CI fleet's):
# tests/test_cache.py gives its builds their own server.
for _variable in ("FLUIDBUILD_REMOTE_CACHE", "FLUIDBUILD_REMOTE_CACHE_MODE", "FLUIDBUILD_CACHE_SALT"):
    os.environ.pop(_variable, None)


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


# -- test tiers -----------------------------------------------------------------------------------
#
# A test's tier is the first of these that applies:
#   1. the tier marker written on the test (or its class or module): @pytest.mark.boot, ...;
#   2. its entry in TEST_TIERS;
#   3. boot, if its module is in BOOT_MODULES or it uses (even indirectly) a fixture in BOOT_FIXTURES;
#   4. integration, if its module is in INTEGRATION_MODULES or it uses a fixture in INTEGRATION_FIXTURES;
#   5. unit.
# A test marked with two tiers stops the collection. A unit test that starts any program
# other than this Python fails, naming the program, and so does one whose Python child (doit)
# runs a program of the toolchain (nasm, clang, ld.lld, QEMU; even for --version): a test that
# needs a tool cannot stay in the unit tier unnoticed.

TIERS = ("unit", "integration", "boot")
# Single tests ("module::function") the other rules would misplace, in files edited by
# others; a tier marker on the test itself says the same and should replace the entry.
TEST_TIERS = {
    "test_run_trust::test_qemu_error_is_a_failed_run": "boot",  # doit run starts QEMU
    # doit list / doit image probe the toolchain (clang, nasm, ld.lld) before they fail:
    "test_bad_input::test_outputs_must_stay_in_the_build_directory": "integration",
    "test_bad_input::test_plugin_calling_sys_exit_is_reported": "integration",
}
# Modules every test of which boots QEMU (bootkit.boot_image and read_screen, doit run).
BOOT_MODULES = frozenset({"test_boot", "test_faults", "test_run"})
# Fixtures that boot QEMU while they are set up.
BOOT_FIXTURES = frozenset({
    "benched",  # test_bench_task: doit bench boots the image
    "modules_boot", "oversized_boot",  # test_modules: images with boot modules booted
})
# Modules every test of which runs the real toolchain.
INTEGRATION_MODULES = frozenset({
    "test_bench_correctness",  # native runners built with clang and ld.lld
    "test_graph",  # resolves the real toolchain and the host's CPU profile
    "test_incremental",  # doit builds
    "test_jit",  # modules compiled by clang-19 (tests/jitbuild.py)
    "test_packaging",  # pip installs the project into a new virtual environment
})
# Fixtures that run the real toolchain while they are set up.
INTEGRATION_FIXTURES = frozenset({
    "built_tree", "tree", "fresh_tree",  # conftest: doit image
    "benches",  # test_jit_robust: a module compiled by clang-19 (tests/jitbuild.py)
    # test_kernel_infer: doit image (its tests that boot are marked boot)
    "llama_tree", "small_tree", "bad_images",
})


def tiers_of(module: str, name: str, fixtures: Iterable[str], marked: Iterable[str]) -> list[str]:
    """The tiers of the test function ``name`` of ``module`` (the file's stem) that uses
    ``fixtures`` and carries the tier markers ``marked``: one, unless two different ones
    are marked."""
    explicit = sorted(set(marked) & set(TIERS))
    if explicit:
        return explicit
    if f"{module}::{name}" in TEST_TIERS:
        return [TEST_TIERS[f"{module}::{name}"]]
    fixtures = set(fixtures)
    if module in BOOT_MODULES or fixtures & BOOT_FIXTURES:
        return ["boot"]
    if module in INTEGRATION_MODULES or fixtures & INTEGRATION_FIXTURES:
        return ["integration"]
    return ["unit"]


def tier_markers(item: pytest.Item) -> list[str]:
    """The names of the tier markers ``item`` carries, its own and inherited."""
    return sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test its tier marker by the rule above; stop on a test marked twice."""
    wrong = []
    for item in items:
        tiers = tiers_of(item.path.stem, getattr(item, "originalname", item.name),
                         getattr(item, "fixturenames", ()), tier_markers(item))
        if len(tiers) != 1:
            wrong.append(f"  {item.nodeid}: {', '.join(tiers)}")
        elif tiers[0] not in tier_markers(item):
            item.add_marker(tiers[0])
    if wrong:
        raise pytest.UsageError("a test must have exactly one tier (unit, integration or boot); "
                                "these have several:\n" + "\n".join(wrong))


def _program(args: object, executable: object) -> str:
    """The program a ``subprocess.Popen`` starts (its whole command line with ``shell=True``)."""
    if executable is not None:
        return os.fsdecode(executable)
    if isinstance(args, (str, bytes, os.PathLike)):
        return os.fsdecode(args)
    return os.fsdecode(next(iter(args)))  # type: ignore[call-overload]


_execute_child = subprocess.Popen._execute_child  # type: ignore[attr-defined]


def _only_python(self: subprocess.Popen, args: object, executable: object, *rest: object) -> None:
    program = _program(args, executable)
    if program != sys.executable:
        raise AssertionError(f"a unit test started {program!r}: unit tests run no external program; "
                             "mark the test @pytest.mark.integration (or boot), or list its module or "
                             "fixture in tests/conftest.py")
    _execute_child(self, args, executable, *rest)


TOOL_LOG = "FLUIDBUILD_TEST_TOOL_LOG"  # where the shims below note the programs run
_shims_key = pytest.StashKey[Path]()


def tool_shims(config: pytest.Config) -> Path:
    """A folder of scripts named like the toolchain's programs (fluidbuild.toolchain) that note
    their name in $FLUIDBUILD_TEST_TOOL_LOG, then run the real program."""
    if _shims_key not in config.stash:
        from fluidbuild import toolchain
        from fluidbuild.model import ToolSpec

        folder = Path(tempfile.mkdtemp(prefix="fluidbuild-tool-shims-"))
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        names = {name for spec in vars(toolchain).values() if isinstance(spec, ToolSpec)
                 for name in spec.candidates}
        for name in sorted(names):
            real = shutil.which(name)
            if real:
                shim = folder / name
                shim.write_text(f'#!/bin/sh\necho {name} >> "${TOOL_LOG}"\nexec {shlex.quote(real)} "$@"\n')
                shim.chmod(0o755)
        config.stash[_shims_key] = folder
    return config.stash[_shims_key]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Unit tests (their fixtures included) may start this Python, nothing else; the
    toolchain's programs are shims for them (see pytest_runtest_teardown)."""
    if "unit" not in tier_markers(item):
        return (yield)
    shims = tool_shims(item.config)
    log = shims / "used.log"
    log.write_text("")
    env = {"PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}", TOOL_LOG: str(log)}
    with mock.patch.object(subprocess.Popen, "_execute_child", _only_python), \
            mock.patch.dict(os.environ, env):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    result = yield
    if "unit" in tier_markers(item):
        used = sorted(set((tool_shims(item.config) / "used.log").read_text().split()))
        if used:
            raise AssertionError(f"this unit test ran {', '.join(used)} through a child process (doit?): "
                                 "unit tests run no external program; mark the test "
                                 "@pytest.mark.integration (or boot), or list it in tests/conftest.py")
    return result
