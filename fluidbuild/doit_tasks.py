"""The bridge to doit: ``dodo.py`` calls :func:`load` and gets its task generators.

Loading validates the manifest, takes the build-tree lock, resolves the CPU
profile (cached), builds the task graph and converts each
:class:`~fluidbuild.model.TaskSpec` into a doit task dictionary whose
``uptodate`` carries the task's :class:`~fluidbuild.fingerprint.Fingerprint`.
A user mistake ends here with one line on stderr and exit status 2.
"""

from __future__ import annotations

import atexit
import difflib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from doit.task import clean_targets

from fluidbuild import cache, cpuprofile, depfile, lock, noop, state
from fluidbuild.actions import InputGuard, run_command, run_python
from fluidbuild.errors import TRACEBACK_ENV, FluidError, details
from fluidbuild.filesig import SignatureChecker
from fluidbuild.fingerprint import Fingerprint
from fluidbuild.graph import build
from fluidbuild.manifest import load as load_manifest
from fluidbuild.model import Command, PyAction, TaskSpec
from fluidbuild.plugin import Plugins
from fluidbuild.reporter import Reporter
from fluidbuild.toolchain import Toolbox

# doit options that take a value: their value is not a task name.
_VALUE_OPTIONS = {"-n", "--process", "-P", "--parallel-type", "-f", "--file", "-d", "--dir",
                  "--db-file", "--backend", "--check_file_uptodate", "-r", "--reporter",
                  "-o", "--output-file", "--codec-cls", "-v", "--verbosity", "-k", "--seek-file"}


DATABASE = ".doit.db"  # doit's dependency database, in the build directory
# doit commands that write nothing: they work in a read-only checkout.
READ_ONLY_COMMANDS = {"list", "help", "info", "tabcompletion"}

# The NAME=VALUE words fluidbuild reads from the doit command line.
VARIABLES = {
    "manifest": "the manifest to build (default manifest.yaml)",
    "profile": "the run profile of doit run / doit debug (default 'default')",
    "explain": "1: say which configuration key made each task rerun",
    "traceback": "1: print the traceback behind a plugin's error (as FLUIDBUILD_TRACEBACK=1)",
    "disable": "plugins not to load for this run, comma-separated (FLUIDBUILD_DISABLE; pytest's -p no:X)",
}


