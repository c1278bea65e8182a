"""The shared action cache (fluidbuild/cache.py, README "Shared build cache").

Unit tests drive :class:`fluidbuild.cache.ActionCache` in-process with Python
actions and a directory store (or a socket that never answers). Integration
tests build copies of the project against a real server, nginx with WebDAV
(tests/cacheserver.py), started on 127.0.0.1 by the fixtures: clone A builds
and uploads, clone B in another folder builds nothing and gets the same
image; a corrupt blob, a server stopped mid-build, two writers at once and a
read-only client.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cacheserver import Nginx, nginx_binary
from conftest import edit, executed

from fluidbuild import cache, cachehttp, toolchain
from fluidbuild.actions import InputGuard, run_python
from fluidbuild.errors import FluidError, ManifestError
from fluidbuild.fingerprint import canonical
from fluidbuild.manifest import CACHE
from fluidbuild.model import Command, PyAction, TaskSpec
from fluidbuild.schema import Where
from fluidbuild.testing import CPU_PROFILE

# -- unit: in-process, Python actions ------------------------------------------------------------

RAN: list[str] = []  # outputs the Python actions below really wrote


def shout(source: str, output: str, executable: bool = False) -> None:
    """A Python action: ``output`` is ``source`` in capitals."""
    RAN.append(output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    Path(output).write_text(Path(source).read_text().upper())
    if executable:
        os.chmod(output, 0o755)


def shout_with_depfile(source: str, output: str, dep: str) -> None:
    """Like a compiler with -MD: reads the header named in the source, writes a depfile."""
    RAN.append(output)
    header = Path(source).read_text().strip()
    Path(output).write_text(Path(header).read_text().upper())
    Path(dep).write_text(f"{output}: {source} {header}\n")


def write_nothing(output: str) -> None:
    RAN.append(output)


def project(root: Path, text: str = "hello\n") -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "a.txt").write_text(text)
    (root / "src" / "a.h").write_text("header one\n")
    (root / "src" / "b.txt").write_text("src/a.h\n")
    return root


def shout_task(root: Path, executable: bool = False) -> TaskSpec:
    """A task whose action and configuration name absolute paths inside the checkout."""
    out = "build/a.out"
    return TaskSpec("shout:src/a.txt", "shout", [PyAction(shout, {
        "source": str(root / "src/a.txt"), "output": str(root / out), "executable": executable})],
        file_dep=["src/a.txt"], targets=[out],
        config={"argv": ["shout", str(root / "src/a.txt")], "tool": {"path": sys.executable, "version": "3"},
                "plugin": {"name": "test", "version": "1", "source": "abc"}, "outputs": [out]})


def depfile_task(root: Path) -> TaskSpec:
    out, dep = "build/b.out", "build/b.out.d"
    return TaskSpec("shout:src/b.txt", "shout", [PyAction(shout_with_depfile, {
        "source": "src/b.txt", "output": out, "dep": dep})],
        file_dep=["src/b.txt"], targets=[out], depfile=dep, config={"outputs": [out]})


def make_cache(root: Path, store: Path | None = None, mode: str = "read-write", salt: str = "",
               url: str | None = None, timeout_s: float = 5.0) -> cache.ActionCache:
    config = cache.Settings(url or str(store), mode, (salt,), timeout_s)
    return cache.ActionCache(config, str(root), CPU_PROFILE)


def run(action_cache: cache.ActionCache, task: TaskSpec, root: Path) -> Any:
    """Run ``task``'s single doit action as doit would (from the project root)."""
    local = [(run_python, [a, task.name, "test"]) for a in task.actions]
    doit_task = SimpleNamespace(file_dep=set(task.file_dep))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = action_cache.action(task, local, InputGuard(task.name, list(task.file_dep), str(root)))(
            doit_task)
    finally:
        os.chdir(cwd)
    return result, doit_task


