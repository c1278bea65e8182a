"""The action cache: task outputs shared by content between checkouts and machines.

A task's outputs are a function of its *key*: the rendered actions, the
task's configuration (:mod:`fluidbuild.fingerprint`'s, with every absolute
path of the checkout replaced by ``$ROOT``), the digest of every tool binary
it runs, the environment those tools see (minus the machine-specific
``PATH`` and ``TMPDIR``: tools are resolved to absolute paths whose identity
and digest are in the key), the resolved CPU profile values it uses (a
``host`` profile as its CPU name and feature list, never the word), the
plugin's identity and source digest, the Python runtime of a Python action,
a salt, and the SHA-256 of every input file. Two clones in different folders
compute the same keys.

The store speaks Bazel's HTTP remote-cache protocol, which bazel-remote,
nginx with WebDAV and S3/GCS gateways serve: ``GET``/``PUT``/``HEAD`` of
``<url>/cas/<sha256>`` (file contents, addressed by their SHA-256) and
``<url>/ac/<key>`` (action entries). A local directory uses the same layout
(``ac/<key>``, ``cas/<sha256>``). An action entry follows the semantics of
Bazel's ``ActionResult`` in JSON instead of protobuf (servers store opaque
bytes; bazel-remote needs ``--disable_http_ac_validation``)::

    {"format": "fluidbuild-action-cache/1", "kind": "result", "task": "kernel_ir:src/kernel/gdt.c",
     "exit_code": 0, "outputs": {"build/kernel_ir/...bc": {"sha256": "...", "size": 1234,
     "executable": false}, ...}, "key": {...what the key was computed from...}}

Tasks with a depfile (C headers, NASM includes) learn their full inputs only
by running, so they have two levels, as ccache's direct mode: ``ac/<key>``
(declared inputs only) holds ``{"kind": "deps", "deps": [header, ...]}``, and
the result is at ``ac/<key2>``, ``key2`` folding in the digests those headers
have here. A changed header thus misses even in a clean clone that has no
depfile yet. The depfile is an output: a hit restores it.

Writes: content blobs first, the action entry last, only after the task
succeeded, its inputs did not change while it ran and every output exists.
Reads: every blob's digest and size is checked; a corrupt blob is reported and
the task runs locally (and its upload replaces the blob); an entry whose blob
is missing is a miss. A server that fails or does not answer within
``timeout_s`` gives one warning, and the rest of the build runs without the
cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

from doit.exceptions import TaskFailed

from fluidbuild import __version__, depfile
from fluidbuild.actions import InputGuard, tool_environment
from fluidbuild.atomic import atomic_output
from fluidbuild.cpuprofile import host_signature
from fluidbuild.errors import FluidError
from fluidbuild.fingerprint import canonical
from fluidbuild.model import Command, PyAction, TaskSpec
from fluidbuild.reporter import mark_cache

FORMAT = "fluidbuild-action-cache/1"  # in every key and entry: a new format never reads an old one
ENV_URL = "FLUIDBUILD_REMOTE_CACHE"
ENV_MODE = "FLUIDBUILD_REMOTE_CACHE_MODE"
ENV_SALT = "FLUIDBUILD_CACHE_SALT"
MODES = ("read-write", "read-only")
DEFAULT_TIMEOUT_S = 5.0
OFF = ("off", "none")  # FLUIDBUILD_REMOTE_CACHE=off: no cache, whatever the manifest says
# Tool-environment variables whose value is the machine's, not the action's.
MACHINE_ENV = ("PATH", "TMPDIR")
# The CPU-profile values that stand for a ``host`` profile in a key.
PROFILE_KEYS = ("llvm_cpu", "llvm_features", "clang_flags", "features", "tag")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # repr() of a function or object: varies per process
_HOST_WORD = re.compile(r"(^|=)(native|host)$")  # -march=native, -mcpu=host, cpu: native


class CacheUnavailable(Exception):
    """The store failed or did not answer: the build goes on without it."""


# -- settings --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the cache is and how it is used (manifest ``cache:``, then the environment)."""

    url: str  # http(s)://host:port/prefix, or a local directory (absolute)
    mode: str = "read-write"
    salt: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def writable(self) -> bool:
        return self.mode == "read-write"

    @property
    def is_http(self) -> bool:
        return self.url.startswith(("http://", "https://"))

    @property
    def shown(self) -> str:
        """The url as messages print it: without a password."""
        return re.sub(r"^(https?://)[^/@]*@", r"\1***@", self.url)


