"""The plugin API: hooks called through pluggy (trace, wrappers, functools.wraps, firstresult),
one-line errors naming plugin and hook (tracebacks on request), which installed plugins a
manifest uses, broken and refused packages, API versions, ``requires:``, plugin settings,
run inputs, FATAL codes, and ``doit plugins``.

Installed packages are simulated with entry points added to the real ones
(:class:`FakeEntryPoint`); everything runs through :mod:`fluidbuild.testing` with fake tools.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fluidbench.qemu import BootResult, loader_errors
from fluidbuild import errors, hookspecs, manifest, plugin
from fluidbuild.errors import ManifestError, PluginError
from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import Benchmark, Command, FatalCode, Placement, PyAction, TargetResult, TaskSpec
from fluidbuild.schema import Field, Int, Map, TargetRef
from fluidbuild.testing import PluginTest

# -- simulated packages ----------------------------------------------------------------


@dataclass
class FakeDist:
    name: str
    version: str

    @property
    def metadata(self) -> dict[str, str]:
        return {"Name": self.name, "Version": self.version}


@dataclass
class FakeEntryPoint:
    """What importlib.metadata gives for a package's ``fluidbuild.plugins`` entry point."""

    name: str
    target: Any  # the plugin object, or an exception its import raises
    dist: FakeDist

    @property
    def value(self) -> str:
        return f"{self.dist.name.replace('-', '_')}"

    def load(self) -> Any:
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``installed(name, plugin_or_exception, dist="pkg 1.0")`` makes a package's plugin appear."""
    fakes: list[FakeEntryPoint] = []
    real = plugin.entry_points
    monkeypatch.setattr(plugin, "entry_points", lambda group: [*real(group=group), *fakes])

    def add(name: str, target: Any, dist: str = "fluid-pkg 1.0") -> None:
        dist_name, version = dist.split()
        fakes.append(FakeEntryPoint(name, target, FakeDist(dist_name, version)))

    return add


def files(*names: str) -> dict[str, str]:
    return dict.fromkeys(names, "")


class Stage:
    """A target plugin writing one output per target."""

    __version__ = "2.0"

    @hookimpl
    def fluidbuild_target_tasks(self, target, ctx):
        out = ctx.out(target.name, "out.bin")
        return TargetResult([TaskSpec(target.name, "stage", [Command(["/bin/true", out], [out])],
                                      targets=[out])], [out])


ONE_TARGET = "targets:\n  t: {plugin: stage}\n"


# -- hooks go through pluggy -------------------------------------------------------------


def test_trace_prints_every_facade_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLUIDBUILD_TRACE", "1")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage()})
    kit.target_tasks("t")
    kit.project_tasks()
    err = capsys.readouterr().err
    for hook in ("fluidbuild_manifest_sections", "fluidbuild_tools", "fluidbuild_target_tasks",
                 "fluidbuild_tasks", "fluidbuild_fatal_codes", "fluidbuild_benchmarks"):
        assert re.search(rf"^fluidbuild-trace: +{hook} \[hook\]$", err, re.M), hook
    assert all(len(line) <= plugin.TRACE_LINE_CHARS + len("fluidbuild-trace: ") for line in err.splitlines())