def test_settings_come_from_the_manifest_then_the_environment(tmp_path: Path) -> None:
    section = {"url": "cache-dir", "mode": "read-only", "salt": "s1", "timeout_s": 2.0}
    got = cache.settings(section, {}, str(tmp_path))
    assert got == cache.Settings(str(tmp_path / "cache-dir"), "read-only", ("s1", ""), 2.0)
    env = {"FLUIDBUILD_REMOTE_CACHE": "http://h:8080/p/", "FLUIDBUILD_CACHE_SALT": "2",
           "FLUIDBUILD_REMOTE_CACHE_MODE": "read-write"}
    got = cache.settings(section, env, str(tmp_path))
    assert got == cache.Settings("http://h:8080/p", "read-write", ("s1", "2"), 2.0)
    assert cache.settings(None, {}, str(tmp_path)) is None
    secret = cache.Settings("https://ci:s3cret@cache.example/fluid")
    assert secret.shown == "https://***@cache.example/fluid"  # as warnings print it
    assert cachehttp.HttpStore(secret.url, 1).url == "https://cache.example/fluid"  # basic auth in a header
    assert cache.settings(section, {"FLUIDBUILD_REMOTE_CACHE": "off"}, str(tmp_path)) is None
    with pytest.raises(FluidError, match="FLUIDBUILD_REMOTE_CACHE_MODE='rw'"):
        cache.settings(section, {"FLUIDBUILD_REMOTE_CACHE_MODE": "rw"}, str(tmp_path))
    with pytest.raises(FluidError, match="ftp://"):
        cache.settings(None, {"FLUIDBUILD_REMOTE_CACHE": "ftp://h/x"}, str(tmp_path))
    with pytest.raises(ManifestError, match=r"manifest.yaml:7: manifest error at 'cache.url'"):
        CACHE.validate({"url": "ftp://h/x"}, Where("manifest.yaml", "cache", 7))
    assert CACHE.validate({"url": "http://h"}, Where("manifest.yaml", "cache", 7))["timeout_s"] == 5.0


def test_the_key_does_not_depend_on_the_checkout_folder(tmp_path: Path) -> None:
    a, b = project(tmp_path / "a"), project(tmp_path / "elsewhere" / "b")
    doc_a = cache.key_document(shout_task(a), str(a), CPU_PROFILE)
    doc_b = cache.key_document(shout_task(b), str(b), CPU_PROFILE)
    assert str(a) not in canonical(doc_a) and "$ROOT/src/a.txt" in canonical(doc_a)
    assert cache.digest_of(doc_a) == cache.digest_of(doc_b)
    assert doc_a["tools"][sys.executable] == hashlib.sha256(
        Path(os.path.realpath(sys.executable)).read_bytes()).hexdigest()
    assert "PATH" not in doc_a["environment"] and doc_a["environment"]["LC_ALL"] == "C"
    assert doc_a["python"]["packages"]["llvmlite"]  # a Python action: the libraries it may use
    # What does change it: an input's content, the salt, the configuration.
    (b / "src" / "a.txt").write_text("hello!\n")
    assert cache.digest_of(cache.key_document(shout_task(b), str(b), CPU_PROFILE)) != cache.digest_of(doc_a)
    salted = cache.key_document(shout_task(a), str(a), CPU_PROFILE, ("generation 2",))
    assert cache.digest_of(salted) != cache.digest_of(doc_a)
    task = shout_task(a)
    task.config["argv"].append("-O3")
    assert cache.digest_of(cache.key_document(task, str(a), CPU_PROFILE)) != cache.digest_of(doc_a)


def test_a_host_profile_enters_the_key_as_its_features(tmp_path: Path) -> None:
    root = project(tmp_path)
    host = {**CPU_PROFILE, "mode": "host", "llvm_cpu": "znver5", "llvm_features": "+avx512f,+sha",
            "clang_flags": ["-march=znver5"]}
    argv = ["/usr/bin/clang-19", "-march=znver5", "-o", "build/x"]
    task = TaskSpec("tuned", "", [Command(argv, ["build/x"])], targets=["build/x"],
                    config={"cpu": {"clang_flags": ["-march=znver5"], "mode": "host"}})
    doc = cache.key_document(task, str(root), host)
    assert doc["cpu"] == {"profile": {"llvm_cpu": "znver5", "llvm_features": "+avx512f,+sha",
                                      "clang_flags": ["-march=znver5"], "features": None, "tag": "TEST"}}
    other = cache.key_document(task, str(root), {**host, "llvm_features": "+avx512f"})
    assert cache.digest_of(doc) != cache.digest_of(other)
    # A tool asked for "native" resolves it on this machine: this machine's CPU is in the key.
    native = TaskSpec("n", "", [Command(["/usr/bin/clang-19", "-march=native"], [])], targets=["build/y"])
    assert cache.key_document(native, str(root), CPU_PROFILE)["cpu"]["host"]["signature"]
    assert cache.key_document(shout_task(root), str(root), CPU_PROFILE)["cpu"] == {}