def settings(section: Mapping[str, Any] | None, environ: Mapping[str, str], root: str) -> Settings | None:
    """The cache settings of a build, or None when no cache is configured.

    ``section`` is the manifest's validated ``cache:`` mapping; ``FLUIDBUILD_REMOTE_CACHE``
    overrides its ``url`` (``off`` disables the cache), ``FLUIDBUILD_REMOTE_CACHE_MODE`` its
    ``mode``, and ``FLUIDBUILD_CACHE_SALT`` is added to its ``salt``. A relative
    directory is relative to the project root."""
    section = section or {}
    url = environ.get(ENV_URL) or section.get("url") or ""
    if url.lower() in OFF or not url:
        return None
    mode = environ.get(ENV_MODE) or section.get("mode") or "read-write"
    if mode not in MODES:
        raise FluidError(f"{ENV_MODE}={mode!r}: expected one of {', '.join(MODES)}")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url) and not url.startswith(("http://", "https://", "file://")):
        raise FluidError(f"cache url {url!r}: expected http://, https://, file:// or a directory")
    if url.startswith("file://"):
        url = url[len("file://"):]
    if url.startswith(("http://", "https://")):
        url = url.rstrip("/")
    else:
        url = os.path.normpath(os.path.join(root, os.path.expanduser(url)))
    salt = tuple(s for s in (section.get("salt") or "", environ.get(ENV_SALT, "")))
    timeout = section.get("timeout_s")
    return Settings(url, mode, salt, float(timeout) if timeout else DEFAULT_TIMEOUT_S)


# -- stores ----------------------------------------------------------------------------------------


