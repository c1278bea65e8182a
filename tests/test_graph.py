"""Graph construction: from the validated manifest to task descriptions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import copy_project, doit

from fluidbuild import cpuprofile
from fluidbuild.graph import Graph, build
from fluidbuild.manifest import load
from fluidbuild.model import PyAction
from fluidbuild.toolchain import Toolbox


def make_graph(project: Path, overrides: dict[str, tuple[str, ...]] | None = None) -> Graph:
    manifest, plugins = load("manifest.yaml", str(project))
    manifest.toolchain.update(overrides or {})
    toolbox = Toolbox(plugins.tools(), manifest.toolchain, str(project / "build/.fluidbuild/tools.json"))
    profile = cpuprofile.resolve(manifest, plugins, toolbox)
    ctx = plugins.context(manifest, profile, toolbox)
    return build(manifest, plugins, ctx)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("graph") / "fluid")


def test_targets_chain_through_their_outputs(project: Path) -> None:
    graph = make_graph(project)
    tasks = {t.name: t for t in graph.tasks}
    assert len(tasks) == len(graph.tasks), "task names are unique"
    image = tasks["image"]
    assert image.file_dep == ["build/stage1/stage1.bin", "build/stage2_stamped.bin", "build/kernel.bin",
                              # the boot modules (image.modules): the model and the inference settings
                              "build/model_260k/model.bin", "build/model_260k/tokenizer.bin",
                              "build/infer_settings/infer.bin"]
    assert graph.outputs["kernel_elf"] == ["build/kernel_elf.elf"]
    assert set(tasks["kernel_elf"].file_dep) >= {"build/kernel_obj.o", "build/kernel_asm/entry.o",
                                                 "src/kernel/linker.ld"}
    # One compile task per kernel source: the kernel's own files and the runtime it shares.
    c_files = sorted(str(p.relative_to(project)) for p in (project / "src/kernel").glob("*.c"))
    compiled = sorted(n.split(":", 1)[1] for n in tasks if n.startswith("kernel_ir:"))
    assert set(c_files) <= set(compiled) and "src/runtime/klib.c" in compiled
    assert len(compiled) == len(set(compiled)), "each source once"
    for task in graph.tasks:
        assert task.config["plugin"]["name"], f"{task.name} carries its plugin's identity"
        assert task.config["plugin"]["version"] != "?"


def test_missing_tool_fails_only_what_needs_it(project: Path) -> None:
    graph = make_graph(project, {"nasm": ("nasm-missing",)})
    tasks = {t.name: t for t in graph.tasks}
    for name in ("stage1", "stage2", "kernel_asm", "kernel_elf", "kernel_flat", "kernel"):
        assert "missing tool: nasm" in tasks[name].doc, name
        assert isinstance(tasks[name].actions[0], PyAction)
    assert "cannot build" in tasks["image"].doc and tasks["image"].task_dep == ["stage1"], \
        "the image fails after the part that says why"
    assert "kernel_ir:src/kernel/vga.c" in tasks, "C compilation does not need nasm"


@pytest.mark.boot  # doit debug boots the image
def test_debug_task_logs_cpu_and_interrupts(built_tree: Path) -> None:
    log = built_tree / "build/qemu.log"
    if log.exists():
        os.unlink(log)
    proc = doit(built_tree, "debug", timeout=120)
    assert "ran successfully" in proc.stdout
    text = log.read_text(errors="replace")
    assert "CPU Reset" in text or "SMM:" in text or "check_exception" in text or len(text) > 1000
