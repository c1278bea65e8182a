"""Manifest validation: every mistake gives one clear message with file, line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import copy_project, doit

from fluidbuild.errors import ManifestError, PluginError
from fluidbuild.manifest import load


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("manifests") / "fluid")


def default_text(project: Path) -> str:
    return (project / "manifest.yaml").read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# The default manifest's boot modules (the model and settings of `doit run profile=llama`).
DEFAULT_MODULES = ("  modules:\n    - {name: model, target: model_260k, output: 0}\n"
                   "    - {name: tokenizer, target: model_260k, output: 1}\n"
                   "    - {name: infer, target: infer_settings}\n")


def modules(value: str) -> tuple[str, str]:
    """The edit making the default manifest's ``image.modules`` ``<value>``."""
    return DEFAULT_MODULES, f"  modules: {value}\n"


# (id, edit of the default manifest: (old, new), substring of the line the
# error must name (None: no line), substrings the message must contain)
CASES = [
    ("yaml-syntax", ("  stage1:\n", "  stage1: [\n"), None, ["invalid YAML"]),
    ("python-tag", ("project: {name: fluid-os, version: 0.1.0}",
                    "project: !!python/object/apply:os.system [ls]"), None, ["invalid YAML"]),
    ("unknown-top-key", ("build_dir: build", "build_dir: build\ntargts: {}"), "targts:",
     ["unknown key 'targts'", "did you mean 'targets'"]),
    ("unknown-target-key", ("    sources: [src/boot/stage1.asm]", "    source: [src/boot/stage1.asm]"),
     "source: [src/boot/stage1.asm]", ["targets.stage1.source", "did you mean 'sources'"]),
    ("missing-plugin", ("    plugin: nasm\n    doc: stage 1", "    doc: stage 1"), "  stage1:",
     ["targets.stage1", "missing required key 'plugin'"]),
    ("wrong-type", ("  disk: floppy", "  disk: floppy\n  hdd_mib: big"), "hdd_mib: big",
     ["image.hdd_mib", "expected an integer", "'big'"]),
    ("bad-choice", ("  disk: floppy", "  disk: flopy"), "disk: flopy",
     ["image.disk", "expected one of floppy, hdd"]),
    ("path-escapes", ("sources: [src/boot/stage1.asm]", "sources: [../../etc/passwd]"),
     "../../etc/passwd", ["targets.stage1.sources[0]", "escapes the project root"]),
    ("absolute-path", ("sources: [src/boot/stage1.asm]", "sources: [/etc/passwd]"), "/etc/passwd",
     ["expected a relative path inside the project"]),
    ("glob-no-match", ("sources: [src/kernel/*.asm]", "sources: [src/nothing/*.asm]"),
     "src/nothing/*.asm", ["targets.kernel_asm.sources", "matches no file"]),
    ("missing-source", ("sources: [src/boot/stage1.asm]", "sources: [src/boot/stage9.asm]"),
     "stage9.asm", ["does not exist"]),
    ("unknown-dep", ("deps: [kernel_elf]", "deps: [kernel_elfx]"), "deps: [kernel_elfx]",
     ["targets.kernel_flat.deps[0]", "unknown target 'kernel_elfx'"]),
    ("cycle", ("    deps: [bench_registry]", "    deps: [bench_registry, kernel]"), None,
     ["dependency cycle", "registry_ir"]),
    ("unknown-plugin", ("    plugin: flatten", "    plugin: flattenx"), "plugin: flattenx",
     ["plugin 'flattenx'", "fluidbuild_target_tasks", "no plugin named 'flattenx' is installed"]),
    ("plugin-option-typo", ("options: {format: bin, size: 512,", "options: {fromat: bin, size: 512,"),
     "fromat", ["targets.stage1.options.fromat", "did you mean 'format'"]),
    ("plugin-option-type", ("size: 512,", "size: '512',"), "size: '512'",
     ["targets.stage1.options.size", "expected an integer"]),
    ("duplicate-key", ("  stage2:\n", "  stage1:\n    plugin: nasm\n  stage2:\n"), None,
     ["duplicate key", "stage1"]),
    ("no-default-run", ("  default: {cpu: max", "  dflt: {cpu: max"), "run:",
     ["a run profile named 'default' is required"]),
    ("cpu-mode", ("  mode: host", "  mode: hots"), "mode: hots",
     ["cpu_profile.mode", "expected one of host, pinned, generic"]),
    ("plugin-section", ("  - {name: matrix_mul, size: 128, iterations: 2}", "  - {size: 128, iterations: 2}"),
     "  - {size: 128", ["benchmarks[0]", "missing required key 'name'"]),
    ("layout-part", ("    - {part: kernel, lba: 9}", "    - {part: kernl, lba: 9}"), None,
     ["image.layout", "part 'kernl'"]),
    ("module-unknown-target", modules("[{name: m, target: nope}]"), "modules: [{name: m, target: nope}]",
     ["image.modules[0].target", "unknown target 'nope'"]),
    ("module-target-and-path", modules("[{name: m, target: kernel, path: dodo.py}]"), "modules: [",
     ["image.modules[0]", "exactly one of 'target' (a target's output) and 'path'"]),
    ("module-neither", modules("[{name: m}]"), "modules: [{name: m}]",
     ["image.modules[0]", "exactly one of 'target'"]),
    ("module-output-with-path", modules("[{name: m, path: dodo.py, output: 1}]"), "modules: [",
     ["image.modules[0]", "'output' picks one of a target's outputs"]),
    ("module-name-too-long", modules("[{name: name_of_sixteen1, path: dodo.py}]"), "name_of_sixteen1",
     ["image.modules[0].name", "is 16 characters; at most 15 fit the boot info's 16-byte name"]),
    ("module-name-pattern", modules("[{name: Model, path: dodo.py}]"), "modules: [{name: Model",
     ["image.modules[0].name", "expected a string matching"]),
    ("module-name-twice", modules("\n  - {name: m, path: dodo.py}\n  - {name: m, target: kernel}"),
     "{name: m, target: kernel}", ["image.modules[1]", "name 'm' is already taken by image.modules[0]"]),
    ("too-many-modules", modules("[" + ", ".join(f"{{name: m{i}, path: dodo.py}}" for i in range(9)) + "]"),
     "modules: [", ["image.modules", "expected at most 8 item(s), got 9"]),
    ("options-for-optionless-plugin", ("    plugin: flatten\n", "    plugin: flatten\n    options: {x: 1}\n"),
     None, ["takes no options"]),
]


