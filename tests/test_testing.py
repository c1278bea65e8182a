"""fluidbuild.testing: the plugin authors' kit, and the README's example of it."""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import pytest
from conftest import ROOT

from fluidbuild.errors import FluidError, ManifestError, PluginError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import Command, PyAction, TargetResult, TaskSpec, Tool
from fluidbuild.schema import Field, Int, Map
from fluidbuild.testing import CPU_PROFILE, PluginTest


class Stage:
    """A plugin object: copies its sources, then its inputs, into one output; one project task."""

    __version__ = "3.1.4"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.cwd = ""

    @hookimpl
    def fluidbuild_options_schema(self) -> Map:
        return Map({"level": Field(Int(minimum=0, maximum=3), default=1)})

    @hookimpl
    def fluidbuild_target_tasks(self, target, inputs, ctx) -> TargetResult:
        self.calls.append((target.name, list(inputs)))
        self.cwd = os.getcwd()
        if target.options["level"] == 0:
            raise RuntimeError("level 0 is not implemented")
        tool = ctx.tools("cc")
        out = ctx.out(target.name, "out.o")
        argv = [tool.path, f"-O{target.options['level']}", *target.sources, *inputs, "-o", out]
        task = TaskSpec(target.name, "stage", [Command(argv, [out])], file_dep=[*target.sources, *inputs],
                        targets=[out], config={"tool": tool.identity(), "cpu": ctx.cpu_profile["tag"],
                                               "variables": ctx.variables})
        return TargetResult([task], [out])

    @hookimpl
    def fluidbuild_tasks(self, manifest, ctx, outputs) -> list[TaskSpec]:
        deps = [path for name in sorted(outputs) for path in outputs[name]]
        return [TaskSpec("pack", "pack every output", [PyAction(print)], file_dep=deps)]


CHAIN = """
    targets:
      first: {plugin: stage, sources: [src/a.c]}
      second: {plugin: stage, sources: ["src/*.h"], deps: [first], options: {level: 3}}
    """
FILES = {"src/a.c": "int a;\n", "src/b.h": b"\x00", "src/c.h": ""}


def test_a_target_is_declared_with_the_validated_model_and_fake_tools(tmp_path: Path) -> None:
    stage = Stage()
    kit = PluginTest(tmp_path, CHAIN, plugins={"stage": stage}, files=FILES)
    assert (tmp_path / "manifest.yaml").read_text().startswith("\ntargets:\n  first:")
    assert (tmp_path / "src/b.h").read_bytes() == b"\x00"
    assert kit.manifest.targets["second"].sources == ("src/b.h", "src/c.h"), "globs expanded"
    assert kit.manifest.targets["first"].options == {"level": 1}, "option defaults filled"
    result = kit.target_tasks("first")
    [task] = result.tasks
    assert task.actions[0].argv == ["/usr/bin/cc", "-O1", "src/a.c", "-o", "build/first/out.o"]
    assert task.config == {"tool": {"path": "/usr/bin/cc", "version": "test"}, "cpu": CPU_PROFILE["tag"],
                           "variables": {}}
    assert kit.outputs == {"first": ["build/first/out.o"]}
    assert stage.cwd == str(tmp_path) != os.getcwd(), "plugins run in the project, as under doit"
    assert kit.ctx.root == str(tmp_path) and kit.ctx.build_dir == "build"
    assert kit.plugins.info["stage"].version == "3.1.4"


def test_inputs_are_the_deps_outputs_declared_on_demand(tmp_path: Path) -> None:
    stage = Stage()
    kit = PluginTest(tmp_path, CHAIN, plugins={"stage": stage}, files=FILES)
    [task] = kit.target_tasks("second").tasks
    assert stage.calls == [("first", []), ("second", ["build/first/out.o"])]
    assert task.file_dep == ["src/b.h", "src/c.h", "build/first/out.o"]
    kit.target_tasks("second", inputs=["other.o"])
    assert stage.calls[-1] == ("second", ["other.o"]), "given inputs win"


def test_tools_profile_and_variables_can_be_given(tmp_path: Path) -> None:
    cc = Tool("cc", "/opt/cc-9/bin/cc", "cc 9.0")
    kit = PluginTest(tmp_path, CHAIN, plugins={"stage": Stage()}, files=FILES, tools={"cc": cc},
                     cpu_profile={**CPU_PROFILE, "tag": "AVX2"}, variables={"profile": "lba"})
    [task] = kit.target_tasks("first").tasks
    assert task.actions[0].argv[0] == "/opt/cc-9/bin/cc"
    assert task.config == {"tool": cc.identity(), "cpu": "AVX2", "variables": {"profile": "lba"}}
    assert kit.tool("nasm") == Tool("nasm", "/usr/bin/nasm", "test")