class Wrappers:
    """New-style and old-style wrappers around other plugins' hooks."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)  # a single hook: the wrapper gets the one result itself
    def fluidbuild_target_tasks(self, target) -> Generator[None, TargetResult, TargetResult]:
        result = yield
        self.seen.append(f"new:{target.name}")
        result.tasks[0].config["wrapped"] = True
        return result

    @hookimpl(hookwrapper=True)
    def fluidbuild_qemu_command(self, debug):
        outcome = yield
        self.seen.append(f"old:{debug}")
        outcome.force_result([*outcome.get_result(), "-smp", "2"])


QEMU_MANIFEST = ONE_TARGET + "run: {default: {}}\n"


def test_wrappers_wrap_single_hooks_of_other_plugins(tmp_path: Path) -> None:
    wrappers = Wrappers()
    kit = PluginTest(tmp_path, QEMU_MANIFEST, plugins={"stage": Stage(), "wrappers": wrappers})
    [task] = kit.target_tasks("t").tasks
    assert task.config["wrapped"] is True and wrappers.seen == ["new:t"]
    from fluidbench.qemu import RunProfile

    profile = RunProfile.from_section("default", kit.manifest.sections["run"]["default"], "build")
    argv = kit.ctx.qemu_command(profile, "build/fluid.img")
    assert argv[-2:] == ["-smp", "2"] and wrappers.seen[-1] == "old:False"


class BadWrapper:
    @hookimpl(wrapper=True)
    def fluidbuild_target_tasks(self):
        yield
        raise ValueError("the wrapper broke")


def test_a_raising_wrapper_is_named_in_one_line(tmp_path: Path) -> None:
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage(), "bad": BadWrapper()})
    with pytest.raises(PluginError, match=r"^plugin 'bad' failed in hook fluidbuild_target_tasks: "
                                          r"ValueError: the wrapper broke$"):
        kit.target_tasks("t")


def logged(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return wrapper


class Decorated:
    @hookimpl
    @logged
    def fluidbuild_target_tasks(self, target, inputs, ctx):
        out = ctx.out(target.name, f"{len(inputs)}.bin")
        return TargetResult([TaskSpec(target.name, "decorated", [], targets=[out])], [out])


def test_an_implementation_behind_functools_wraps_gets_its_arguments(tmp_path: Path) -> None:
    kit = PluginTest(tmp_path, ONE_TARGET.replace("stage", "deco"), plugins={"deco": Decorated()})
    assert kit.target_tasks("t").outputs == ["build/t/0.bin"]


class Profiles:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    @hookimpl
    def fluidbuild_cpu_profile(self, request):
        return {"tag": self.tag, "mode": request["mode"]}


class ProfileWrapper:
    @hookimpl(wrapper=True)
    def fluidbuild_cpu_profile(self):
        profile = yield
        return {**profile, "wrapped": True}


def test_the_cpu_profile_comes_from_the_plugin_the_manifest_names(tmp_path: Path, installed) -> None:
    installed("takeover", Profiles("TAKEOVER"), "fluid-takeover 1.0")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage()})
    assert "takeover" in kit.plugins.info and kit.manifest.cpu_profile["plugin"] == "cpu_flags"
    assert kit.plugins.implements("takeover", "fluidbuild_cpu_profile")
    report = kit.plugins.report()
    assert "CPU profile (single result): 'cpu_flags', named by cpu_profile.plugin; also implemented by " \
           "takeover, used only where a manifest names it" in report
    named = PluginTest(tmp_path, ONE_TARGET + "cpu_profile: {plugin: takeover, mode: generic}\n",
                       plugins={"stage": Stage(), "wrap": ProfileWrapper()})
    profile = named.plugins.cpu_profile(named.manifest.cpu_profile, named.tool)
    assert profile == {"tag": "TAKEOVER", "mode": "generic", "wrapped": True}, "firstresult, then the wrapper"
    assert "takeover" in named.plugins.used
    with pytest.raises(ManifestError, match=r"'cpu_profile\.plugin': plugin 'stage' failed in hook "
                                            r"fluidbuild_cpu_profile: the plugin does not implement this "
                                            r"hook"):
        PluginTest(tmp_path, ONE_TARGET + "cpu_profile: {plugin: stage}\n", plugins={"stage": Stage()})


class Misspelt:
    @hookimpl
    def fluidbuild_target_task(self, target):
        return None


def test_an_unknown_hook_is_blamed_on_its_plugin(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"^plugin 'typo' failed in hook fluidbuild_target_task: no such "
                                          r"hook in fluidbuild's plugin API 1\.1 \(did you mean "
                                          r"fluidbuild_target_tasks\?\)"):
        PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage(), "typo": Misspelt()})


class Exploding:
    @hookimpl
    def fluidbuild_target_tasks(self, target):
        return deep_failure(target.name)


def deep_failure(name: str) -> None:
    raise KeyError(f"no such thing: {name}")


def test_the_traceback_is_there_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = PluginTest(tmp_path, ONE_TARGET.replace("stage", "boom"), plugins={"boom": Exploding()})
    with pytest.raises(PluginError) as caught:
        kit.target_tasks("t")
    assert str(caught.value) == "plugin 'boom' failed in hook fluidbuild_target_tasks: KeyError: " \
                                "'no such thing: t'"
    assert errors.details(caught.value) == "", "one line unless asked"
    monkeypatch.setenv(errors.TRACEBACK_ENV, "1")
    trace = errors.details(caught.value)
    assert trace.startswith("Traceback") and "in deep_failure" in trace and "KeyError" in trace


# -- installed packages: used or not, broken, refused --------------------------------------


class Lint:
    """A package adding a section and a whole-project task."""

    @hookimpl
    def fluidbuild_manifest_sections(self):
        return {"lint": Map({"strict": Field(Int(), default=1)})}

    @hookimpl
    def fluidbuild_tasks(self, manifest):
        return [TaskSpec("lint", "lint everything", [PyAction(print)], always=True)]


def test_an_unused_package_adds_no_section_and_no_task(tmp_path: Path, installed) -> None:
    installed("lint", Lint(), "fluid-lint 0.3")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage()})
    assert "lint" not in kit.manifest.sections
    assert "lint" not in {t.name for t in kit.project_tasks()}
    assert "lint" not in kit.plugins.used
    used = PluginTest(tmp_path, ONE_TARGET + "lint: {strict: 2}\n", plugins={"stage": Stage()})
    assert used.manifest.sections["lint"] == {"strict": 2} and "lint" in used.plugins.used
    assert "lint" in {t.name for t in used.project_tasks()}


def test_requires_uses_a_distribution_and_names_a_missing_one(tmp_path: Path, installed,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    installed("lint", Lint(), "fluid-lint 0.3")
    versions = {"fluid-lint": "0.3"}

    def version(name: str) -> str:
        if name not in versions:
            raise manifest.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(manifest.metadata, "version", version)
    kit = PluginTest(tmp_path, "requires: [fluid-lint>=0.2]\n" + ONE_TARGET,
                     plugins={"stage": Stage()})
    assert "lint" in kit.plugins.used and "lint" in {t.name for t in kit.project_tasks()}
    with pytest.raises(ManifestError, match=r"manifest\.yaml:1: manifest error at 'requires\[0\]': "
                                            r"'fluid-lint' 0\.3 is installed, the manifest requires "
                                            r"fluid-lint>=1\.0; install it with: .*-m pip install "
                                            r"'fluid-lint>=1\.0'"):
        PluginTest(tmp_path, "requires: ['fluid-lint>=1.0']\n" + ONE_TARGET,
                   plugins={"stage": Stage()})
    with pytest.raises(ManifestError, match=r"'requires\[1\]': the plugin distribution 'fluid-iso' is not "
                                            r"installed; install it with: .*-m pip install 'fluid-iso'"):
        PluginTest(tmp_path, "requires: [fluid-lint, fluid-iso]\n" + ONE_TARGET,
                   plugins={"stage": Stage()})
    with pytest.raises(ManifestError, match=r"expected a requirement such as 'fluid-crc32>=1\.0'"):
        PluginTest(tmp_path, "requires: ['fluid lint !! 2']\n" + ONE_TARGET,
                   plugins={"stage": Stage()})


def test_a_broken_package_is_set_aside_not_fatal(tmp_path: Path, installed) -> None:
    installed("broken", ImportError("No module named 'numpyy'"), "fluid-broken 0.1")
    installed("typo", Misspelt(), "fluid-typo 0.1")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage()})
    assert set(kit.plugins.broken) == {"broken", "typo"}
    assert kit.plugins.broken["broken"].error == ("plugin 'broken' failed in hook load: ImportError: No "
                                                  "module named 'numpyy'")
    kit.target_tasks("t")  # the project does not use them: it works
    report = kit.plugins.report()
    assert "not loaded (a manifest using one fails with the reason" in report
    assert "broken          distribution fluid-broken 0.1: plugin 'broken' failed in hook load" in report
    with pytest.raises(ManifestError, match=r"'targets\.t\.plugin': plugin 'broken' failed in hook "
                                            r"fluidbuild_target_tasks: the plugin is not loaded: plugin "
                                            r"'broken' failed in hook load: ImportError"):
        PluginTest(tmp_path, ONE_TARGET.replace("stage", "broken"))


class Raising:
    @hookimpl
    def fluidbuild_manifest_sections(self):
        raise RuntimeError("sections broke")

    @hookimpl
    def fluidbuild_benchmarks(self):
        raise RuntimeError("benchmarks broke")


class Squatter:
    @hookimpl
    def fluidbuild_manifest_sections(self):
        return {"run": Map({})}


def test_a_package_failing_to_declare_is_set_aside(tmp_path: Path, installed) -> None:
    installed("raising", Raising(), "fluid-raising 0.1")
    installed("squatter", Squatter(), "fluid-squatter 0.1")
    kit = PluginTest(tmp_path, QEMU_MANIFEST, plugins={"stage": Stage()})
    assert set(kit.plugins.broken) == {"raising", "squatter"}
    assert "section 'run' is already owned by 'qemu'" in kit.plugins.broken["squatter"].error
    assert kit.manifest.sections["run"]["default"]["plugin"] == "qemu"
    with pytest.raises(ManifestError, match=r"unknown section 'extra', and these plugins are not loaded: "
                                            r"'raising' \(distribution fluid-raising 0\.1\): .*sections "
                                            r"broke"):
        PluginTest(tmp_path, QEMU_MANIFEST + "extra: {}\n", plugins={"stage": Stage()})


def test_a_plugin_for_another_api_is_refused_naming_both_versions(tmp_path: Path, installed) -> None:
    future = Stage()
    future.fluidbuild_api = ">=2.0,<3"  # type: ignore[attr-defined]
    installed("future", future, "fluid-future 3.1")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage()})
    assert kit.plugins.broken["future"].error == (
        "plugin 'future' failed in hook load: the plugin (distribution fluid-future 3.1) supports "
        f"fluidbuild plugin API >=2.0,<3, but this fluidbuild (0.1.0) provides plugin API "
        f"{hookspecs.API_VERSION}: install a release of fluid-future made for API {hookspecs.API_VERSION}, "
        "or a fluidbuild whose API is in >=2.0,<3")
    older = Stage()
    older.fluidbuild_api = ">=1.0,<2"  # type: ignore[attr-defined]
    installed("older", older, "fluid-older 1.0")
    assert "older" in PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage()}).plugins.info


def test_a_plugin_can_be_disabled_for_one_run(tmp_path: Path, installed,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    installed("broken", ImportError("nope"), "fluid-broken 0.1")
    monkeypatch.setenv(plugin.DISABLE_ENV, "broken, jit")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage()})
    assert "broken" not in kit.plugins.broken and "jit" not in kit.plugins.info
    assert kit.plugins.disabled == {"broken", "jit"}
    assert "jit" not in {t.name for t in kit.project_tasks()}
    assert "disabled for this run: broken, jit" in kit.plugins.report()
    with pytest.raises(ManifestError, match="plugin 'jit' failed in hook fluidbuild_target_tasks: the "
                                            "plugin is disabled for this run"):
        PluginTest(tmp_path, ONE_TARGET.replace("stage", "jit"))


# -- settings, run inputs, images, FATAL codes, benchmarks ------------------------------------


class Layout:
    """An image plugin with a key of its own."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], Any]] = []

    @hookimpl
    def fluidbuild_settings_schema(self, section):
        return Map({"gap": Field(Int(minimum=0), default=0)}) if section == "image" else None

    @hookimpl
    def fluidbuild_image_layout(self, image, parts, ctx):
        self.calls.append((image["settings"], ctx))
        return [Placement(name, path, i * (1 + image["settings"]["gap"]), 1)
                for i, (name, path) in enumerate(sorted(parts.items()))]


