"""Hostile manifests: one clear message naming the file and line, no traceback, bounded cost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import copy_project, doit

from fluidbuild.errors import ManifestError
from fluidbuild.manifest import load

ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['x'] * 9)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("bad") / "fluid")


def base(project: Path) -> bytes:
    return (project / "manifest.yaml").read_bytes()


def chain(n: int) -> bytes:
    lines = ["  t0: {plugin: bench_registry, sources: [src/bench/fft_1d.c]}"]
    lines += [f"  t{i}: {{plugin: bench_registry, sources: [src/bench/fft_1d.c], deps: [t{i - 1}]}}"
              for i in range(1, n)]
    return ("\n".join(lines) + "\n").encode()


CASES = [
    ("non-utf8", lambda b: b.replace(b"project:", b"\xff\xfeproject:", 1), "not UTF-8 text"),
    ("nul", lambda b: b.replace(b"build_dir: build", b"build_dir: bu\x00ild", 1), "character 0x00"),
    ("control", lambda b: b.replace(b"build_dir: build", b"build_dir: bu\x07ild", 1), "character 0x07"),
    ("deep", lambda b: b + b"x: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nesting deeper than"),
    ("alias-bomb", lambda b: ALIAS_BOMB.encode() + b, "expands to more than"),
    ("long-name",
     lambda b: b.replace(b"  stage1:\n", b"  " + b"s" * 300 + b": {plugin: nasm}\n  stage1:\n", 1),
     "invalid name"),
    ("reserved-name", lambda b: b.replace(b"  stage1:\n", b"  clean: {plugin: nasm}\n  stage1:\n", 1),
     "'clean' is a doit command"),
    ("toolchain-typo", lambda b: b.replace(b"  clang: [clang-22", b"  clnag: [clang-22", 1),
     "no plugin declares a tool named 'clnag' (did you mean 'clang'?)"),
    ("build-dir-escapes", lambda b: b.replace(b"build_dir: build", b"build_dir: ../elsewhere", 1),
     "escapes the project root"),
    ("unbootable-stage2", lambda b: b.replace(b"{part: stage2, lba: 1, sectors: 8}",
                                              b"{part: stage2, lba: 1, sectors: 7}", 1),
     "at LBA 1 must be 8 sector(s) for the loader"),
    ("unbootable-kernel", lambda b: b.replace(b"{part: kernel, lba: 9}", b"{part: kernel, lba: 10}", 1),
     "the loader needs a part at LBA 9"),
    ("huge-disk", lambda b: b.replace(b"  disk: floppy", b"  disk: hdd\n  hdd_mib: 99999999999", 1),
     "expected an integer"),
    ("benchmark-twice", lambda b: b.replace(b"  - {name: fft_1d, size: 4096, iterations: 2}\n",
                                            b"  - {name: fft_1d, size: 4096, iterations: 2}\n"
                                            b"  - {name: fft_1d, size: 1024}\n", 1),
     "name 'fft_1d' is already taken"),
]


@pytest.mark.parametrize("mutate,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_manifest_is_one_clear_error(project: Path, mutate, message: str) -> None:
    (project / "bad.yaml").write_bytes(mutate(base(project)))
    start = time.monotonic()
    with pytest.raises(ManifestError) as info:
        load("bad.yaml", str(project))
    assert time.monotonic() - start < 5, "bounded cost"
    text = str(info.value)
    assert text.startswith("bad.yaml") and message in text
    assert len(text) < 600, "values in messages are cut short"


def test_long_dependency_chain_loads(project: Path) -> None:
    (project / "chain.yaml").write_bytes(base(project).replace(b"targets:\n", b"targets:\n" + chain(1500), 1))
    manifest, _ = load("chain.yaml", str(project))
    assert len(manifest.targets) > 1500


def test_cycle_in_a_long_chain_is_named(project: Path) -> None:
    text = base(project).replace(b"targets:\n", b"targets:\n" + chain(1500), 1)
    text = text.replace(b"  t0: {plugin: bench_registry, sources: [src/bench/fft_1d.c]}",
                        b"  t0: {plugin: bench_registry, sources: [src/bench/fft_1d.c], deps: [t1499]}")
    (project / "cycle.yaml").write_bytes(text)
    with pytest.raises(ManifestError, match="dependency cycle: t0 -> t1499 -> "):
        load("cycle.yaml", str(project))


def test_symlinked_build_dir_outside_the_project_is_refused(tmp_path: Path) -> None:
    tree = copy_project(tmp_path / "fluid")
    (tmp_path / "outside").mkdir()
    (tree / "build").symlink_to(tmp_path / "outside")
    with pytest.raises(ManifestError, match=r"resolves to .*outside, outside the project"):
        load("manifest.yaml", str(tree))


def test_outputs_must_stay_in_the_build_directory(tmp_path: Path) -> None:
    tree = copy_project(tmp_path / "fluid")
    text = (tree / "manifest.yaml").read_text()
    (tree / "m1.yaml").write_text(text.replace("  default: {cpu: max,",
                                               "  default: {serial_log: src/kernel/kernel.c, cpu: max,"))
    proc = doit(tree, "list", "manifest=m1.yaml", check=False)
    assert proc.returncode == 2 and "serial_log 'src/kernel/kernel.c' must be inside the build" in proc.stderr
    (tree / "m2.yaml").write_text(text.replace("  disk: floppy", "  disk: floppy\n  output: src/x.img"))
    proc = doit(tree, "list", "manifest=m2.yaml", check=False)
    assert proc.returncode == 2 and "image.output 'src/x.img' must be inside the build" in proc.stderr


def test_plugin_calling_sys_exit_is_reported(tmp_path: Path) -> None:
    tree = copy_project(tmp_path / "fluid")
    (tree / "quitter.py").write_text(
        "import sys\nfrom fluidbuild.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef fluidbuild_target_tasks(target, ctx):\n    sys.exit(0)\n")
    text = (tree / "manifest.yaml").read_text().replace(
        "targets:\n", "local_plugins: {quitter: quitter.py}\ntargets:\n  q: {plugin: quitter}\n", 1)
    (tree / "manifest.yaml").write_text(text)
    proc = doit(tree, "image", check=False)
    assert proc.returncode != 0 and "plugin 'quitter'" in proc.stderr and "sys.exit(0)" in proc.stderr
