"""``doit bench``: native, in-kernel and host figures in one run, and what it checks.

The end-to-end run uses a copy of the project whose manifest lists a few
small benchmarks and a short time budget, so it takes seconds.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_project, doit

from fluidbench import chart, native, report, suite
from fluidbuild.errors import FluidError
from fluidbuild.model import PyAction, TaskSpec
from fluidbuild.testing import PluginTest

REDUCED = """\
benchmarks:
  - {name: matrix_mul, size: 40, iterations: 2}
  - {name: fft_1d, size: 256, iterations: 2}
  - {name: regex_dfa, size: 16384, iterations: 2}

bench:
  extra: [{name: matrix_mul, size: 64}]
  seconds: 0.01
  host_repeat: 2
"""
ROWS = [("matrix_mul", 40), ("fft_1d", 256), ("regex_dfa", 16384), ("matrix_mul", 64)]
NATIVE = {("x86_64", "generic"), ("x86_64", "tuned"), ("i386", "generic"), ("i386", "tuned")}


@pytest.fixture(scope="module")
def benched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    """A project copy after ``doit bench``: (tree, its output, results.json)."""
    tree = copy_project(tmp_path_factory.mktemp("bench") / "fluid")
    manifest = tree / "manifest.yaml"
    text = manifest.read_text()
    manifest.write_text(text[: text.index("benchmarks:\n")] + REDUCED)
    doit(tree, "-n", "2", "image", "native_x86_64", "native_i386")
    # Serially: doit's Python actions swap the process-wide sys.stdout, so a
    # thread-parallel run can lose the progress lines of one running beside them.
    proc = doit(tree, "bench", timeout=300)
    return tree, proc.stdout, json.loads((tree / "build/bench/results.json").read_text())


def entries(doc: dict[str, Any], env: str) -> list[dict[str, Any]]:
    return [r for r in doc["results"] if r["env"] == env]


def test_progress_and_accelerator_are_reported(benched: tuple[Path, str, dict[str, Any]]) -> None:
    _, out, doc = benched
    steps = len(ROWS) * 5 + 2
    assert f"bench: [ 1/{steps}] native x86_64 generic matrix_mul n=40:" in out
    assert f"bench: [{steps}/{steps}] in kernel" in out
    accel = doc["accelerator"]
    assert f"accelerator: {accel['note']}" in out
    assert accel["chosen"] in ("tcg", "kvm") and accel["tcg_s"] > 0
    if accel["chosen"] == "tcg":
        assert accel["emulated"] and "emulated" in out
    assert doc["command"] == "doit bench" and doc["date"]
    assert doc["machine"]["cpu_model"] and doc["machine"]["machine"]
    assert doc["cpu_profile"]["tag"] and doc["kernel"]["note"]


def test_native_and_host_entries_cover_every_row(benched: tuple[Path, str, dict[str, Any]]) -> None:
    _, _, doc = benched
    tag = doc["cpu_profile"]["tag"]
    for name, size in ROWS:
        runs = [r for r in entries(doc, "native") if (r["name"], r["size"]) == (name, size)]
        assert {(r["arch"], r["variant"]) for r in runs} == NATIVE, (name, size)
        for r in runs:
            assert r["throughput"] > 0 and r["iterations"] >= 1 and r["min_ns"] > 0 and r["unit"]
            assert r["checksum"].startswith("0x")
            assert r["tag"] == f"{name}_{tag if r['variant'] == 'tuned' else 'generic'}"
        assert len({r["checksum"] for r in runs}) == 1, "one checksum for every build"
        hosts = [r for r in entries(doc, "host") if (r["name"], r["size"]) == (name, size)]
        assert hosts and all(h["throughput"] > 0 and h["label"] for h in hosts), (name, size)
    labels = {h["label"] for h in entries(doc, "host") if h["name"] == "regex_dfa"}
    assert labels == {"google-re2", "python re"}


def test_kernel_entries_match_native_i386(benched: tuple[Path, str, dict[str, Any]]) -> None:
    tree, _, doc = benched
    kernel = entries(doc, "kernel")
    assert [(k["name"], k["size"]) for k in kernel] == ROWS[:3], "the manifest's sizes, not the extra"
    eligible = doc["kernel"]["eligible"]
    assert doc["kernel"]["chosen"] == {k["name"]: k["variant"] for k in kernel}
    for k in kernel:
        assert k["throughput"] > 0 and k["tag"] == f"{k['name']}_{k['variant']}"
        assert k["variant"] in eligible, "the kernel runs a variant it measured at boot"
        assert k["chosen_by"] == "measured" and k["variant"] in {c["variant"] for c in k["candidates"]}
        assert k["emulated"] == (k["accel"] == "tcg")
        # Independently of the task's own check: the built i386 runner's generic variant, same
        # size (every variant computes the same result).
        runner = tree / native.runner_path("build", "native_i386")
        assert native.run(runner, k["name"], "generic", k["size"], 1)["checksum"] == k["checksum"]
    assert len(doc["checks"]) == len(kernel) and all(c["ok"] for c in doc["checks"])


def test_markdown_and_chart_are_written(benched: tuple[Path, str, dict[str, Any]]) -> None:
    tree, out, _ = benched
    table = (tree / "build/bench/results.md").read_text()
    assert "| benchmark | size | x86-64 generic |" in table
    assert len([line for line in table.splitlines() if line.startswith("| ")]) == len(ROWS) + 1
    assert "3 of 3 in-kernel checksums equal" in table
    png = tree / "build/bench/results.png"
    if importlib.util.find_spec("matplotlib"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert not png.exists() and "matplotlib is not installed" in out


# -- pieces, without running anything -------------------------------------------------


BOOTABLE = """\
  stage1: {plugin: nasm, sources: [boot/stage1.asm]}
  stage2: {plugin: nasm, sources: [boot/stage2.asm]}
  kernel: {plugin: nasm, sources: [boot/kernel.asm]}