class DirectoryStore:
    """The same layout in a local (or network-mounted) directory: ``ac/<key>``,
    ``cas/<sha256>``, each file written to a temporary and renamed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def get(self, kind: str, digest: str) -> bytes | None:
        try:
            with open(os.path.join(self.path, kind, digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CacheUnavailable(f"{exc.strerror}: {exc.filename}") from None

    def has(self, kind: str, digest: str) -> bool:
        return os.path.isfile(os.path.join(self.path, kind, digest))

    def put(self, kind: str, digest: str, data: bytes) -> None:
        folder = os.path.join(self.path, kind)
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{digest[:16]}.")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.chmod(tmp, 0o644)
                os.replace(tmp, os.path.join(folder, digest))
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        except OSError as exc:
            raise CacheUnavailable(f"{exc.strerror}: {exc.filename or folder}") from None


Store = Any  # HttpStore (fluidbuild.cachehttp) or DirectoryStore: get, has, put


def open_store(config: Settings) -> Store:
    """The store of ``config``; the HTTP client (urllib, http.client) is imported only here,
    so a build without a remote cache never pays for it."""
    if config.is_http:
        from fluidbuild.cachehttp import HttpStore

        return HttpStore(config.url, config.timeout_s)
    return DirectoryStore(config.url)


# -- keys ------------------------------------------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_file_digests: dict[tuple[str, int, int, int, int], str] = {}


def file_sha256(path: str) -> str:
    """The SHA-256 of a file, remembered per process while its stat signature holds."""
    st = os.stat(path)
    stamp = (os.path.abspath(path), st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
    if stamp not in _file_digests:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        _file_digests[stamp] = digest.hexdigest()
    return _file_digests[stamp]


def tool_digest(path: str) -> str:
    """The SHA-256 of the program ``path`` runs (symlinks followed; remembered
    per process by path, size and modification time)."""
    found = path if os.path.isabs(path) else shutil.which(path, path=tool_environment().get("PATH"))
    if not found:
        return "missing"
    try:
        return file_sha256(os.path.realpath(found))
    except OSError:
        return "missing"


@cache
def python_runtime() -> dict[str, Any]:
    """What a Python action's output may depend on besides its plugin: the
    interpreter and the distributions fluidbuild depends on (llvmlite, ...)."""
    from importlib import metadata

    try:
        names = [re.split(r"[^A-Za-z0-9_.-]", req, maxsplit=1)[0]
                 for req in metadata.requires("fluidbuild") or [] if "extra ==" not in req]
    except metadata.PackageNotFoundError:
        names = ["doit", "pluggy", "pyyaml", "llvmlite", "pyelftools"]
    packages = {}
    for name in sorted(names):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"python": platform.python_version(), "implementation": sys.implementation.name,
            "machine": platform.machine(), "fluidbuild": __version__, "packages": packages}


def key_environment() -> dict[str, str]:
    """The tool environment without its machine-specific values."""
    return {k: v for k, v in tool_environment().items() if k not in MACHINE_ENV}


def relocate(value: Any, roots: tuple[str, ...]) -> Any:
    """``value`` as JSON data with every absolute path of the checkout written
    ``$ROOT`` and per-process addresses (``<function f at 0x...>``) removed."""
    if isinstance(value, str):
        for root in roots:
            if value == root:
                return "$ROOT"
            value = value.replace(root + os.sep, "$ROOT" + os.sep)
        return value
    if isinstance(value, Mapping):
        return {str(relocate(k, roots)): relocate(v, roots) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [relocate(v, roots) for v in value]
        return sorted(items, key=canonical) if isinstance(value, (set, frozenset)) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return relocate(dataclasses.asdict(value), roots)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__name__)}"
    return _ADDRESS.sub("", relocate(str(value), roots))


def _roots(root: str) -> tuple[str, ...]:
    """The spellings of the checkout's path, longest first."""
    spellings = {os.path.abspath(root), os.path.realpath(root)}
    return tuple(sorted(spellings, key=len, reverse=True))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _host_profile(value: Any) -> bool:
    """Whether ``value`` holds CPU-profile values of a ``host`` profile."""
    if isinstance(value, Mapping):
        return value.get("mode") == "host" or any(_host_profile(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_host_profile(v) for v in value)
    return False


def _action_doc(action: Command | PyAction, roots: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(action, Command):
        return {"argv": relocate(action.argv, roots), "outputs": list(action.outputs),
                "verify": relocate(action.verify, roots) if action.verify else None}
    return {"func": relocate(action.func, roots), "kwargs": relocate(action.kwargs, roots)}


def _tool_paths(task: TaskSpec) -> list[str]:
    """The programs a task runs: each command's, and the tools its configuration names."""
    paths = [a.argv[0] for a in task.actions if isinstance(a, Command) and a.argv]

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            if isinstance(value.get("path"), str) and "version" in value:
                paths.append(value["path"])
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(task.config)
    return sorted(set(paths))


def cpu_document(task: TaskSpec, profile: Mapping[str, Any]) -> dict[str, Any]:
    """The CPU the task's output depends on, resolved: a ``host`` profile's CPU name
    and features, and this machine's CPU for a ``native``/``host`` the tools resolve."""
    doc: dict[str, Any] = {}
    if _host_profile(task.config):
        doc["profile"] = {k: profile.get(k) for k in PROFILE_KEYS}
    words = [s for a in task.actions
             for s in (_strings(a.argv) if isinstance(a, Command) else _strings(a.kwargs))]
    if any(_HOST_WORD.search(word) for word in words):
        doc["host"] = {"cpu": (profile.get("host") or {}).get("cpu_name"), "signature": host_signature()}
    return doc


def key_document(task: TaskSpec, root: str, profile: Mapping[str, Any],
                 salt: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything a task's key is computed from (declared inputs only: see
    :func:`deps_key` for the headers a depfile adds)."""
    roots = _roots(root)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "salt": list(salt),
        "config": relocate(task.config, roots),
        "actions": [_action_doc(a, roots) for a in task.actions],
        "outputs": [*task.targets, *([task.depfile] if task.depfile else [])],
        "tools": {relocate(p, roots): tool_digest(p) for p in _tool_paths(task)},
        "environment": key_environment(),
        "cpu": cpu_document(task, profile),
        "inputs": [[p, file_sha256(os.path.join(root, p))] for p in sorted(set(task.file_dep))],
    }
    if any(isinstance(a, PyAction) for a in task.actions):
        doc["python"] = python_runtime()
    return doc


def digest_of(doc: Mapping[str, Any]) -> str:
    return sha256_bytes(canonical(doc).encode())


def deps_key(base: str, deps: list[str], root: str) -> str | None:
    """The second-level key of a depfile task: its first key and the digests of the
    dependencies it discovered; None when one of them is missing here."""
    try:
        digests = [[p, file_sha256(os.path.join(root, p))] for p in deps]
    except OSError:
        return None
    return digest_of({"format": FORMAT, "base": base, "deps": digests})


# -- the cache -------------------------------------------------------------------------------------


class ActionCache:
    """The cache of one build: looks tasks up, restores and uploads their outputs,
    and turns itself off (with one warning) when its store fails."""

    def __init__(self, config: Settings, root: str, profile: Mapping[str, Any], explain: bool = False,
                 store: Store | None = None) -> None:
        self.config, self.root, self.profile, self.explain = config, root, dict(profile), explain
        self.store = store if store is not None else open_store(config)
        self.disabled = False
        self.counts = {"hits": 0, "built": 0, "uploaded": 0, "corrupt": 0}
        self._reupload: set[str] = set()  # blobs found corrupt: overwrite them
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return not self.disabled

    def cacheable(self, task: TaskSpec) -> bool:
        """Tasks that write files and may be replayed: not ``always`` ones (run,
        bench, jit, plugins), not those whose plugin opts out."""
        return bool(task.targets) and bool(task.actions) and not task.always and task.cacheable

    def action(self, task: TaskSpec, local: list[tuple[Callable[..., Any], list[Any]]],
               guard: InputGuard) -> Callable[..., TaskFailed | None]:
        """The single doit action of a cacheable task: look up, else run ``local``
        (the task's own actions) and upload."""
        return CachedTask(self, task, local, guard).run

    # -- reporting ----------------------------------------------------------------

    def warn(self, message: str) -> None:
        print(f"fluidbuild: warning: {message}", file=sys.__stderr__ or sys.stderr, flush=True)

    def disable(self, reason: str) -> None:
        """Stop using the store for the rest of the build, saying so once."""
        with self._lock:
            if self.disabled:
                return
            self.disabled = True
        self.warn(f"cache {self.config.shown} unavailable ({reason}); building locally")

    def note(self, task: TaskSpec, message: str) -> None:
        if self.explain:
            print(f"[explain] {task.name}: {message}", file=sys.__stderr__ or sys.stderr, flush=True)

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def summary(self) -> None:
        """One line at the end of a build that looked tasks up (a no-op build prints nothing)."""
        c = self.counts
        if not c["hits"] + c["built"] + c["corrupt"]:
            return
        ro = "" if self.config.writable else ", read-only"
        print(f"fluidbuild: cache {self.config.shown}{ro}: {c['hits']} hit(s), {c['built']} built locally, "
              f"{c['uploaded']} uploaded" + (f", {c['corrupt']} corrupt blob(s)" if c["corrupt"] else ""),
              file=sys.__stderr__ or sys.stderr, flush=True)

    # -- store access (any failure turns the cache off) ---------------------------

    def _get(self, kind: str, digest: str) -> bytes | None:
        if self.disabled:
            return None
        try:
            return self.store.get(kind, digest)
        except CacheUnavailable as exc:
            self.disable(str(exc))
            return None

    def _entry(self, task: TaskSpec, key: str) -> dict[str, Any] | None:
        data = self._get("ac", key)
        if data is None:
            return None
        try:
            entry = json.loads(data)
            if not isinstance(entry, dict) or entry.get("format") != FORMAT:
                raise ValueError("not an entry of this format")
        except ValueError as exc:
            self.warn(f"cache {self.config.shown}: entry ac/{key} of {task.name} is corrupt ({exc}); "
                      "building locally")
            self.count("corrupt")
            return None
        return entry

    # -- lookup -------------------------------------------------------------------

    def key(self, task: TaskSpec) -> tuple[str, dict[str, Any]] | None:
        try:
            doc = key_document(task, self.root, self.profile, self.config.salt)
        except OSError as exc:  # an input vanished: doit reports it; the task just runs
            self.note(task, f"no cache key ({exc})")
            return None
        return digest_of(doc), doc

    def restore(self, task: TaskSpec, key: str) -> bool:
        """Write the task's outputs from the cache; False (a miss) when anything is
        absent or wrong."""
        entry = self._entry(task, key)
        if entry is not None and entry.get("kind") == "deps":
            deps = entry.get("deps")
            second = deps_key(key, deps, self.root) if isinstance(deps, list) and all(
                isinstance(d, str) and _inside(d) for d in deps) else None
            if second is None:
                self.note(task, f"cache miss: a dependency recorded in ac/{key} is missing here")
                return False
            key = second
            entry = self._entry(task, key)
        if entry is None:
            self.note(task, f"cache miss (ac/{key})")
            return False
        expected = {*task.targets, *([task.depfile] if task.depfile else [])}
        outputs = entry.get("outputs")
        if entry.get("kind") != "result" or not isinstance(outputs, dict) or set(outputs) != expected:
            self.warn(f"cache {self.config.shown}: entry ac/{key} of {task.name} does not list the "
                      "task's outputs; building locally")
            self.count("corrupt")
            return False
        blobs: dict[str, tuple[bytes, bool]] = {}
        for path, meta in outputs.items():
            digest = meta.get("sha256") if isinstance(meta, dict) else None
            if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
                self.note(task, f"cache miss: entry ac/{key} has no digest for {path}")
                return False
            data = self._get("cas", digest)
            if data is None:
                self.note(task, f"cache miss: blob cas/{digest} of {path} is missing")
                return False
            actual = sha256_bytes(data)
            if actual != digest or len(data) != meta.get("size"):
                self.warn(f"cache {self.config.shown}: blob cas/{digest} of {path} is corrupt (its "
                          f"content has SHA-256 {actual[:16]}..., {len(data)} bytes); building "
                          f"{task.name} locally")
                self.count("corrupt")
                with self._lock:
                    self._reupload.add(digest)
                return False
            blobs[path] = (data, bool(meta.get("executable")))
        try:
            for path, (data, executable) in blobs.items():
                _write(os.path.join(self.root, path), data, executable)
        except OSError as exc:  # a full disk...: the task's own run says what is wrong
            self.note(task, f"cache hit (ac/{key}) not restored: {exc}")
            return False
        self.note(task, f"cache hit (ac/{key})")
        return True

    # -- upload -------------------------------------------------------------------

    def upload(self, task: TaskSpec, key: str, doc: dict[str, Any], started_ns: int) -> None:
        """Store the outputs the task just wrote: blobs first, the entry last."""
        outputs: dict[str, dict[str, Any]] = {}
        blobs: dict[str, bytes] = {}
        for path in [*task.targets, *([task.depfile] if task.depfile else [])]:
            full = os.path.join(self.root, path)
            try:
                with open(full, "rb") as f:
                    data = f.read()
                executable = bool(os.stat(full).st_mode & 0o111)
            except OSError:
                self.note(task, f"not uploaded: output {path} is missing")
                return
            digest = sha256_bytes(data)
            blobs[digest] = data
            outputs[path] = {"sha256": digest, "size": len(data), "executable": executable}
        entries: list[tuple[str, dict[str, Any]]] = []
        base = {"format": FORMAT, "task": task.name}
        if task.depfile:
            found, vanished = depfile.read(task.depfile, self.root)
            deps = sorted(set(found) - set(task.file_dep))
            if vanished or _changed_since(deps, self.root, started_ns):
                self.note(task, "not uploaded: a dependency changed while the task ran")
                return
            second = deps_key(key, deps, self.root)
            if second is None:
                return
            entries.append((second, {**base, "kind": "result", "exit_code": 0, "outputs": outputs,
                                     "key": {**doc, "deps": deps}}))
            entries.append((key, {**base, "kind": "deps", "deps": deps, "key": doc}))
        else:
            entries.append((key, {**base, "kind": "result", "exit_code": 0, "outputs": outputs,
                                  "key": doc}))
        try:
            for digest, data in blobs.items():
                with self._lock:
                    forced = digest in self._reupload
                if forced or not self.store.has("cas", digest):
                    self.store.put("cas", digest, data)
                    with self._lock:
                        self._reupload.discard(digest)
            for entry_key, entry in entries:
                self.store.put("ac", entry_key, canonical(entry).encode())
        except CacheUnavailable as exc:
            self.disable(str(exc))
            return
        self.count("uploaded")
        self.note(task, f"uploaded (ac/{entries[0][0]})")


def _inside(path: str) -> bool:
    """A project-relative path that stays inside the project (an entry from the
    server never makes us read or write elsewhere)."""
    norm = os.path.normpath(path)
    return not os.path.isabs(norm) and norm != ".." and not norm.startswith(".." + os.sep)


def _changed_since(paths: list[str], root: str, started_ns: int) -> bool:
    """Whether a dependency was modified after the task started (the input guard
    only knows the headers of the previous run)."""
    for path in paths:
        try:
            if os.stat(os.path.join(root, path)).st_mtime_ns > started_ns:
                return True
        except OSError:
            return True
    return False


def _write(path: str, data: bytes, executable: bool) -> None:
    """Write one restored output atomically, executable if it was."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
        if executable:
            mode = os.stat(tmp).st_mode
            os.chmod(tmp, mode | ((mode & 0o444) >> 2))


class CachedTask:
    """One cacheable task's doit action: the input guard's snapshot, a lookup (a
    hit restores the outputs and the depfile and skips the task's actions), else
    the actions, the depfile recorded, the guard's check, then the upload."""

    def __init__(self, cache: ActionCache, task: TaskSpec, local: list[tuple[Callable[..., Any], list[Any]]],
                 guard: InputGuard) -> None:
        self.cache, self.task, self.local, self.guard = cache, task, local, guard

    def run(self, task: Any) -> TaskFailed | None:
        """``task`` is doit's task: a depfile's dependencies go into its ``file_dep``."""
        self.guard.snapshot()
        found = self.cache.key(self.task) if self.cache.active else None
        if found is not None and self.cache.restore(self.task, found[0]):
            self.cache.count("hits")
            mark_cache(self.task.name, "hit")  # the build trace's "cache" (fluidbuild.reporter)
            self._record_depfile(task)
            return self.guard.check()
        if found is not None:
            mark_cache(self.task.name, "miss")
        started = time.time_ns()
        for func, args in self.local:
            failed = func(*args)
            if failed is not None:
                return failed
        self._record_depfile(task)
        failed = self.guard.check()
        if failed is not None:
            return failed
        if found is not None:
            self.cache.count("built")
            if self.cache.config.writable and self.cache.active:
                self.cache.upload(self.task, found[0], found[1], started)
        return None

    def _record_depfile(self, task: Any) -> None:
        if self.task.depfile:
            deps, _ = depfile.read(self.task.depfile, self.cache.root)
            task.file_dep.update(deps)
