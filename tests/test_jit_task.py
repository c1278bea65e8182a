"""``doit jit``: the build's module under the tiered JIT, thresholds from the manifest."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import doit, edit

from fluidbuild.model import BuildContext, Manifest
from fluidbuild.schema import Where
from fluidbuild_plugins.fluidos import jit

DEFAULTS = jit.SECTION.validate(None, Where("manifest.yaml", "jit", None))


def declare(sections: dict, outputs: dict[str, list[str]]) -> list:
    manifest = Manifest("manifest.yaml", "/p", "build", {}, {}, {}, sections)
    ctx = BuildContext("/p", "build", manifest, {"tag": "AVX2"}, lambda name: None, {})
    return jit.fluidbuild_tasks(manifest, ctx, outputs)


def test_jit_task_runs_the_module_target_with_manifest_thresholds() -> None:
    settings = {**DEFAULTS, "hot_calls": 7, "hot_share": 0.2}
    [task] = declare({"jit": settings}, {"fluid_module": ["build/fluid_module.bc"]})
    assert task.name == "jit" and task.always
    assert task.file_dep == ["build/fluid_module.bc", "build/cpu_profile.json"]
    kwargs = task.actions[0].kwargs
    assert kwargs["settings"]["hot_calls"] == 7 and kwargs["settings"]["hot_share"] == 0.2
    assert kwargs["report"] == "build/jit/report.json"


def test_jit_task_without_module_fails_only_when_run() -> None:
    [task] = declare({"jit": DEFAULTS}, {})
    assert "cannot run" in task.doc


def test_doit_jit_writes_report(tree: Path) -> None:
    edit(tree / "manifest.yaml", "  iterations: 200\n  hot_calls: 5", "  iterations: 40\n  hot_calls: 3")
    proc = doit(tree, "jit", timeout=300)
    assert "benchmark" in proc.stdout and "checksum" in proc.stdout
    report = json.loads((tree / "build/jit/report.json").read_text())
    names = {b["name"] for b in report["benchmarks"]}
    assert names == {"matrix_mul", "fft_1d", "sha256_stream", "regex_dfa", "gemm_tile", "physics_step"}