IMAGE_MANIFEST = """
    targets:
      a: {plugin: stage}
      b: {plugin: stage}
    image:
      plugin: layout
      gap: 3
      parts: {a: a, b: b}
      layout: [{part: a, lba: 0}]
    """


def test_an_image_plugin_gets_the_context_and_its_own_settings(tmp_path: Path) -> None:
    layout = Layout()
    kit = PluginTest(tmp_path, IMAGE_MANIFEST, plugins={"stage": Stage(), "layout": layout})
    for name in ("a", "b"):
        kit.target_tasks(name)
    [image] = kit.project_tasks(plugin="image")
    assert [p["lba"] for p in image.config["placements"]] == [0, 4]
    assert layout.calls[0] == ({"gap": 3}, kit.ctx) and "layout" in kit.plugins.used
    with pytest.raises(ManifestError, match=r"manifest\.yaml:7: manifest error at 'image\.gap': expected an "
                                            r"integer >= 0"):
        PluginTest(tmp_path, IMAGE_MANIFEST.replace("gap: 3", "gap: -1"),
                   plugins={"stage": Stage(), "layout": layout})
    with pytest.raises(ManifestError, match=r"at 'image\.gap': unknown key 'gap'"):
        PluginTest(tmp_path, IMAGE_MANIFEST.replace("plugin: layout", "plugin: image"),
                   plugins={"stage": Stage(), "layout": layout})