def test_project_tasks_get_the_recorded_or_given_outputs(tmp_path: Path) -> None:
    kit = PluginTest(tmp_path, CHAIN, plugins={"stage": Stage()}, files=FILES)
    kit.target_tasks("second")
    [pack] = kit.project_tasks(plugin="stage")
    assert pack.file_dep == ["build/first/out.o", "build/second/out.o"]
    assert kit.project_tasks({}, plugin="stage")[0].file_dep == [], "given outputs win, even none"
    everything = kit.project_tasks()
    assert pack.name in {t.name for t in everything} and len(everything) > 1, "the built-ins' too"
    with pytest.raises(PluginError, match="no plugin named 'nope' is installed"):
        kit.project_tasks(plugin="nope")
    with pytest.raises(PluginError, match="'nasm' failed in hook fluidbuild_tasks: the plugin does not "
                                          "implement this hook"):
        kit.project_tasks(plugin="nasm")


def test_built_in_plugins_are_loaded_and_can_be_replaced(tmp_path: Path) -> None:
    kit = PluginTest(tmp_path, """
        targets:
          boot: {plugin: nasm, sources: [src/boot.asm], options: {size: 512}}
        """, files={"src/boot.asm": "jmp $\n"})
    [task] = kit.target_tasks("boot").tasks
    assert task.targets == ["build/boot/boot.bin"] and task.config["tool"]["path"] == "/usr/bin/nasm"
    stage = Stage()
    kit = PluginTest(tmp_path, """
        targets:
          boot: {plugin: nasm, sources: [src/boot.asm], options: {level: 2}}
        """, plugins={"nasm": stage})
    kit.target_tasks("boot")
    assert stage.calls == [("boot", [])] and kit.plugins.info["nasm"].origin == "test plugin object"


def test_manifest_errors_are_the_users(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest\.yaml:3: manifest error at "
                                            r"'targets\.first\.options\.level': expected an integer"):
        PluginTest(tmp_path, """
            targets:
              first: {plugin: stage, sources: [src/a.c], options: {level: high}}
            """, plugins={"stage": Stage()}, files=FILES)
    with pytest.raises(ManifestError, match=r"source file 'src/missing\.c' does not exist"):
        PluginTest(tmp_path, "targets:\n  t: {plugin: stage, sources: [src/missing.c]}\n",
                   plugins={"stage": Stage()})
    with pytest.raises(ManifestError, match="no plugin named 'stage' is installed"):
        PluginTest(tmp_path, CHAIN, files=FILES)


def test_a_raising_plugin_is_named(tmp_path: Path) -> None:
    kit = PluginTest(tmp_path, "targets:\n  t: {plugin: stage, options: {level: 0}}\n",
                     plugins={"stage": Stage()})
    with pytest.raises(PluginError, match="plugin 'stage' failed in hook fluidbuild_target_tasks: "
                                          "RuntimeError: level 0 is not implemented"):
        kit.target_tasks("t")
    assert issubclass(PluginError, FluidError)


def test_readme_example_runs_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README "Writing a plugin": the plugin is examples/fluid_lba_stage2's, as it ships (that
    package's build and boot are tests/test_examples.py), then its test with the kit."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Writing a plugin"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    plugin_code = next(b for b in blocks if b.startswith("# fluid_lba_stage2/__init__.py"))
    shipped = ROOT / "examples/fluid_lba_stage2/src/fluid_lba_stage2/__init__.py"
    assert plugin_code == shipped.read_text(), "the README prints the example package's plugin"
    test_code = next(b for b in blocks if "from fluidbuild.testing import PluginTest" in b)
    plugin = types.ModuleType("fluid_lba_stage2")
    plugin.__file__ = str(shipped)  # its sources are found beside it
    exec(compile(plugin_code, str(shipped), "exec"), plugin.__dict__)
    monkeypatch.setitem(sys.modules, "fluid_lba_stage2", plugin)
    namespace: dict[str, object] = {}
    exec(compile(test_code, "README.md (test_lba_stage2.py)", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert len(tests) == 1
    tests[0](tmp_path)
