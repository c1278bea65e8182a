"""A testing kit for plugin authors: a manifest string in, a plugin's tasks out.

Build the validated model and the build context from a manifest text, with
the installed plugins (built-ins included) plus any plugin object you pass,
then call one target's plugin or every plugin's whole-project tasks, exactly
as the core does, without doit and without running a tool::

    from fluidbuild.testing import PluginTest

    def test_my_stage(tmp_path):
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "a.asm").write_text("nop\\n")
        kit = PluginTest(tmp_path, '''
            targets:
              boot: {plugin: my_stage, sources: [src/a.asm]}
            ''', plugins={"my_stage": my_stage_module})
        result = kit.target_tasks("boot")
        assert result.tasks[0].file_dep == ["src/a.asm"]

Tools resolve to fake paths (``/usr/bin/<name>``, version ``test``) unless
``tools`` maps a name to a :class:`~fluidbuild.model.Tool`; the CPU profile
is :data:`CPU_PROFILE` unless given. Errors are the ones users see
(:class:`~fluidbuild.errors.ManifestError` naming file, line and key).
"""

from __future__ import annotations

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
    """One project directory, its manifest, the plugins and the context, ready to call."""

    def __init__(self, root: str | Path, manifest: str, plugins: dict[str, ModuleType | object] | None = None,
                 tools: dict[str, Tool] | None = None, cpu_profile: dict[str, Any] | None = None,
                 variables: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        (self.root / MANIFEST).write_text(textwrap.dedent(manifest))
        data, local = read_manifest(MANIFEST, str(self.root))
        self.plugins = Plugins(local, extra=plugins)
        self.manifest: Manifest = validate(data, MANIFEST, str(self.root), self.plugins)
        self._tools = dict(tools or {})
        self.ctx: BuildContext = self.plugins.context(self.manifest, dict(cpu_profile or CPU_PROFILE),
                                                      self.tool, variables)
        self.outputs: dict[str, list[str]] = {}

    def tool(self, name: str) -> Tool:
        """The tool ``name``: the one given, else a fake one."""
        return self._tools.get(name) or Tool(name, f"/usr/bin/{name}", "test")

    def target_tasks(self, name: str, inputs: list[str] | None = None) -> TargetResult:
        """Call the plugin of target ``name``; ``inputs`` default to its deps' recorded outputs."""
        target = self.manifest.targets[name]
        if inputs is None:
            inputs = [path for dep in target.deps for path in self.outputs.get(dep, [])]
        result = self.plugins.target_tasks(target, inputs, self.ctx)
        self.outputs[name] = result.outputs
        return result

    def project_tasks(self, outputs: dict[str, list[str]] | None = None) -> list[TaskSpec]:
        """Every plugin's whole-project tasks (image, run, bench, ...), given the targets' outputs."""
        return [task for _, task in self.plugins.tasks(self.manifest, self.ctx, outputs or self.outputs)]
