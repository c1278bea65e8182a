"""``pip install .`` (not editable) into a new virtual environment: what lands in site-packages.

The project is copied first (a non-editable install writes ``build/`` and
``*.egg-info`` next to ``pyproject.toml``). pip builds the wheel as a user's
``pip install .`` does, fetching the build backend from its configured index;
the project's own dependencies are not installed (``--no-deps``): the new
environment reads them from this one through a ``.pth`` line after its own
site-packages, so every module under test comes from the new installation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT

# What pip needs from the project: pyproject.toml, its readme and the package folders.
PROJECT = ("pyproject.toml", "README.md", "fluidbuild", "fluidjit", "fluidbench", "plugins")
PACKAGES = ("fluidbuild", "fluidjit", "fluidbench", "fluidbuild_plugins", "fluidbuild_plugins/compile",
            "fluidbuild_plugins/fluidos")

PROBE = """\
import importlib.metadata, json, sysconfig
import fluidbuild
plugins = {}
for ep in importlib.metadata.entry_points(group="fluidbuild.plugins"):
    module = ep.load()
    plugins[ep.name] = {"value": ep.value, "file": module.__file__, "dist": str(ep.dist.locate_file(""))}
print(json.dumps({"site": sysconfig.get_paths()["purelib"], "fluidbuild": fluidbuild.__file__,
                  "plugins": plugins}))
"""


def run(argv: list[str | Path], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The new environment after ``pip install <copy>``: its site-packages and what the probe saw."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in PROJECT:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    venv = base / "venv"
    run([sys.executable, "-m", "venv", venv], base)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--timeout", "30", source], base)
    site = Path(run([python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    base).strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = json.loads(run([python, "-I", "-c", PROBE], base))
    assert probe["site"] == str(site)
    return {**probe, "site": site, "source": source}


def test_site_packages_holds_the_packages_and_no_top_level_plugins(installed: dict) -> None:
    site: Path = installed["site"]
    for package in PACKAGES:
        assert (site / package / "__init__.py").is_file(), package
    assert not (site / "plugins").exists(), "plugins/ installs as fluidbuild_plugins, not as 'plugins'"
    [dist_info] = site.glob("fluidbuild-*.dist-info")
    record = [line.split(",")[0] for line in (dist_info / "RECORD").read_text().splitlines()]
    assert not [path for path in record if path.startswith("plugins/")]
    assert (dist_info / "top_level.txt").read_text().split() == sorted(
        ["fluidbench", "fluidbuild", "fluidbuild_plugins", "fluidjit"])
    assert installed["fluidbuild"] == str(site / "fluidbuild" / "__init__.py"), "not this checkout's copy"


def test_every_builtin_plugin_is_an_entry_point_that_loads(installed: dict) -> None:
    pyproject = tomllib.loads((installed["source"] / "pyproject.toml").read_text())
    builtins = pyproject["project"]["entry-points"]["fluidbuild.plugins"]
    plugins = installed["plugins"]
    assert set(plugins) == set(builtins)
    site: Path = installed["site"]
    for name, plugin in plugins.items():
        assert plugin["value"] == builtins[name] and plugin["value"].startswith("fluidbuild_plugins."), name
        assert Path(plugin["dist"]) == site, f"{name} comes from another installation: {plugin['dist']}"
        module = Path(plugin["file"]).relative_to(site)
        assert module.with_suffix("").parts == tuple(plugin["value"].split(".")), name
