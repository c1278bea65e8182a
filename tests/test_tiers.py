"""The test tiers (unit, integration, boot): every test has exactly one, by the rule in conftest.py."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    BOOT_FIXTURES,
    BOOT_MODULES,
    INTEGRATION_FIXTURES,
    INTEGRATION_MODULES,
    ROOT,
    TEST_TIERS,
    TIERS,
    TOOL_LOG,
    tier_markers,
    tiers_of,
)

TESTS = Path(__file__).resolve().parent


def test_every_collected_test_has_exactly_one_tier(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    assert items
    wrong = {item.nodeid: tier_markers(item) for item in items if len(tier_markers(item)) != 1}
    assert wrong == {}


@pytest.mark.parametrize("module,name,fixtures,marked,expected", [
    ("test_plugins", "test_nasm", ["tmp_path"], [], ["unit"]),
    ("test_plugins", "test_x", ["tree", "built_tree", "tmp_path"], [], ["integration"]),
    ("test_plugins", "test_x", ["tmp_path"], ["integration"], ["integration"]),
    ("test_jit", "test_x", [], [], ["integration"]),
    ("test_bench_task", "test_x", ["benched"], [], ["boot"]),
    ("test_boot", "test_x", ["built_tree"], [], ["boot"]),
    ("test_graph", "test_x", ["built_tree"], ["boot"], ["boot"]),
    ("test_boot", "test_x", [], ["unit"], ["unit"]),
    ("test_run_trust", "test_qemu_error_is_a_failed_run", ["tree"], [], ["boot"]),
    ("test_x", "test_x", [], ["unit", "boot"], ["boot", "unit"]),
])
def test_tier_rule(module: str, name: str, fixtures: list[str], marked: list[str],
                   expected: list[str]) -> None:
    assert tiers_of(module, name, fixtures, marked) == expected


def test_the_rule_names_only_existing_modules_and_tests() -> None:
    for module in BOOT_MODULES | INTEGRATION_MODULES:
        assert (TESTS / f"{module}.py").is_file(), module
    for key, tier in TEST_TIERS.items():
        module, name = key.split("::")
        assert tier in TIERS and callable(getattr(importlib.import_module(module), name, None)), key
    assert not BOOT_FIXTURES & INTEGRATION_FIXTURES


def test_unit_tests_start_no_program_but_python() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0
    true = shutil.which("true") or "/bin/true"
    with pytest.raises(AssertionError, match=r"a unit test started '.*true'.*pytest\.mark\.integration"):
        subprocess.run([true], check=False)
    with pytest.raises(AssertionError, match="a unit test started 'true'"):
        subprocess.run("true", shell=True, check=False)


def test_toolchain_programs_a_child_runs_are_noted(tmp_path: Path) -> None:
    """What catches a unit test whose doit run probes the toolchain (checked after its teardown)."""
    log = Path(os.environ[TOOL_LOG])
    shims, rest = os.environ["PATH"].split(os.pathsep, 1)
    assert log.parent == Path(shims) and log.read_text() == ""
    installed = sorted(path.name for path in Path(shims).iterdir() if path != log)
    if not installed:
        pytest.skip("no program of the toolchain is installed")
    name = installed[0]
    script = (Path(shims) / name).read_text()
    real = shutil.which(name, path=rest)
    assert real and script.endswith(f'\nexec {real} "$@"\n'), "the shim runs the real program"
    # The same shim without running the real program, started by a child process:
    (tmp_path / name).write_text(script.replace(f"exec {real}", "true"))
    (tmp_path / name).chmod(0o755)
    child = f"import subprocess; subprocess.run([{name!r}, '--version'], check=True)"
    path = f"{tmp_path}{os.pathsep}{os.environ['PATH']}"
    subprocess.run([sys.executable, "-c", child], check=True, env={**os.environ, "PATH": path})
    try:
        assert log.read_text().split() == [name]
    finally:
        log.write_text("")  # noted on purpose here


def test_two_tiers_stop_the_collection(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copy(TESTS / "conftest.py", tmp_path / "tests")
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n\n\n"
        "def test_plain():\n    pass\n\n\n"
        "@pytest.mark.unit\n@pytest.mark.boot\ndef test_twice():\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "a test must have exactly one tier" in proc.stdout + proc.stderr
    assert "tests/test_x.py::test_twice: boot, unit" in proc.stdout + proc.stderr


def test_markers_are_strict_and_declared(request: pytest.FixtureRequest) -> None:
    assert request.config.option.strict_markers or "--strict-markers" in request.config.getini("addopts")
    declared = {line.split(":")[0] for line in request.config.getini("markers")}
    assert set(TIERS) <= declared