@pytest.mark.parametrize("edit,line_needle,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_manifest(project: Path, edit: tuple[str, str], line_needle: str | None,
                      expected: list[str]) -> None:
    text = default_text(project)
    assert edit[0] in text, f"test edit {edit[0]!r} no longer matches manifest.yaml"
    bad = text.replace(edit[0], edit[1], 1)
    (project / "bad.yaml").write_text(bad)
    with pytest.raises((ManifestError, PluginError)) as info:
        load("bad.yaml", str(project))
    message = str(info.value)
    assert message.startswith("bad.yaml"), message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    if line_needle is not None:
        assert f"bad.yaml:{line_of(bad, line_needle)}:" in message, message


def test_missing_manifest_file(project: Path) -> None:
    with pytest.raises(ManifestError, match=r"no-such\.yaml: manifest error: cannot read manifest"):
        load("no-such.yaml", str(project))


def test_top_level_must_be_a_mapping(project: Path) -> None:
    (project / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ManifestError, match=r"list\.yaml:1: .*expected a mapping at the top level"):
        load("list.yaml", str(project))


def test_bad_manifest_through_doit_exits_2_without_traceback(project: Path) -> None:
    bad = default_text(project).replace("  disk: floppy", "  disk: flopy")
    (project / "bad.yaml").write_text(bad)
    proc = doit(project, "image", "manifest=bad.yaml", check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors == [f"fluidbuild: error: bad.yaml:{line_of(bad, 'disk: flopy')}: manifest error "
                      "at 'image.disk': expected one of floppy, hdd, got 'flopy'"]


def test_valid_manifest_loads(project: Path) -> None:
    manifest, plugins = load("manifest.yaml", str(project))
    assert manifest.targets["stage1"].options["size"] == 512
    assert manifest.sections["image"]["disk"] == "floppy"
    assert manifest.sections["run"]["default"]["accel"] == "tcg"
    assert {"nasm", "clang_ir", "llvm_link", "codegen", "link", "flatten", "stamp", "image", "qemu",
            "cpu_flags", "bench_registry"} <= set(plugins.info)


def test_local_plugin_must_exist(project: Path) -> None:
    (project / "lp.yaml").write_text(textwrap.dedent("""\
        local_plugins: {ghost: plugins_here/ghost.py}
        """))
    with pytest.raises(ManifestError,
                       match=r"lp\.yaml:1: .*'plugins_here/ghost\.py' for 'ghost' does not exist"):
        load("lp.yaml", str(project))