class Emulator:
    """A run-profile plugin booting another disk, named by its own key."""

    @hookimpl
    def fluidbuild_settings_schema(self, section):
        return Map({"disk": Field(TargetRef(), required=True)}) if section == "run" else None

    @hookimpl
    def fluidbuild_run_inputs(self, profile, outputs):
        return [*outputs[profile.settings["disk"]], "notes.txt"]

    @hookimpl
    def fluidbuild_qemu_command(self, profile, image, qemu):
        return [qemu.path, image]


RUN_MANIFEST = """
    targets:
      t: {plugin: stage}
    run:
      default: {plugin: emu, disk: t}
    """


def test_a_run_profile_plugin_says_what_its_run_boots_and_needs(tmp_path: Path) -> None:
    kit = PluginTest(tmp_path, RUN_MANIFEST, plugins={"stage": Stage(), "emu": Emulator()})
    kit.target_tasks("t")
    tasks = {t.name: t for t in kit.project_tasks(plugin="qemu")}
    assert tasks["run"].file_dep == tasks["debug"].file_dep == ["build/t/out.bin", "notes.txt"]
    run = tasks["run"].actions[0]
    assert run.kwargs["image"] == "build/t/out.bin"
    assert run.kwargs["qemu_command"](run.kwargs["profile"], run.kwargs["image"]) == [
        "/usr/bin/qemu-system-i386", "build/t/out.bin"]


