"""Each example package's own tests (fluidbuild.testing: fake tools, nothing runs), run as
its author runs them: ``pytest`` in the package's folder, its ``src`` on the path.

The same packages are installed, built and booted in tests/test_examples.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

EXAMPLES = ROOT / "examples"
PACKAGES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "pyproject.toml").is_file())


def test_there_are_three_example_packages() -> None:
    assert PACKAGES == ["fluid_crc32", "fluid_lba_stage2", "fluid_mbr_disk"]
    for name in PACKAGES:
        assert (EXAMPLES / name / "tests").is_dir()
        assert (EXAMPLES / name / "src" / name / "__init__.py").is_file()


@pytest.mark.parametrize("package", PACKAGES)
def test_the_packages_own_tests_pass(package: str) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # nothing written into the source tree
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=EXAMPLES / package, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, f"{package}'s tests failed:\n{proc.stdout}\n{proc.stderr}"
    assert " passed" in proc.stdout