def test_a_hit_restores_the_outputs_without_running_the_task(tmp_path: Path) -> None:
    store = tmp_path / "store"
    a, b = project(tmp_path / "a"), project(tmp_path / "b")
    RAN.clear()
    writer = make_cache(a, store)
    assert run(writer, shout_task(a, executable=True), a)[0] is None
    assert [str(a / "build/a.out")] == RAN and writer.counts["uploaded"] == 1
    [entry] = [json.loads(p.read_text()) for p in (store / "ac").iterdir()]
    assert entry["kind"] == "result" and entry["exit_code"] == 0 and str(a) not in json.dumps(entry)
    assert entry["outputs"]["build/a.out"]["size"] == 6 and entry["outputs"]["build/a.out"]["executable"]
    reader = make_cache(b, store)
    assert run(reader, shout_task(b, executable=True), b)[0] is None
    assert len(RAN) == 1 and reader.counts == {"hits": 1, "built": 0, "uploaded": 0, "corrupt": 0}
    assert (b / "build/a.out").read_text() == "HELLO\n" and os.access(b / "build/a.out", os.X_OK)


def test_a_depfile_task_looks_its_headers_up_too(tmp_path: Path) -> None:
    """The first level knows the declared inputs; the headers the depfile lists
    decide the second: a clone without a depfile still misses on a changed header."""
    store = tmp_path / "store"
    a, b, c = project(tmp_path / "a"), project(tmp_path / "b"), project(tmp_path / "c")
    (a / "build").mkdir()
    RAN.clear()
    result, doit_task = run(make_cache(a, store), depfile_task(a), a)
    assert result is None and "src/a.h" in doit_task.file_dep  # the depfile is recorded for doit
    kinds = sorted(json.loads(p.read_text())["kind"] for p in (store / "ac").iterdir())
    assert kinds == ["deps", "result"]
    (b / "build").mkdir()
    result, doit_task = run(make_cache(b, store), depfile_task(b), b)
    assert len(RAN) == 1 and (b / "build/b.out").read_text() == "HEADER ONE\n"
    assert (b / "build/b.out.d").read_text() == (a / "build/b.out.d").read_text()  # restored, and recorded:
    assert "src/a.h" in doit_task.file_dep
    (c / "src" / "a.h").write_text("header two\n")
    (c / "build").mkdir()
    run(make_cache(c, store), depfile_task(c), c)
    assert len(RAN) == 2 and (c / "build/b.out").read_text() == "HEADER TWO\n"


def test_failed_and_incomplete_actions_are_never_cached(tmp_path: Path) -> None:
    store = tmp_path / "store"
    root = project(tmp_path / "a")
    failing = TaskSpec("bad", "", [PyAction(shout, {"source": "src/missing.txt", "output": "build/x"})],
                       targets=["build/x"])
    result, _ = run(make_cache(root, store), failing, root)
    assert "FileNotFoundError" in str(result)
    silent = TaskSpec("silent", "", [PyAction(write_nothing, {"output": "build/y"})], targets=["build/y"])
    assert run(make_cache(root, store), silent, root)[0] is None
    assert not store.exists()