def test_an_unknown_run_profile_plugin_is_an_error_at_load(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest\.yaml:5: manifest error at 'run\.default\.plugin': "
                                            r"plugin 'emux' failed in hook fluidbuild_qemu_command: no "
                                            r"plugin named 'emux' is installed"):
        PluginTest(tmp_path, RUN_MANIFEST.replace("plugin: emu,", "plugin: emux,"),
                   plugins={"stage": Stage()})
    with pytest.raises(ManifestError, match=r"'run\.default\.disk': unknown key 'disk'"):
        PluginTest(tmp_path, RUN_MANIFEST.replace("plugin: emu, ", ""), plugins={"stage": Stage()})


class Loader:
    def __init__(self, *codes: FatalCode) -> None:
        self.codes = list(codes)

    @hookimpl
    def fluidbuild_fatal_codes(self):
        return self.codes


def test_a_loaders_own_fatal_code_is_named(tmp_path: Path) -> None:
    lba = FatalCode(0xD3, "NO_LBA", "no INT 13h extensions")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage(), "loader": Loader(lba)})
    assert kit.ctx.fatal_codes[0xD3] == lba and kit.ctx.fatal_codes[0xD1].name == "DISK_READ"
    serial = "stage2: LBA\r\nFATAL ERROR: 0xD3\r\n"
    assert BootResult(255, serial, 0.1).reason() == "loader fatal error 0xD3 (unknown code)"
    named = BootResult(255, serial, 0.1, loader_errors=loader_errors(kit.ctx.fatal_codes))
    assert named.reason() == "loader fatal error 0xD3 (NO_LBA: no INT 13h extensions)"
    clash = Loader(FatalCode(0xD1, "MINE", "taken"))
    with pytest.raises(PluginError, match=r"^plugin 'clash' failed in hook fluidbuild_fatal_codes: code 0xD1 "
                                          r"\(MINE\) is already 'protocol''s DISK_READ$"):
        PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage(), "clash": clash})


