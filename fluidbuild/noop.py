"""The no-op fast path: a build with nothing to do answers without building the graph.

doit decides that a task is up to date by loading the whole graph (manifest,
plugins, one task dictionary per file) and checking every task: about 0.5 ms
per task, 1.6 s at 3,000 tasks (README, "No-op builds at scale"). Like ninja's log and Bazel's action cache,
fluidbuild records after a successful build what that decision depended on,
in one file (``<build_dir>/.fluidbuild/noop.json``), and the next ``doit``
with the same request first compares the record with the tree: when nothing
in it changed, doit gets a graph of the requested tasks marked up to date and
nothing is loaded, read or hashed beyond one ``stat`` per recorded path.

What is recorded, and must be unchanged for the fast answer:

- the request: the task words and ``NAME=VALUE`` variables of the command
  line, the project folder, the Python running doit (executable, version,
  ``sys.path``);
- everything the graph was built from, observed while it was built (Python
  audit hooks, so a plugin's own reads count too): every file opened for
  reading (the manifest, plugin sources, package metadata; ``/proc`` files by
  content), every folder listed (globs, include folders searched for
  :mod:`fluidbuild.includes`, plugin folders, ``sys.path``), every path
  ``os.stat``-ed or ``os.access``-ed (``os.path.exists``, ``shutil.which``),
  every environment variable read (and the folders of ``PATH`` when it was
  read), the source file of every module loaded, and the programs resolved
  by the toolbox;
- for every task of the request: the stat signature of each file
  dependency, depfile-discovered header, depfile and output, recorded only
  after checking, against doit's database, that a full check would find the
  task up to date (same dependency list, each file's signature or content as
  recorded, configuration digest as recorded, outputs as written);
- the signature of doit's database.

Any difference, a task that always runs (``run``, ``bench``), an option other
than ``-n``/``-P``, another doit command, a failed or interrupted build, or a
missing record sends the build down the normal path, which deletes the
record before it runs anything. Signatures are those of
:func:`fluidbuild.filesig.signature` (mtime, size, inode, ctime): a touched
file costs one normal no-op, which records again. A path changed within the
file system's current clock tick is checked again after the tick (git's
"racily clean" entries). ``FLUIDBUILD_FAST_NOOP=0`` turns the fast path off.

The graph must be a function of what it reads: a plugin whose configuration
depends on something else (the time, a network query) must make its task
``always``. Kept cheap on purpose: this module imports nothing heavier than
``json`` before it knows the answer (``dodo.py`` imports it instead of
:mod:`fluidbuild.doit_tasks`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fluidbuild.model import Manifest, TaskSpec
    from fluidbuild.toolchain import Toolbox

FORMAT = 1
DISABLE_ENV = "FLUIDBUILD_FAST_NOOP"  # 0: always load the graph (the record is still written)
STATE_DIR = ".fluidbuild"  # under the build directory
STATE_FILE = "noop.json"
TRACE_FILE = "trace.json"

# doit options a no-op may carry: they say how tasks would run, never whether.
_VALUE_OPTIONS = {"-n", "--process", "-P", "--parallel-type"}
_JOINED_OPTIONS = re.compile(r"-n\d+|--process=\d+|-P\w+|--parallel-type=\w+")
# doit's commands other than run: never answered here.
_COMMANDS = {"auto", "clean", "dumpdb", "forget", "help", "ignore", "info", "list", "reset-dep", "strace",
             "tabcompletion"}
# Where the manifest says the build directory is (the record then proves itself).
_BUILD_DIR = re.compile(r"""^build_dir:[ \t]*(['"]?)([^'"#\s]+)\1[ \t]*(?:#.*)?$""", re.M)
# Files read by content, not by stat: the kernel makes their stat up.
_CONTENT_PREFIXES = ("/proc/", "/sys/")
_IGNORED_PREFIXES = ("/dev/",)

_T0 = time.perf_counter_ns()  # the trace's time origin: when this module was loaded


# -- the request ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A doit command line the fast path may answer."""

    words: tuple[str, ...]  # task words as typed (a leading doit command 'run' included)
    variables: tuple[tuple[str, str], ...]  # NAME=VALUE words, sorted

    @property
    def manifest(self) -> str:
        return dict(self.variables).get("manifest", "manifest.yaml")

    def key(self, root: str) -> dict[str, Any]:
        return {"words": list(self.words), "variables": dict(self.variables), "root": root,
                "python": {"executable": sys.executable, "version": sys.version, "path": list(sys.path)}}


def parse(argv: list[str]) -> Request | None:
    """The request of a doit command line, or None when only a full load can answer it
    (another command, an option that changes what runs, a task pattern)."""
    words: list[str] = []
    variables: dict[str, str] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg in _VALUE_OPTIONS:
            next(args, None)
        elif _JOINED_OPTIONS.fullmatch(arg):
            continue
        elif arg.startswith("-"):
            return None
        elif "=" in arg:
            name, _, value = arg.partition("=")
            variables[name] = value
        elif any(c in arg for c in "*?["):
            return None
        else:
            words.append(arg)
    if words and words[0] in _COMMANDS:
        return None
    return Request(tuple(words), tuple(sorted(variables.items())))


def read_only_command(argv: list[str]) -> bool:
    """Whether the doit command line only reads the build state (``list``, ``info``...)."""
    words = [a for a in argv[1:] if not a.startswith("-") and "=" not in a]
    return bool(words) and words[0] in {"list", "help", "info", "tabcompletion", "dumpdb"}


def manifest_build_dir(path: str) -> str | None:
    """The manifest's ``build_dir`` read without a YAML parser (``build`` when absent);
    None when the file cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    found = _BUILD_DIR.search(text)
    return found.group(2) if found else "build"


def state_path(build_dir: str) -> str:
    return os.path.join(build_dir, STATE_DIR, STATE_FILE)


def trace_path(build_dir: str) -> str:
    return os.path.join(build_dir, STATE_DIR, TRACE_FILE)


def _sig(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns]


def _content(path: str) -> str | None:
    import hashlib

    try:
        with open(path, "rb") as f:
            return hashlib.md5(f.read()).hexdigest()
    except OSError:
        return None


# -- the entry point ------------------------------------------------------------------------------


def load(argv: list[str]) -> dict[str, Any]:
    """What ``dodo.py`` puts in its namespace: the fast answer when the record says
    nothing changed, else :func:`fluidbuild.doit_tasks.load` with what it reads observed."""
    request = parse(argv)
    root = os.getcwd()
    if request is not None and os.environ.get(DISABLE_ENV, "1") != "0":
        answer = check(request, root)
        if answer is not None:
            return answer
    from fluidbuild.doit_tasks import load as full_load

    tracker = Tracker(root) if request is not None else None
    global _session
    _session = Session(root=root, request=request, tracker=tracker, read_only=read_only_command(argv))
    if tracker is not None:
        tracker.start()
    namespace = full_load(argv)
    generator = namespace.get("task_fluidbuild")
    if tracker is not None and generator is not None:
        namespace["task_fluidbuild"] = _observed(generator, tracker)
    elif tracker is not None:
        tracker.stop()
    return namespace


def _observed(generator: Callable[[], Iterator[dict[str, Any]]],
              tracker: Tracker) -> Callable[[], Iterator[dict[str, Any]]]:
    """The task generator, with the observation ending when doit has every task."""

    def task_fluidbuild() -> Iterator[dict[str, Any]]:
        try:
            yield from generator()
        finally:
            tracker.stop()
            if _session is not None:
                _session.loaded_ns = time.perf_counter_ns()

    task_fluidbuild.__doc__ = generator.__doc__
    return task_fluidbuild


def check(request: Request, root: str) -> dict[str, Any] | None:
    """doit's namespace for an up-to-date build, or None when the record does not
    prove that nothing changed."""
    build_dir = manifest_build_dir(request.manifest)
    if build_dir is None:
        return None
    try:
        with open(state_path(build_dir), encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("build_dir") != build_dir:
        return None
    if state.get("key") != request.key(root):
        return None
    from fluidbuild import lock
    from fluidbuild.errors import FluidError

    try:  # a build running elsewhere in this tree: the normal path says so
        lock.acquire(os.path.join(root, build_dir, STATE_DIR, "lock"))
    except (OSError, FluidError):
        return None
    if not _unchanged(state):
        return None
    selected = state["selected"]
    _write_noop_trace(build_dir, len(state["paths"]), state.get("tasks", 0))
    return _namespace(selected)


def _unchanged(state: dict[str, Any]) -> bool:
    environ = os.environ
    for name, value in state["env"].items():
        if environ.get(name) != value:
            return False
    if state.get("env_digest") is not None and state["env_digest"] != _env_digest():
        return False
    for path, digest in state["content"].items():
        if _content(path) != digest:
            return False
    stat = os.stat
    sigs = state["sigs"]
    for i, path in enumerate(state["paths"]):
        old = sigs[i]
        try:
            st = stat(path)
        except OSError:
            if old is None:
                continue
            return False
        if old is None or old != [st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns]:
            return False
    return True


def _env_digest() -> str:
    import hashlib

    return hashlib.sha256(json.dumps(sorted(os.environ.items())).encode()).hexdigest()


def _namespace(selected: list[str]) -> dict[str, Any]:
    """A graph of the requested tasks, each up to date, in a database of its own."""

    def task_fluidbuild() -> Iterator[dict[str, Any]]:
        for name in selected:
            yield {"basename": name, "actions": None, "uptodate": [True], "doc": "up to date"}

    task_fluidbuild.__doc__ = "fluidbuild tasks (up to date: fast no-op)"
    config = {"backend": "sqlite3", "dep_file": ":memory:", "default_tasks": list(selected),
              "reporter": "executed-only", "par_type": "thread"}
    return {"DOIT_CONFIG": config, "task_fluidbuild": task_fluidbuild}


def _write_noop_trace(build_dir: str, paths: int, tasks: int) -> None:
    now = time.perf_counter_ns()
    event = {"name": "no-op check (fast path)", "cat": "fluidbuild", "ph": "X", "ts": 0,
             "dur": max(1, (now - _T0) // 1000), "pid": 1, "tid": 0,
             "args": {"reason": "nothing changed since the last build", "cache": "n/a",
                      "tasks": tasks, "paths_checked": paths}}
    write_trace(trace_path(build_dir), [event], {"fast_path": True})


def write_trace(path: str, events: list[dict[str, Any]], other: dict[str, Any]) -> None:
    """Write a Chrome trace-event JSON file (Perfetto, chrome://tracing) atomically;
    a read-only tree just has no trace."""
    from fluidbuild.atomic import write_text

    meta = [{"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": "fluidbuild"}}]
    doc = {"traceEvents": meta + events, "displayTimeUnit": "ms", "otherData": other}
    with contextlib.suppress(OSError):
        write_text(path, json.dumps(doc, separators=(",", ":")))


# -- observing the load ---------------------------------------------------------------------------


class Tracker:
    """Notes what building the graph reads: files opened for reading, folders
    listed or globbed, environment variables; each with its state when it was read."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.files: dict[str, list[int] | None] = {}  # path -> signature when first read
        self.content: dict[str, str | None] = {}  # /proc, /sys paths -> md5 when first read
        self.env: dict[str, str | None] = {}
        self.whole_env = False
        self.modules: dict[str, list[int] | None] = {}
        self.probes: dict[str, list[int] | None] = {}  # paths stat-ed or access-checked
        self.active = False
        self._busy = False

    def start(self) -> None:
        global _tracker
        _install()
        _tracker = self
        self.active = True
        _probe_functions(True)

    def stop(self) -> None:
        """End the observation; note every module's source file (those loaded before
        the observation started included)."""
        global _tracker
        if not self.active:
            return
        self.active = False
        _tracker = None
        _probe_functions(False)
        stdlib = _stdlib_dirs()
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and not path.startswith(stdlib) and path not in self.modules:
                self.modules[path] = _sig(path)

    # called by the audit hook and the environment wrapper, never re-entered
    def note_open(self, path: str) -> None:
        if path.endswith(".pyc") or path.startswith(_IGNORED_PREFIXES):
            return
        if path.startswith(_CONTENT_PREFIXES):
            if path not in self.content:
                self.content[path] = _content(path)
        elif path not in self.files:
            self.files[path] = _sig(path)

    def note_probe(self, path: str, sig: list[int] | None) -> None:
        if path not in self.probes:
            self.probes[path] = sig

    def note_folder(self, path: str) -> None:
        if path not in self.files:
            self.files[path] = _sig(path)

    def note_glob(self, pattern: str, recursive: bool) -> None:
        for folder in _glob_folders(pattern, recursive):
            self.note_folder(folder)


def _glob_folders(pattern: str, recursive: bool) -> list[str]:
    """Every folder whose entries decide what ``glob(pattern)`` returns: the fixed
    prefix, then each folder a wildcard part matches (all of them under ``**``)."""
    import glob as globmod
    from fnmatch import fnmatch

    absolute = pattern.startswith(os.sep)
    parts = [p for p in pattern.split(os.sep) if p]
    fixed = 0
    while fixed < len(parts) - 1 and not globmod.has_magic(parts[fixed]):
        fixed += 1
    start = os.path.join(os.sep if absolute else "", *parts[:fixed]) or os.curdir
    level, folders = [start], [start]
    for i, part in enumerate(parts[fixed:]):
        last = fixed + i == len(parts) - 1
        if last and not (recursive and part == "**"):
            break
        found: list[str] = []
        for folder in level:
            if recursive and part == "**":
                for sub, dirs, _ in os.walk(folder):
                    dirs.sort()
                    found.append(sub)
            elif globmod.has_magic(part):
                try:
                    names = sorted(os.listdir(folder))
                except OSError:
                    continue
                found.extend(os.path.join(folder, n) for n in names
                             if fnmatch(n, part) and os.path.isdir(os.path.join(folder, n)))
            else:
                found.append(os.path.join(folder, part))
        folders.extend(found)
        level = found
    return folders


_tracker: Tracker | None = None
_installed = False


def _install() -> None:
    """Install the audit hook and the environment wrapper once per process (an audit
    hook cannot be removed; it does nothing while no tracker is active)."""
    global _installed
    if _installed:
        return
    _installed = True
    sys.addaudithook(_audit)
    environ_class = type(os.environ)
    getitem, iterate = environ_class.__getitem__, environ_class.__iter__

    def __getitem__(self: Any, key: str) -> str:
        tracker = _tracker
        try:
            value = getitem(self, key)
        except KeyError:
            if tracker is not None and self is os.environ:
                tracker.env.setdefault(key, None)
            raise
        if tracker is not None and self is os.environ:
            tracker.env.setdefault(key, value)
        return value

    def __iter__(self: Any) -> Iterator[str]:
        if _tracker is not None and self is os.environ:
            _tracker.whole_env = True
        return iterate(self)

    environ_class.__getitem__ = __getitem__  # type: ignore[method-assign]
    environ_class.__iter__ = __iter__  # type: ignore[method-assign]

    # Existence checks (os.path.exists, isfile, shutil.which...) raise no audit event:
    # os.stat and os.access are wrapped while a tracker is active (_probe_functions).
    stat, access = os.stat, os.access

    def _probing(path: Any, kwargs: dict[str, Any]) -> Tracker | None:
        tracker = _tracker
        if (tracker is None or tracker._busy or isinstance(path, int) or kwargs.get("dir_fd") is not None
                or not kwargs.get("follow_symlinks", True)):
            return None
        return tracker

    def traced_stat(path: Any, **kwargs: Any) -> os.stat_result:
        tracker = _probing(path, kwargs)
        if tracker is None:
            return stat(path, **kwargs)
        try:
            result = stat(path, **kwargs)
        except OSError:
            tracker.note_probe(os.fsdecode(path), None)
            raise
        tracker.note_probe(os.fsdecode(path),
                           [result.st_mtime_ns, result.st_size, result.st_ino, result.st_ctime_ns])
        return result

    def traced_access(path: Any, mode: int, **kwargs: Any) -> bool:
        tracker = _probing(path, kwargs)
        allowed = access(path, mode, **kwargs)
        if tracker is not None:
            tracker._busy = True
            try:
                tracker.note_probe(os.fsdecode(path), _sig(os.fsdecode(path)))
            finally:
                tracker._busy = False
        return allowed

    _wrappers.update({"stat": (stat, traced_stat), "access": (access, traced_access)})
    for original, wrapper in _wrappers.values():
        for supports in (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks,
                         os.supports_effective_ids):
            if original in supports:  # shutil and others test these sets by identity
                supports.add(wrapper)


_wrappers: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {}  # name -> (os's, traced)


def _probe_functions(traced: bool) -> None:
    """Put the traced (or os's own) ``os.stat`` and ``os.access`` in place."""
    for name, (original, wrapper) in _wrappers.items():
        setattr(os, name, wrapper if traced else original)


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _audit(event: str, args: tuple[Any, ...]) -> None:
    tracker = _tracker
    if tracker is None or tracker._busy:
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int) or path is None:
            return
        if (mode is None and flags & _WRITE_FLAGS) or (mode is not None and any(c in mode for c in "wax+")):
            return
        kind = "file"
    elif event in ("os.listdir", "os.scandir"):
        path = args[0] if args else None
        if isinstance(path, int):
            return
        path = os.curdir if path is None else path
        kind = "folder"
    elif event in ("glob.glob", "glob.glob/2"):  # /2 (Python 3.12): root_dir, dir_fd too
        path = args[0]
        if len(args) > 2 and args[2] is not None and not os.path.isabs(os.fsdecode(path)):
            path = os.path.join(os.fsdecode(args[2]), os.fsdecode(path))
        kind = "glob"
    else:
        return
    tracker._busy = True
    try:
        path = os.fsdecode(path)
        if kind == "file":
            tracker.note_open(path)
        elif kind == "folder":
            tracker.note_folder(path)
        else:
            tracker.note_glob(path, bool(args[1]))
    except Exception:  # noqa: BLE001 -- an observation must never break the build; no record then
        tracker.files["<unobservable>"] = [0, 0, 0, 0]
    finally:
        tracker._busy = False


def _stdlib_dirs() -> tuple[str, ...]:
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple(dict.fromkeys(os.path.join(paths[k], "") for k in ("stdlib", "platstdlib")))


# -- the session: the normal path's load, then the record -----------------------------------------


@dataclass
class Session:
    """What the normal path learned while loading, for the record written after the build."""

    root: str
    request: Request | None
    tracker: Tracker | None
    read_only: bool
    build_dir: str | None = None
    database: str | None = None
    specs: dict[str, TaskSpec] = field(default_factory=dict)
    tools: list[str] = field(default_factory=list)
    loaded_ns: int = 0


_session: Session | None = None


def session() -> Session | None:
    return _session


def graph_loaded(manifest: Manifest, tasks: list[TaskSpec], toolbox: Toolbox, dep_file: str,
                 read_only: bool) -> None:
    """Called by :mod:`fluidbuild.doit_tasks` once the graph is built: forget the
    record (this build may change what it describes) and keep what the next record needs."""
    global _session
    if _session is None:  # loaded without dodo.py's fluidbuild.noop.load: no record
        _session = Session(root=os.getcwd(), request=None, tracker=None, read_only=read_only)
    s = _session
    s.read_only = s.read_only or read_only
    s.build_dir = manifest.build_dir
    s.database = None if dep_file == ":memory:" else dep_file
    s.specs = {t.name: t for t in tasks}
    s.tools = [tool.path for tool in toolbox.resolved()]
    if not s.read_only:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(state_path(os.path.join(s.root, manifest.build_dir)))


def build_finished(tasks: dict[str, Any], selected: list[str], statuses: dict[str, str],
                   failed: bool) -> bool:
    """Called by :class:`fluidbuild.reporter.Reporter` when doit has closed its
    database: write the record if a full check of the same request would now run
    nothing. Returns whether it was written."""
    s = _session
    if (s is None or s.tracker is None or s.request is None or s.read_only or failed
            or s.build_dir is None or s.database is None or s.tracker.active):
        return False
    try:
        state = _record(s, tasks, selected, statuses)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if state is None:
        return False
    from fluidbuild.atomic import write_text

    path = state_path(os.path.join(s.root, s.build_dir))
    try:
        if not _settled(state, os.path.dirname(path)):
            return False
        write_text(path, json.dumps(state, separators=(",", ":")))
    except OSError:
        return False
    return True


def _clock_tick(folder: str) -> int:
    """The file system's current timestamp (coarser than the clock: a few ms)."""
    import tempfile

    os.makedirs(folder, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".tick-")
    try:
        return os.fstat(fd).st_ctime_ns
    finally:
        os.close(fd)
        os.unlink(probe)


def _settled(state: dict[str, Any], folder: str) -> bool:
    """Whether no recorded path changed in the file system's current clock tick.

    A file changed again within the same tick, in place and to the same size,
    keeps its whole signature (git's "racily clean" entries). So when a recorded
    path changed during the current tick, wait for the next tick and check
    that it is still as recorded: any later change then shows in its ctime."""
    tick = _clock_tick(folder)
    racy = [i for i, sig in enumerate(state["sigs"]) if sig is not None and sig[3] >= tick]
    if not racy:
        return True
    deadline = time.monotonic() + 1.0
    while _clock_tick(folder) <= tick:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return all(_sig(state["paths"][i]) == state["sigs"][i] for i in racy)


def _closure(tasks: dict[str, Any], selected: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    stack = list(reversed(selected))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen[name] = None
        task = tasks[name]
        stack.extend(reversed([*task.task_dep, *task.setup_tasks]))
    return list(seen)


def _rows(database: str, names: set[str]) -> dict[str, dict[str, Any]]:
    """doit's records of ``names``: from the database object doit just closed (it
    holds every record it read or wrote), else from the file."""
    from doit.globals import Globals

    backend = getattr(Globals.dep_manager, "backend", None)
    cached = getattr(backend, "cached", None)
    if cached is not None and getattr(backend, "name", None) == database:
        rows = {name: cached(name) for name in names}
        if all(row is not None for row in rows.values()):
            return rows  # type: ignore[return-value]
    import sqlite3

    found: dict[str, dict[str, Any]] = {}
    with contextlib.closing(sqlite3.connect(database)) as conn:
        for task_id, data in conn.execute("select task_id, task_data from doit"):
            if task_id in names:
                found[task_id] = json.loads(data)
    return found


class _Files:
    """Current signatures of the files a record lists; a file's content is hashed
    only when its signature is not the recorded one."""

    def __init__(self) -> None:
        self.sigs: dict[str, list[int] | None] = {}

    def current(self, path: str) -> list[int] | None:
        if path not in self.sigs:
            self.sigs[path] = _sig(path)
        return self.sigs[path]

    def same(self, path: str, state: Any) -> bool:
        """Whether doit would call ``path`` unchanged against its recorded [signature, md5]."""
        if not (isinstance(state, list) and len(state) == 2):
            return False
        now = self.current(path)
        if now is None:
            return False
        if now == state[0]:
            return True
        from fluidbuild.filesig import md5_for

        return md5_for(path, now) == state[1]


def _record(s: Session, tasks: dict[str, Any], selected: list[str],
            statuses: dict[str, str]) -> dict[str, Any] | None:
    from fluidbuild import depfile
    from fluidbuild.fingerprint import DIGEST_KEY, OUTPUTS_KEY, Fingerprint

    assert s.tracker is not None and s.request is not None and s.database is not None
    names = _closure(tasks, selected)
    if any(statuses.get(n) not in ("up-to-date", "success") for n in names):
        return None  # interrupted, or a task was ignored
    rows = _rows(s.database, set(names))
    files = _Files()
    for name in names:
        task = tasks[name]
        spec = s.specs.get(name)
        if spec is None:  # a group task: no actions, no files
            if task.actions or task.targets or task.file_dep:
                return None
            continue
        if spec.always:
            return None
        deps = list(spec.file_dep)
        if spec.depfile:  # what doit_tasks._task_dict will read from it on the next load
            now = files.current(spec.depfile)
            if now is None:
                return None
            read_at_load = s.tracker.files.get(os.path.join(s.root, spec.depfile), False)
            if statuses[name] == "up-to-date" and read_at_load == now:
                deps = list(task.file_dep)  # unchanged since this load read it (none vanished)
            else:
                found, vanished = depfile.read(spec.depfile, s.root)
                if vanished:
                    return None
                deps.extend(d for d in found if d not in deps)
        row = rows.get(name, {})
        if row.get("checker:") != "SignatureChecker" or set(row.get("deps:") or ()) != set(deps):
            return None
        if not all(files.same(dep, row.get(dep)) for dep in deps):
            return None
        for check, _, _ in task.uptodate:
            if isinstance(check, Fingerprint):
                values = row.get("_values_:") or {}
                if values.get(DIGEST_KEY) != check.digest:
                    return None
                outputs = values.get(OUTPUTS_KEY) or {}
                if not all(files.same(path, st) for path, st in outputs.items()):
                    return None
            elif not isinstance(check, bool):
                return None  # a check this record cannot vouch for
        if any(files.current(target) is None for target in task.targets):
            return None
    tracker = s.tracker
    build = os.path.normpath(s.build_dir or "")
    private = os.path.join(build, STATE_DIR, "")
    depfiles = {os.path.normpath(spec.depfile) for spec in s.specs.values() if spec.depfile}
    observed: dict[str, list[int] | None] = {}
    probes = set(tracker.probes) - set(tracker.files)
    for path, sig in [*tracker.files.items(), *tracker.modules.items(), *tracker.probes.items()]:
        rel = _relative(path, s.root)
        if rel.startswith(private) or rel in depfiles:
            continue  # fluidbuild's own caches (derived from what is recorded) and depfiles
        if (rel == build or rel.startswith(build + os.sep)) and (path in probes or os.path.isdir(rel)):
            continue  # outputs (checked against doit's records above); folders walked for leftovers
        if _sig(rel) != sig:
            return None  # changed while this build ran: the next build looks again
        observed[rel] = sig
    search_path = tracker.env.get("PATH")
    if search_path:  # a program appearing earlier on PATH would be resolved instead
        for folder in search_path.split(os.pathsep):
            observed.setdefault(folder or os.curdir, _sig(folder or os.curdir))
    for tool in s.tools:
        observed.setdefault(tool, _sig(tool))
    for path, sig in files.sigs.items():
        if path in observed and observed[path] != sig:
            return None
        observed[path] = sig
    for path in (s.database, s.database + "-wal"):
        observed[_relative(path, s.root)] = _sig(path)
    paths = sorted(observed)
    return {
        "format": FORMAT,
        "key": s.request.key(s.root),
        "build_dir": s.build_dir,
        "selected": list(selected),
        "tasks": len(names),
        "env": tracker.env,
        "env_digest": _env_digest() if tracker.whole_env else None,
        "content": tracker.content,
        "paths": paths,
        "sigs": [observed[p] for p in paths],
    }


def _relative(path: str, root: str) -> str:
    """``path`` relative to the project when inside it (stat-ed from the project folder)."""
    inside = os.path.join(root, "")
    if path.startswith(inside) and "/." not in path:
        return path[len(inside):]
    absolute = os.path.join(root, path)
    if absolute.startswith(os.path.join(root, "")):
        return os.path.relpath(absolute, root)
    return os.path.normpath(absolute)
