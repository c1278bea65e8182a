"""``doit jit`` and ``doit jit_infer``: modules under the tiered JIT, thresholds from the manifest.

``doit jit_infer`` runs in tests/test_infer.py, beside the engine's other builds."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import doit, edit

from fluidbuild.model import TaskSpec
from fluidbuild.testing import PluginTest


def declare(root: Path, manifest: str) -> dict[str, TaskSpec]:
    """The ``jit`` plugin's tasks for ``manifest`` by name, its targets declared first."""
    kit = PluginTest(root, manifest)
    for name in kit.manifest.targets:
        kit.target_tasks(name)
    return {task.name: task for task in kit.project_tasks(plugin="jit")}


def test_jit_task_runs_the_module_target_with_manifest_thresholds(tmp_path: Path) -> None:
    task = declare(tmp_path, """
        targets:
          fluid_module: {plugin: llvm_link}
        jit: {hot_calls: 7, hot_share: 0.2}
        """)["jit"]
    assert task.always
    assert task.file_dep == ["build/fluid_module.bc", "build/cpu_profile.json"]
    kwargs = task.actions[0].kwargs
    assert kwargs["module"] == "build/fluid_module.bc"
    assert kwargs["settings"]["hot_calls"] == 7 and kwargs["settings"]["hot_share"] == 0.2
    assert kwargs["settings"]["verify_calls"] == 3, "the section's defaults fill the rest"
    assert kwargs["report"] == "build/jit/report.json" and kwargs["cache"] == "build/jit/cache"


def test_jit_task_without_module_fails_only_when_run(tmp_path: Path) -> None:
    task = declare(tmp_path, """
        targets:
          other: {plugin: llvm_link}
        """)["jit"]
    assert "cannot run: jit.module_target 'fluid_module' is not a target with an output" in task.doc


def test_jit_infer_task_runs_the_engine_on_the_manifest_model(tmp_path: Path) -> None:
    task = declare(tmp_path, """
        targets:
          infer_module: {plugin: llvm_link}
          model_260k: {plugin: model, options: {shape: stories260k}}
        jit: {hot_calls: 7, infer: {steps: 32}}
        """)["jit_infer"]
    assert task.always
    assert task.file_dep == ["build/infer_module.bc", "build/model_260k/model.bin",
                             "build/model_260k/tokenizer.bin", "build/cpu_profile.json"]
    kwargs = task.actions[0].kwargs
    assert kwargs["checkpoint"] == "build/model_260k/model.bin" and kwargs["settings"]["hot_calls"] == 7
    assert kwargs["settings"]["infer"] == {"module_target": "infer_module", "model": "model_260k",
                                           "prompt": "Once upon a time", "steps": 32, "warmup": 10}
    assert kwargs["report"] == "build/jit/infer-report.json" and kwargs["cache"] == "build/jit/cache"


def test_jit_infer_task_without_model_fails_only_when_run(tmp_path: Path) -> None:
    tasks = declare(tmp_path, """
        targets:
          infer_module: {plugin: llvm_link}
          other: {plugin: llvm_link}
        jit: {infer: {model: other}}
        """)
    assert "cannot run: jit.infer.model 'other' is not a model target" in tasks["jit_infer"].doc


def test_doit_jit_writes_report(tree: Path) -> None:
    edit(tree / "manifest.yaml", "  iterations: 200\n  hot_calls: 5", "  iterations: 40\n  hot_calls: 3")
    proc = doit(tree, "jit", timeout=300)
    assert "benchmark" in proc.stdout and "checksum" in proc.stdout
    report = json.loads((tree / "build/jit/report.json").read_text())
    names = {b["name"] for b in report["benchmarks"]}
    assert names == {"matrix_mul", "fft_1d", "sha256_stream", "regex_dfa", "gemm_tile", "physics_step"}
