"""A testing kit for plugin authors: a manifest string in, a plugin's tasks out.

Build the validated model and the build context from a manifest text, with
the installed plugins (built-ins included) plus any plugin object you pass,
then call one target's plugin or every plugin's whole-project tasks, exactly
as the core does, without doit and without running a tool::

    from fluidbuild.testing import PluginTest

    def test_my_stage(tmp_path):
        kit = PluginTest(tmp_path, '''
            targets:
              boot: {plugin: my_stage, sources: [src/a.asm]}
            ''', plugins={"my_stage": my_stage_module}, files={"src/a.asm": "nop\\n"})
        result = kit.target_tasks("boot")
        assert result.tasks[0].file_dep == ["src/a.asm"]

The manifest is written to ``manifest.yaml`` in the project directory (with
``files``, which the manifest's sources must name, since validation checks
that they exist) and validated as ``doit`` would; plugins run with the project
directory as the current directory, as under ``doit``. Tools resolve to fake paths
(``/usr/bin/<name>``, version ``test``) unless ``tools`` maps a name to a
:class:`~fluidbuild.model.Tool`; nothing is ever run. The CPU profile is
:data:`CPU_PROFILE` unless given. Errors are the ones users see
(:class:`~fluidbuild.errors.ManifestError` naming file, line and key,
:class:`~fluidbuild.errors.PluginError` naming plugin and hook).
"""

from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

from fluidbuild.manifest import read_manifest, validate
from fluidbuild.model import BuildContext, Manifest, TargetResult, TaskSpec, Tool
from fluidbuild.plugin import Plugins

MANIFEST = "manifest.yaml"
# A pinned Haswell-like profile: what the cpu_flags plugin returns, without asking the host.
CPU_PROFILE: dict[str, Any] = {
    "tag": "TEST", "mode": "pinned", "llvm_cpu": "haswell", "llvm_features": "",
    "clang_flags": ["-march=haswell"], "feature_bits": 0,
}


class PluginTest:
    """One project directory, its manifest, the plugins and the context, ready to call.

    ``root``: the project directory (a test's ``tmp_path``); ``manifest``: the
    manifest's text (dedented); ``files``: project-relative path -> text or
    bytes to create first; ``plugins``: name -> plugin module or object to
    load besides the installed ones (one replaces the installed plugin of its
    name, so a package's tests run whether it is installed or not);
    ``tools``: logical name -> the :class:`~fluidbuild.model.Tool` to resolve
    it to; ``cpu_profile`` and ``variables`` (``NAME=VALUE`` of the doit
    command line) as the context carries them.
    """

    def __init__(self, root: str | Path, manifest: str, plugins: dict[str, ModuleType | object] | None = None,
                 tools: dict[str, Tool] | None = None, cpu_profile: dict[str, Any] | None = None,
                 variables: dict[str, str] | None = None,
                 files: dict[str, str | bytes] | None = None) -> None:
        self.root = Path(root)
        for name, content in (files or {}).items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        (self.root / MANIFEST).write_text(textwrap.dedent(manifest))
        with contextlib.chdir(self.root):
            data, local = read_manifest(MANIFEST, str(self.root))
            self.plugins = Plugins(local, extra=plugins)
            self.manifest: Manifest = validate(data, MANIFEST, str(self.root), self.plugins)
        self._tools = dict(tools or {})
        self.ctx: BuildContext = self.plugins.context(self.manifest, dict(cpu_profile or CPU_PROFILE),
                                                      self.tool, variables)
        # Target name -> the outputs its plugin declared (by target_tasks).
        self.outputs: dict[str, list[str]] = {}

    def tool(self, name: str) -> Tool:
        """The tool ``name``: the one given, else a fake one."""
        return self._tools.get(name) or Tool(name, f"/usr/bin/{name}", "test")

    def target_tasks(self, name: str, inputs: list[str] | None = None) -> TargetResult:
        """Call the plugin of target ``name`` and record its outputs.

        ``inputs`` default to the outputs of the target's ``deps``, in order, as
        the core passes them; deps not declared yet are declared first.
        """
        target = self.manifest.targets[name]
        if inputs is None:
            for dep in target.deps:
                if dep not in self.outputs:
                    self.target_tasks(dep)
            inputs = [path for dep in target.deps for path in self.outputs[dep]]
        with contextlib.chdir(self.root):
            result = self.plugins.target_tasks(target, inputs, self.ctx)
        self.outputs[name] = result.outputs
        return result

    def project_tasks(self, outputs: dict[str, list[str]] | None = None,
                      plugin: str | None = None) -> list[TaskSpec]:
        """Every plugin's whole-project tasks (image, run, bench, ...), or only those of
        ``plugin``, given the targets' ``outputs`` (default: those recorded so far)."""
        if plugin is not None:
            self.plugins.require(plugin, "fluidbuild_tasks")
        given = self.outputs if outputs is None else outputs
        with contextlib.chdir(self.root):
            declared = self.plugins.tasks(self.manifest, self.ctx, given)
        return [task for name, task in declared if plugin is None or name == plugin]
