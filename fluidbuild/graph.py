"""From the validated manifest to task descriptions.

Targets are visited in dependency order; each target's plugin declares its
tasks and outputs, and those outputs become the inputs of the targets that
depend on it. Then every plugin the manifest uses (:mod:`fluidbuild.plugin`)
may add whole-project tasks (the disk image, ``run``, ``bench``...). Every
task gets the identity of its plugin; tasks that cannot be built (a missing
tool) become tasks that fail with that one clear message, so ``doit list``
and unrelated tasks keep working.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from fluidbuild.errors import FluidError, ToolMissing
from fluidbuild.model import BuildContext, Manifest, PyAction, TaskSpec
from fluidbuild.plugin import Plugins


@dataclass
class Graph:
    """Everything doit needs: the tasks, and each target's outputs."""

    tasks: list[TaskSpec]
    outputs: dict[str, list[str]]  # target name -> its outputs


def build(manifest: Manifest, plugins: Plugins, ctx: BuildContext) -> Graph:
    """Ask every plugin for its tasks, in dependency order."""
    tasks: list[TaskSpec] = []
    outputs: dict[str, list[str]] = {}
    broken: dict[str, str] = {}  # target -> why it cannot be built
    for name in _order(manifest):
        target = manifest.targets[name]
        why = next((broken[dep] for dep in target.deps if dep in broken), None)
        if why is None:
            inputs = [path for dep in target.deps for path in outputs[dep]]
            try:
                result = plugins.target_tasks(target, inputs, ctx)
            except ToolMissing as exc:
                why = str(exc)
        if why is not None:
            broken[name] = why
            tasks.append(_failing(name, why))
            outputs[name] = []
            continue
        outputs[name] = result.outputs
        spec = {"sources": _sources_identity(target.sources), "deps": target.deps, "flags": target.flags,
                "options": target.options}
        tasks.extend(_stamped(t, target.plugin, plugins, spec) for t in result.tasks)
    tasks.extend(_stamped(t, plugin, plugins) for plugin, t in plugins.tasks(manifest, ctx, outputs))
    _check_unique(tasks)
    return Graph(tasks, outputs)


# A target's sources are listed in each task's configuration up to this many; a
# longer list is named by its length and digest: 3,000 sources listed in each of
# 3,000 tasks would be 270 MB of configuration to hash and store on every build.
SOURCES_LISTED = 32


def _sources_identity(sources: tuple[str, ...]) -> Any:
    """What a task's configuration says of its target's sources (any change changes it)."""
    if len(sources) <= SOURCES_LISTED:
        return sources
    digest = hashlib.sha256("\0".join(sources).encode()).hexdigest()
    return {"count": len(sources), "sha256": digest}


def _order(manifest: Manifest) -> list[str]:
    """Targets in dependency order (depth-first, iterative: chains may be long)."""
    done: dict[str, None] = {}
    for root in manifest.targets:
        stack = [(root, iter(manifest.targets[root].deps))]
        while stack:
            name, deps = stack[-1]
            dep = next((d for d in deps if d not in done), None)
            if dep is None:
                stack.pop()
                done[name] = None
            else:
                stack.append((dep, iter(manifest.targets[dep].deps)))
    return list(done)


def _stamped(task: TaskSpec, plugin: str, plugins: Plugins,
             target: dict[str, Any] | None = None) -> TaskSpec:
    """Add to the task's configuration what its output depends on besides what
    the plugin listed: the plugin's identity and source, the task's output
    paths, and the manifest entry of its target (every option, even one the
    plugin only checks)."""
    info = plugins.info.get(plugin)
    config = dict(task.config)
    config["plugin"] = {"name": plugin, "version": info.version if info else "?",
                        "source": plugins.source_digest(plugin) if info else "?"}
    config["outputs"] = list(task.targets)
    if target is not None:
        config["target"] = target
    return replace(task, config=config)


def _failing(name: str, message: str) -> TaskSpec:
    return TaskSpec(name=name, doc=f"(cannot build: {message})",
                    actions=[PyAction(_fail, {"message": message})], always=True)


def _fail(message: str) -> None:
    raise FluidError(message)


def _check_unique(tasks: list[TaskSpec]) -> None:
    seen: set[str] = set()
    for task in tasks:
        if task.name in seen:
            raise FluidError(f"two tasks are named '{task.name}' (a target and a plugin task clash)")
        seen.add(task.name)