image:
  parts: {stage1: stage1, stage2: stage2, kernel: kernel}
  layout:
    - {part: stage1, lba: 0, sectors: 1}
    - {part: stage2, lba: 1, sectors: 8}
    - {part: kernel, lba: 9}
run: {default: {}}
benchmarks: [{name: fft_1d}]
"""
BOOTABLE_FILES = ("boot/stage1.asm", "boot/stage2.asm", "boot/kernel.asm", "src/bench/fft_1d.c",
                  "src/bench/native/start.c")


def declare(root: Path, arches: tuple[str, ...], sections: str = "") -> list[TaskSpec]:
    """The ``bench`` plugin's tasks for a bootable manifest with a ``native`` runner target per
    arch (declared first, so their outputs are the runners), fft_1d as the only benchmark and
    ``sections`` (manifest text) besides."""
    runners = "".join(f"  native_{arch}: {{plugin: native, sources: [src/bench/fft_1d.c], "
                      f"options: {{arch: {arch}, runtime: [src/bench/native/start.c]}}}}\n"
                      for arch in arches)
    kit = PluginTest(root, f"targets:\n{runners}{BOOTABLE}{sections}",
                     files=dict.fromkeys(BOOTABLE_FILES, ""))
    for arch in arches:
        kit.target_tasks(f"native_{arch}")
    return kit.project_tasks(plugin="bench")


def test_bench_task_depends_on_runners_and_image(tmp_path: Path) -> None:
    [task] = declare(tmp_path, ("x86_64", "i386"))
    assert task.name == "bench" and task.always and task.verbosity == 2 and task.doc
    assert task.file_dep == ["build/native_x86_64/runner", "build/native_i386/runner", "build/fluid.img"]
    settings = task.actions[0].kwargs["settings"]
    assert settings == {"extra": [], "seconds": 0.3, "host_repeat": 10, "runners": {}}, \
        "defaults without a section"


def test_bench_runners_may_be_named_instead_of_found_by_plugin(tmp_path: Path) -> None:
    """Runners built by another plugin than `native`: bench.runners names their targets."""
    swapped = "bench: {runners: {x86_64: native_i386, i386: native_x86_64}}\n"
    [task] = declare(tmp_path, ("x86_64", "i386"), swapped)
    assert task.file_dep[:2] == ["build/native_i386/runner", "build/native_x86_64/runner"]


def test_bench_task_without_runners_fails_only_when_run(tmp_path: Path) -> None:
    [task] = declare(tmp_path, ("x86_64",))
    assert "cannot run: no target of plugin 'native' with arch i386" in task.doc
    action = task.actions[0]
    assert isinstance(action, PyAction)
    with pytest.raises(FluidError, match="doit bench cannot run"):
        action.func(**action.kwargs)


def test_extra_size_of_unknown_benchmark_is_named(tmp_path: Path) -> None:
    [task] = declare(tmp_path, ("x86_64", "i386"),
                     "bench: {extra: [{name: gemm_tile, size: 512}], seconds: 1.0, host_repeat: 1}\n")
    assert "bench.extra names gemm_tile, not in the manifest's benchmarks" in task.doc


def test_checksum_mismatch_is_flagged_and_tabled() -> None:
    def entry(env: str, checksum: str, **extra: Any) -> dict[str, Any]:
        return {"env": env, "name": "fft_1d", "size": 256, "variant": "generic", "unit": "point",
                "throughput": 1e6, "checksum": checksum, **extra}

    results = [entry("native", "0x1", arch=arch, variant=variant) for arch, variant in sorted(NATIVE)]
    results.append(entry("kernel", "0x2"))
    checks = suite._checks(results)
    assert checks == [{"name": "fft_1d", "size": 256, "variant": "generic", "kernel": "0x2",
                       "native_i386": "0x1", "ok": False}]
    doc = {"command": "doit bench", "date": "d", "results": results, "checks": checks,
           "machine": {"cpu_model": "cpu", "machine": "x86_64", "cores": 2},
           "cpu_profile": {"tag": "AVX2", "clang_flags": ["-march=haswell"]},
           "accelerator": {"chosen": "tcg", "note": "TCG", "emulated": True},
           "kernel": {"note": "generic"}, "settings": {"host_repeat": 1}}
    text = report.markdown(doc)
    assert "0 of 1 in-kernel checksums equal" in text
    assert "**Checksum mismatches:**" in text and "kernel 0x2, native i386 0x1" in text


def test_chart_is_skipped_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert chart.write({"results": []}, str(tmp_path / "x.png")) is False
    assert not (tmp_path / "x.png").exists()