def test_a_corrupt_blob_is_rebuilt_and_replaced(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    a, b = project(tmp_path / "a"), project(tmp_path / "b")
    RAN.clear()
    run(make_cache(a, store), shout_task(a), a)
    [blob] = (store / "cas").iterdir()
    blob.write_bytes(b"HELLO, WORLD\n")
    reader = make_cache(b, store)
    assert run(reader, shout_task(b), b)[0] is None
    err = capfd.readouterr().err
    assert f"blob cas/{blob.name} of build/a.out is corrupt" in err
    assert "building shout:src/a.txt locally" in err
    assert len(RAN) == 2 and (b / "build/a.out").read_text() == "HELLO\n"
    assert reader.counts == {"hits": 0, "built": 1, "uploaded": 1, "corrupt": 1}
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name  # the upload replaced it


def test_an_entry_whose_blob_is_missing_is_a_miss(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    a, b = project(tmp_path / "a"), project(tmp_path / "b")
    RAN.clear()
    run(make_cache(a, store), shout_task(a), a)
    [blob] = (store / "cas").iterdir()
    blob.unlink()
    reader = make_cache(b, store)
    assert run(reader, shout_task(b), b)[0] is None
    assert len(RAN) == 2 and "warning" not in capfd.readouterr().err
    assert reader.counts["uploaded"] == 1 and blob.exists()  # uploaded again


def test_a_read_only_cache_never_writes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    root = project(tmp_path / "a")
    reader = make_cache(root, store, mode="read-only")
    assert run(reader, shout_task(root), root)[0] is None
    assert not store.exists() and reader.counts["built"] == 1


class SilentServer:
    """A TCP server that accepts connections and never answers (a hung cache)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def test_a_down_or_hung_server_gives_one_warning_then_the_build_goes_on(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "a")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = make_cache(root, url=f"http://127.0.0.1:{closed}/c")
    for _ in range(3):
        assert run(down, shout_task(root), root)[0] is None
    err = capfd.readouterr().err
    assert err.count("warning") == 1 and down.counts == {"hits": 0, "built": 1, "uploaded": 0, "corrupt": 0}
    assert f"fluidbuild: warning: cache http://127.0.0.1:{closed}/c unavailable (" in err
    assert err.rstrip().endswith("; building locally")

    hung = SilentServer()
    try:
        slow = make_cache(root, url=f"http://127.0.0.1:{hung.port}", timeout_s=0.3)
        start = time.monotonic()
        for _ in range(3):
            assert run(slow, shout_task(root), root)[0] is None
        assert time.monotonic() - start < 3
        err = capfd.readouterr().err
        assert err.count("warning") == 1 and "(no answer in 0.3 s); building locally" in err
        assert len(hung.accepted) == 1  # no more requests after the first failed
    finally:
        hung.close()


# -- integration: doit builds against nginx ------------------------------------------------------


@pytest.fixture(scope="module")
def nginx_path() -> str:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("NGINX IS NOT INSTALLED: the shared-cache tests need a real HTTP cache server "
                    "(nginx with WebDAV); install the Debian package 'nginx' (scripts/setup.sh test does)")
    return binary


@pytest.fixture(scope="module")
def nginx(nginx_path: str, built_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """The module's cache server. (It needs ``built_tree``, the reference image: tests
    using it are integration tests by conftest's rule.)"""
    server = Nginx(tmp_path_factory.mktemp("nginx"), nginx_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Programs named like the toolchain's that log their command line, then run the real one:
    the tools see only PATH, TMPDIR and LC_ALL, so the log's path is written into them."""
    folder = tmp_path_factory.mktemp("shims")
    log = folder / "runs.log"
    log.write_text("")
    for spec in (toolchain.CLANG, toolchain.NASM, toolchain.LINKER):
        for name in spec.candidates:
            real = shutil.which(name)
            if real and not (folder / name).exists():
                (folder / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\nexec {real} "$@"\n')
                (folder / name).chmod(0o755)
    return folder


def tool_runs(shims: Path) -> list[str]:
    """The actions' tool runs logged since the last call (version probes and the CPU
    profile's macro query write no file: they have neither ``-o`` nor ``-MF``)."""
    log = shims / "runs.log"
    lines = log.read_text().splitlines()
    log.write_text("")
    return [line for line in lines if " -o " in line or " -MF " in line]


def clone(built_tree: Path, dest: Path) -> Path:
    """A never-built copy of the reference tree's sources."""
    shutil.copytree(built_tree, dest, symlinks=True, ignore=shutil.ignore_patterns("build"))
    return dest


def build_env(url: str, shims: Path, salt: str = "", mode: str = "read-write") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLUIDBUILD_")}
    return {**env, "PATH": f"{shims}{os.pathsep}{env.get('PATH', '')}", "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1", "FLUIDBUILD_REMOTE_CACHE": url, "FLUIDBUILD_REMOTE_CACHE_MODE": mode,
            "FLUIDBUILD_CACHE_SALT": salt}


def start(tree: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=tree, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@dataclass
class Build:
    tree: Path
    proc: subprocess.CompletedProcess[str]
    seconds: float
    runs: list[str]  # the tool runs of its actions

    @property
    def counts(self) -> dict[str, int]:
        """The cache summary line's figures."""
        match = re.search(r"(\d+) hit\(s\), (\d+) built locally, (\d+) uploaded", self.proc.stderr)
        assert match, self.proc.stderr
        return dict(zip(("hits", "built", "uploaded"), map(int, match.groups()), strict=True))


def build(tree: Path, env: dict[str, str], shims: Path, *args: str) -> Build:
    tool_runs(shims)
    begin = time.monotonic()
    proc = start(tree, env, *args)
    out, err = proc.communicate(timeout=600)
    seconds = time.monotonic() - begin
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert proc.returncode == 0, f"doit {' '.join(args)} failed:\n{out}\n{err}"
    return Build(tree, done, seconds, tool_runs(shims))


def same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


IMAGE = Path("build/fluid.img")


@pytest.fixture(scope="module")
def warm(nginx: Nginx, built_tree: Path, shims: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Clone A, built from clean with the server empty: it uploads every task."""
    tree = clone(built_tree, tmp_path_factory.mktemp("clone") / "a")
    return build(tree, build_env(nginx.url + "/fleet", shims), shims, "image")


def test_clone_a_uploads_every_task_without_its_folder(warm: Build, nginx: Nginx, built_tree: Path) -> None:
    tree = warm.tree
    counts = warm.counts
    assert counts["hits"] == 0 and counts["built"] == counts["uploaded"] > 40
    assert same_bytes(tree / IMAGE, built_tree / IMAGE)
    assert not warm.proc.stderr.count("warning")
    entries = {path.name: path.read_text() for path in (nginx.store / "fleet" / "ac").iterdir()}
    assert entries and not [e for e in entries.values() if str(tree) in e or str(tree.resolve()) in e]
    for blob in (nginx.store / "fleet" / "cas").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    # Blobs first, the action entry last: each entry's PUT follows the PUTs of its blobs.
    puts = [line.split()[1].rsplit("/", 2)[-2:] for line in nginx.requests()
            if line.startswith("PUT /fleet/")]
    order = {tuple(put): i for i, put in reversed(list(enumerate(puts)))}  # the first PUT of each
    for name, text in entries.items():
        for output in json.loads(text).get("outputs", {}).values():
            assert order[("cas", output["sha256"])] < order[("ac", name)]


def test_clone_b_elsewhere_builds_nothing_and_gets_the_same_image(
        warm: Build, nginx: Nginx, built_tree: Path, shims: Path, tmp_path: Path) -> None:
    tree = clone(built_tree, tmp_path / "elsewhere" / "deeper" / "b")
    env = build_env(nginx.url + "/fleet", shims)
    b = build(tree, env, shims, "image")
    assert b.runs == [], "clone B ran tools:\n" + "\n".join(b.runs)
    assert b.counts == {"hits": warm.counts["built"], "built": 0, "uploaded": 0}
    assert same_bytes(tree / IMAGE, warm.tree / IMAGE)
    assert same_bytes(tree / IMAGE, built_tree / IMAGE)
    print(f"\nclean build, cold cache (clone A, uploading): {warm.seconds:.2f} s, {len(warm.runs)} tool "
          f"runs; warm cache (clone B): {b.seconds:.2f} s, {len(b.runs)} tool runs")
    # doit recorded the restored outputs and the headers of the restored depfiles:
    assert executed(build(tree, env, shims, "image").proc) == []
    edit(tree / "src/kernel/gdt.h", "#define GDT_KERNEL_CODE 0x08", "#define GDT_KERNEL_CODE (0x08)")
    rebuilt = executed(build(tree, env, shims, "image").proc)
    assert "kernel_ir:src/kernel/gdt.c" in rebuilt and "kernel_ir:src/kernel/pic.c" not in rebuilt


def test_a_local_directory_uses_the_same_keys(
        warm: Build, nginx: Nginx, built_tree: Path, shims: Path, tmp_path: Path) -> None:
    """nginx's storage folder, read as a directory cache, has every entry clone A uploaded."""
    tree = clone(built_tree, tmp_path / "local")
    local = build(tree, build_env(str(nginx.store / "fleet"), shims, mode="read-only"), shims, "image")
    assert local.runs == [] and local.counts["built"] == 0
    assert same_bytes(tree / IMAGE, built_tree / IMAGE)


def test_a_corrupt_blob_from_the_server_is_detected_and_rebuilt(
        warm: Build, nginx: Nginx, built_tree: Path, shims: Path, tmp_path: Path) -> None:
    stage1 = built_tree / "build/stage1/stage1.bin"
    blob = nginx.store / "fleet" / "cas" / hashlib.sha256(stage1.read_bytes()).hexdigest()
    blob.write_bytes(b"\x90" * 512)  # the right size, the wrong bytes
    tree = clone(built_tree, tmp_path / "c")
    c = build(tree, build_env(nginx.url + "/fleet", shims), shims, "stage1")
    assert f"blob cas/{blob.name} of build/stage1/stage1.bin is corrupt" in c.proc.stderr
    assert [run.split()[0] for run in c.runs] == ["nasm", "nasm"]  # stage1's depfile and object, locally
    assert c.counts["built"] == 1 and same_bytes(tree / "build/stage1/stage1.bin", stage1)
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name  # its upload repaired the server


def test_the_server_stopped_mid_build(nginx_path: str, built_tree: Path, shims: Path, tmp_path: Path) -> None:
    server = Nginx(tmp_path / "nginx", nginx_path)
    server.start()
    try:
        tree = clone(built_tree, tmp_path / "d")
        proc = start(tree, build_env(server.url, shims), "image")
        end = time.monotonic() + 120
        while not server.files("ac") and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
        running = proc.poll() is None
        server.stop()  # after the first task's upload
        out, err = proc.communicate(timeout=600)
    finally:
        server.stop()
    assert running, "the build ended before the server could be stopped"
    assert proc.returncode == 0, out + err
    assert err.count("warning") == 1
    assert re.search(rf"fluidbuild: warning: cache {server.url} unavailable \(.+\); building locally", err)
    assert same_bytes(tree / IMAGE, built_tree / IMAGE)


def test_two_writers_at_once(nginx: Nginx, built_tree: Path, shims: Path, tmp_path: Path) -> None:
    env = build_env(nginx.url + "/writers", shims, salt="two writers")
    trees = [clone(built_tree, tmp_path / name) for name in ("w1", "w2")]
    procs = [start(tree, env, "image") for tree in trees]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and "warning" not in err, out + err
    for blob in (nginx.store / "writers" / "cas").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    for entry in (nginx.store / "writers" / "ac").iterdir():
        assert json.loads(entry.read_text())["format"] == cache.FORMAT
    tree = clone(built_tree, tmp_path / "after")
    after = build(tree, env, shims, "image")
    assert after.runs == [] and after.counts["built"] == 0
    assert same_bytes(tree / IMAGE, built_tree / IMAGE)


def test_a_read_only_client_never_writes(nginx: Nginx, built_tree: Path, shims: Path, tmp_path: Path) -> None:
    before = len(nginx.requests())
    tree = clone(built_tree, tmp_path / "ro")
    ro = build(tree, build_env(nginx.url + "/fleet", shims, salt="never written", mode="read-only"), shims,
               "stage1", "stage2", "kernel_asm")
    requests = nginx.requests()[before:]
    assert ro.counts["built"] >= 5 and ro.counts["uploaded"] == 0 and ", read-only:" in ro.proc.stderr
    assert requests and all(line.startswith("GET ") for line in requests), requests
    assert not (nginx.store / "fleet" / "ac").exists() or all(
        "never written" not in path.read_text() for path in (nginx.store / "fleet" / "ac").iterdir())