def _words(argv: list[str]) -> list[str]:
    """The command line's words after the program that are not options or their values."""
    words, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def command_line_variables(argv: list[str]) -> dict[str, str]:
    """The ``NAME=VALUE`` words of a doit command line; an unknown name is an error
    naming the known ones (``profil=lba`` must not silently boot the default)."""
    variables = dict(word.split("=", 1) for word in _words(argv) if "=" in word)
    for name in variables:
        if name not in VARIABLES:
            close = difflib.get_close_matches(name, VARIABLES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            known = ", ".join(f"{k}=: {doc}" for k, doc in VARIABLES.items())
            raise FluidError(f"unknown command-line variable '{name}'{hint}; known: {known}")
    return variables


def default_tasks(argv: list[str]) -> list[str]:
    """``image`` normally; ``run`` when the command line is just ``doit run``.

    ``run`` is also doit's name for "run the default tasks", so without this
    ``doit run`` would only build the image instead of booting it.
    """
    words = [word for word in _words(argv) if "=" not in word]
    return ["run"] if words == ["run"] else ["image"]


def doit_config(build_dir: str) -> dict[str, Any]:
    """doit settings: a safe database committed task by task (never ``dbm.dumb``),
    file changes seen by signature and content (:mod:`fluidbuild.filesig`)."""
    return {
        "backend": "fluidbuild",
        "check_file_uptodate": SignatureChecker,
        "dep_file": os.path.join(build_dir, DATABASE),
        "default_tasks": default_tasks(sys.argv),
        "par_type": "thread",
        "reporter": Reporter,  # executed-only output (a no-op prints nothing), progress, trace
        "cleanforget": True,
        "cleandep": True,
    }


def load(argv: list[str]) -> dict[str, Any]:
    """Everything ``dodo.py`` puts in its namespace: DOIT_CONFIG and task_* functions,
    for the doit command line ``argv``."""
    try:
        variables = command_line_variables(argv)
        if variables.get("traceback", "") not in ("", "0"):
            os.environ[TRACEBACK_ENV] = "1"  # read again by the actions, in this process
        read_only = bool(set(_words(argv)) & READ_ONLY_COMMANDS)
        return _load(variables.get("manifest", "manifest.yaml"), variables, read_only)
    except FluidError as exc:
        trace = details(exc)
        if trace:
            print(trace, file=sys.stderr)
        print(f"fluidbuild: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:  # a full disk, a read-only tree: one line, not a traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"fluidbuild: error: {exc.strerror or exc}{where}", file=sys.stderr)
        raise SystemExit(2) from None


def _load(manifest_path: str, variables: dict[str, str], read_only: bool) -> dict[str, Any]:
    root = os.getcwd()
    disabled = tuple(name for name in variables.get("disable", "").split(",") if name)
    manifest, plugins = load_manifest(manifest_path, root, disabled)
    for name, info in sorted(plugins.broken.items()):  # this manifest does not use it: a warning
        print(f"fluidbuild: warning: plugin '{name}' ({info.where}) is not loaded: {info.error}",
              file=sys.stderr)
    config = doit_config(manifest.build_dir)
    try:
        lock.acquire(os.path.join(root, manifest.build_dir, ".fluidbuild", "lock"))
    except OSError:
        if not read_only:
            raise
        # doit list in a read-only checkout: no lock, and a database in memory.
        config["dep_file"] = ":memory:"
    else:
        state.check_database(os.path.join(root, manifest.build_dir, DATABASE))
        state.remove_leftovers(os.path.join(root, manifest.build_dir))
    toolbox = Toolbox(plugins.tools(), manifest.toolchain,
                      os.path.join(root, manifest.build_dir, ".fluidbuild", "tools.json"))
    profile = cpuprofile.resolve(manifest, plugins, toolbox)
    ctx = plugins.context(manifest, profile, toolbox, variables)
    graph = build(manifest, plugins, ctx)
    graph.tasks.append(_plugins_task(plugins, manifest.cpu_profile["plugin"]))
    toolbox.save()
    noop.graph_loaded(manifest, graph.tasks, toolbox, config["dep_file"], read_only)
    explain = variables.get("explain", os.environ.get("FLUIDBUILD_EXPLAIN", "")) not in ("", "0")
    docs = {name: t.doc for name, t in manifest.targets.items()}
    shared = cache.settings(manifest.cache, os.environ, root)
    action_cache = cache.ActionCache(shared, root, profile, explain) if shared else None
    if action_cache is not None:
        atexit.register(action_cache.summary)  # hits, local builds and uploads, once at the end

    sweep = _orphan_sweep(graph.tasks, manifest.build_dir)

    def task_fluidbuild() -> Iterator[dict[str, Any]]:
        for task in _to_doit(graph.tasks, docs, root, explain, manifest.task_timeout_s, action_cache):
            if task["basename"] in config["default_tasks"] and "clean" in task:
                task["clean"] = [*task["clean"], sweep]
            yield task

    task_fluidbuild.__doc__ = "fluidbuild tasks"
    return {"DOIT_CONFIG": config, "task_fluidbuild": task_fluidbuild}


def _orphan_sweep(tasks: list[TaskSpec], build_dir: str) -> tuple[Callable[..., None], list[Any]]:
    """The clean action of the default task: remove what no current task produces
    (``doit clean`` then leaves no output of a renamed or deleted source)."""
    known = {os.path.normpath(p) for t in tasks for p in [*t.targets, *([t.depfile] if t.depfile else [])]}
    state_dir = os.path.join(build_dir, ".fluidbuild")
    keep = {os.path.normpath(os.path.join(build_dir, DATABASE + suffix)) for suffix in ("", "-wal", "-shm")}
    keep.add(os.path.normpath(os.path.join(state_dir, "lock")))

    def sweep(dryrun: bool) -> None:
        state.sweep_orphans(build_dir, known, keep, dryrun)

    return (sweep, [])


def _plugins_task(plugins: Plugins, cpu_plugin: str) -> TaskSpec:
    return TaskSpec("plugins", "list the plugins: version, distribution, origin, hooks, whether this "
                    "manifest uses each, and those not loaded", [PyAction(_print_plugins, {
                        "plugins": plugins, "cpu_plugin": cpu_plugin})], always=True, verbosity=2)


def _print_plugins(plugins: Plugins, cpu_plugin: str) -> None:
    print(plugins.report(cpu_plugin))


def _to_doit(tasks: list[TaskSpec], docs: dict[str, str], root: str, explain: bool, timeout_s: float,
             action_cache: cache.ActionCache | None = None) -> Iterator[dict[str, Any]]:
    groups_done: set[str] = set()
    for task in tasks:
        basename, _, sub = task.name.partition(":")
        if sub and basename not in groups_done:
            groups_done.add(basename)
            yield {"basename": basename, "name": None,
                   "doc": docs.get(basename) or f"build target '{basename}'"}
        yield _task_dict(task, basename, sub, root, explain, timeout_s, action_cache)


def _task_dict(task: TaskSpec, basename: str, sub: str, root: str, explain: bool,
               timeout_s: float, action_cache: cache.ActionCache | None = None) -> dict[str, Any]:
    file_dep = list(task.file_dep)
    config = dict(task.config)
    vanished: list[str] = []
    if task.depfile:  # a header the last run read and that is gone now: rerun
        found, vanished = depfile.read(task.depfile, root)
        file_dep.extend(d for d in found if d not in file_dep)
    plugin = config.get("plugin", {}).get("name", "")
    actions = [_action(a, root, task.name, plugin, timeout_s) for a in task.actions]
    if action_cache is not None and action_cache.cacheable(task):
        # One action: look up, else run the actions above, record the depfile, upload.
        actions = [action_cache.action(task, actions, InputGuard(task.name, file_dep, root))]
    else:
        if task.depfile:
            actions.append((_record_depfile, [task.depfile, root]))
        if not task.always:
            guard = InputGuard(task.name, file_dep, root)
            actions = [guard.snapshot, *actions, guard.check]
    result: dict[str, Any] = {
        "basename": basename,
        "actions": actions,
        "file_dep": file_dep,
        "targets": list(task.targets),
        "task_dep": list(task.task_dep),
        "doc": task.doc,
        "clean": [clean_targets, *([(_remove_depfile, [task.depfile])] if task.depfile else [])],
        "verbosity": task.verbosity,
        "uptodate": [False] if task.always else [Fingerprint(config, explain, task.targets, root),
                                                 not vanished],
    }
    if sub:
        result["name"] = sub
    return result


def _remove_depfile(path: str, dryrun: bool) -> None:
    if os.path.exists(path):
        print(f"clean - removing depfile '{path}'")
        if not dryrun:
            os.unlink(path)


def _record_depfile(path: str, root: str, task: Any) -> None:
    """Record the dependencies the tool just reported, so the first build's
    database already lists every header (doit saves ``task.file_dep``)."""
    found, _ = depfile.read(path, root)
    task.file_dep.update(found)


def _action(action: Command | PyAction, root: str, task: str, plugin: str,
            timeout_s: float) -> tuple[Callable[..., Any], list[Any]]:
    if isinstance(action, Command):
        return (run_command, [action, root, task, timeout_s])
    return (run_python, [action, task, plugin])