class Crc:
    def __init__(self, source: str) -> None:
        self.source = source

    @hookimpl
    def fluidbuild_benchmarks(self):
        return [Benchmark("crc", self.source, 4096, lambda data, size: 0)]


def test_a_listed_benchmark_uses_its_plugin_and_must_be_installed(tmp_path: Path, installed) -> None:
    source = tmp_path / "pkg" / "crc.c"
    source.parent.mkdir()
    source.write_text("#define BENCH_MAX_SIZE 65536\n")
    installed("crc", Crc(str(source)), "fluid-crc 1.0")
    bench = "benchmarks: [{name: crc}]\n"
    for project in ("p1", "p2", "p3"):
        (tmp_path / project).mkdir()
    kit = PluginTest(tmp_path / "p1", ONE_TARGET + bench, plugins={"stage": Stage()})
    assert "crc" in kit.plugins.used and kit.ctx.benchmarks["crc"].source == str(source)
    assert "crc" not in PluginTest(tmp_path / "p2", ONE_TARGET, plugins={"stage": Stage()}).plugins.used
    installed("gone", Crc(str(tmp_path / "missing.c")), "fluid-gone 1.0")
    with pytest.raises(ManifestError, match=r"'benchmarks\[0\]\.name': plugin 'gone' failed in hook "
                                            r"fluidbuild_benchmarks: benchmark 'crc' is also contributed by "
                                            r"'crc'"):
        PluginTest(tmp_path / "p3", ONE_TARGET + bench, plugins={"stage": Stage()})


def test_doit_plugins_report(tmp_path: Path, installed) -> None:
    installed("lint", Lint(), "fluid-lint 0.3")
    kit = PluginTest(tmp_path, ONE_TARGET, plugins={"stage": Stage(), "wrappers": Wrappers()})
    lines = kit.plugins.report().splitlines()
    assert lines[0].startswith(f"fluidbuild 0.1.0, plugin API {hookspecs.API_VERSION}.")
    row = next(i for i, line in enumerate(lines) if line.startswith("lint "))
    assert lines[row].split()[:5] == ["lint", "0.3", "fluid-lint", "0.3", "no"]
    assert "entry point fluid_lint" in lines[row]
    assert lines[row + 1].split() == ["hooks:", "manifest_sections,", "tasks"]
    stage = next(i for i, line in enumerate(lines) if line.startswith("stage "))
    assert lines[stage].split()[:4] == ["stage", "2.0", "-", "yes"] and "test plugin object" in lines[stage]
    wrappers = next(i for i, line in enumerate(lines) if line.startswith("wrappers "))
    assert "qemu_command (wrapper), target_tasks (wrapper)" in lines[wrappers + 1]
    nasm = next(line for line in lines if line.startswith("nasm "))
    assert nasm.split()[1:5] == ["0.1.0", "fluidbuild", "0.1.0", "always"]
