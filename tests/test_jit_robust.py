"""The JIT survives bad input: a CPU profile this host cannot run, damaged cache entries,
sizes, counts and report paths a run cannot honour.

Anything that could end the process by a signal runs ``python -m fluidjit``
in a subprocess, so a crash shows as a negative return code, not as a dead
test runner. Tests on a module are integration tests (clang-19 builds it,
tests/jitbuild.py); the rest are unit tests.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from jitbuild import FIXTURES, ROOT, build_module
from jitbuild import registry as registry_source

from fluidjit import JitConfig, JitError, TargetCpu, run_jit
from fluidjit.compiler import ObjectCache
from fluidjit.config import GENERIC_CPU, MAX_ITERATIONS, host_cpu_for, host_features

SHF_EXECINSTR, SHT_PROGBITS = 0x4, 1
UD2 = b"\x0f\x0b"  # the instruction that always raises SIGILL


@pytest.fixture(scope="module")
def benches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("robust")
    reg = registry_source(out, [("fx_words", 16384, 300), ("fx_axpy", 16384, 100)])
    return build_module([FIXTURES / "benches.c", reg], out / "benches.bc")


def _cli(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fluidjit", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def _absent_feature() -> str:
    """A feature LLVM knows for x86 that this host lacks: APX's egpr if it does."""
    absent = sorted(name for name, on in host_features().items() if not on)
    if not absent:
        pytest.skip("this host has every x86 feature LLVM knows")
    return "egpr" if "egpr" in absent else absent[0]


# -- a CPU profile this host cannot run -----------------------------------------------

def _profile(path: Path, extra: str) -> Path:
    host = TargetCpu.host()
    present = ",".join(f for f in host.features.split(",") if f.startswith("+"))
    path.write_text(json.dumps({"mode": "pinned", "llvm_cpu": host.name,
                                "llvm_features": f"{present},{extra}"}))
    return path


@pytest.mark.integration
def test_a_profile_enabling_a_feature_the_host_lacks_falls_back_to_the_host_cpu(benches, tmp_path):
    feature = _absent_feature()
    profile = _profile(tmp_path / "profile.json", f"+{feature}")
    report = tmp_path / "report.json"
    done = _cli(benches, "--cpu-profile", profile, "--hot-calls", "3", "--hot-share", "0.2",
                "--no-cache", "--no-fp-contract", "--iterations", "300", "--report", report, "--quiet")
    assert done.returncode >= 0, f"killed by signal {-done.returncode}"
    assert done.returncode == 0, done.stderr
    [warning] = done.stderr.splitlines()
    assert warning.startswith(f"fluidjit: warning: {profile}: this host lacks +{feature} ")
    assert "tier 2 compiles for this host's CPU" in warning
    data = json.loads(report.read_text())
    assert data["cpu"]["source"].startswith("host (") and f"+{feature}" not in data["cpu"]["features"]
    assert all(b["match"] == "exact" for b in data["benchmarks"])
    assert any(f["compile_ms"] for f in data["functions"]), "tier 2 ran, for the host"


@pytest.mark.unit
def test_a_profile_cpu_name_is_kept_with_every_feature_the_host_lacks_switched_off(tmp_path):
    feature = _absent_feature()
    profile = _profile(tmp_path / "profile.json", "")
    cpu = host_cpu_for(TargetCpu.from_profile(profile), warn=False)
    assert cpu.name == TargetCpu.host().name and cpu.source == str(profile)
    items = cpu.features.split(",")
    assert f"-{feature}" in items and f"+{feature}" not in items
    assert {f"-{name}" for name, on in host_features().items() if not on} <= set(items)
    # The x86-64 baseline is on every x86-64 host: no fallback, no change.
    generic = TargetCpu(GENERIC_CPU, "-sse,-sse2", "p.json")
    assert host_cpu_for(generic) == generic
    with pytest.raises(JitError, match="must be LLVM features"):
        TargetCpu.from_profile(_write(tmp_path / "bad.json", {"llvm_cpu": "haswell",
                                                              "llvm_features": "avx2"}))


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


# -- damaged cache entries --------------------------------------------------------------

def _exec_sections(elf: bytes) -> list[tuple[int, int]]:
    """(offset, size) of the executable sections of an ELF64 relocatable object."""
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3A)
    out = []
    for i in range(shnum):
        base = shoff + i * shentsize
        sh_type, sh_flags = struct.unpack_from("<IQ", elf, base + 4)
        offset, size = struct.unpack_from("<QQ", elf, base + 24)
        if sh_type == SHT_PROGBITS and sh_flags & SHF_EXECINSTR and size >= len(UD2):
            out.append((offset, size))
    return out


def _ud2_code(entry: bytes) -> bytes:
    """``entry`` with every instruction of its object file replaced by ud2: still a valid
    ELF, one that raises SIGILL wherever it is called."""
    head, newline, obj = entry.partition(b"\n")
    code = bytearray(obj)
    sections = _exec_sections(obj)
    assert obj[:4] == b"\x7fELF" and sections
    for offset, size in sections:
        code[offset:offset + size // 2 * 2] = UD2 * (size // 2)
    return head + newline + bytes(code)


def _truncated(entry: bytes) -> bytes:
    return entry[:len(entry) // 2]


@pytest.mark.unit
def test_the_cache_hands_back_only_what_it_was_given(tmp_path, capsys):
    cache = ObjectCache(tmp_path)
    request, other = {"ir": "a", "cpu": "x"}, {"ir": "b", "cpu": "x"}
    obj = b"\x7fELF" + bytes(range(256)) * 4
    cache.put(request, obj)
    assert cache.get(request) == obj and cache.get(other) is None
    path = cache.path(request)
    entry = path.read_bytes()
    damages: list[tuple[bytes, str]] = [
        (entry[:-1] + bytes([entry[-1] ^ 1]), "sha256 differs"),
        (_truncated(entry), "bytes of object file"),
        (obj, "no valid header"),  # a bare object file: the format before headers
    ]
    for damaged, why in damages:
        path.write_bytes(damaged)
        assert cache.get(request) is None
        assert not path.exists()
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"fluidjit: cache entry {path} is damaged (") and why in line
        assert line.endswith("); recompiling")
    # Another request's entry under this one's name.
    cache.put(other, obj)
    cache.path(other).rename(path)
    assert cache.get(request) is None and "another request" in capsys.readouterr().err


@pytest.mark.integration
@pytest.mark.parametrize("damage", [_ud2_code, _truncated], ids=["ud2-code", "truncated"])
def test_a_damaged_cache_entry_is_recompiled_never_run(benches, tmp_path, damage: Callable[[bytes], bytes]):
    cache = tmp_path / "cache"
    options = ("--bench", "fx_words", "--hot-calls", "3", "--hot-share", "0.2", "--no-specialize",
               "--cache-dir", cache, "--quiet")
    first = run_jit(JitConfig(benches, benchmarks=("fx_words",), hot_calls=3, hot_share=0.2,
                              specialize=False, cache_dir=cache, quiet=True))
    assert not first.failures
    entries = sorted(cache.glob("*.entry"))
    assert entries
    for path in entries:
        path.write_bytes(damage(path.read_bytes()))
    report = tmp_path / "report.json"
    done = _cli(benches, *options, "--report", report)
    assert done.returncode >= 0, f"killed by signal {-done.returncode}"
    assert done.returncode == 0, done.stderr
    damaged = [line for line in done.stderr.splitlines() if " is damaged (" in line]
    assert damaged and len(damaged) == len(done.stderr.splitlines())
    data = json.loads(report.read_text())
    assert [b["match"] for b in data["benchmarks"]] == ["exact"]
    assert [b["checksum"] for b in data["benchmarks"]] == [b.checksum for b in first.benchmarks]
    compiled = [f for f in data["functions"] if f["compile_ms"] is not None]
    assert compiled and not any(f["state"] == "failed" or f["error"] for f in data["functions"])
    assert len(damaged) <= len(entries) and not any(f["cached"] for f in compiled), \
        "every damaged entry was compiled again"
    # ...and kept again, whole: the next run is served from the cache, without a message.
    third = _cli(benches, *options)
    assert third.returncode == 0 and "damaged" not in third.stderr


# -- sizes, counts and report paths a run cannot honour -----------------------------------

def _bad_input_cases() -> list[tuple[tuple[str, ...], str]]:
    return [
        (("--report", "{dir}"), "is a directory"),
        (("--report", "{dir}/absent/report.json"), "absent does not exist"),
        (("--report", "{file}/report.json"), "is not a directory"),
        (("--iterations", "0"), f"iterations must be within 1..{MAX_ITERATIONS}, not 0"),
        (("--iterations", str(MAX_ITERATIONS + 1)), "iterations must be within"),
        (("--size", "0"), "size must be within"),
        (("--size", str(2**32)), "32-bit parameter"),
        (("--seed", "-1"), "seed must be within"),
        # fx_words needs 4 bytes a word: 16 GB, more than the 4 GiB a benchmark may ask for.
        (("--size", "4000000000"), "benchmark 'fx_words' at size 4000000000 needs a 16000000000-byte arena"),
    ]


@pytest.mark.integration
@pytest.mark.parametrize(("args", "message"), _bad_input_cases())
def test_cli_refuses_what_a_run_cannot_honour_before_it_runs(benches, tmp_path, args, message):
    (tmp_path / "a_file").write_text("")
    args = tuple(a.format(dir=tmp_path, file=tmp_path / "a_file") for a in args)
    report = tmp_path / "report.json"
    if "--report" not in args:
        args += ("--report", str(report))
    start = time.monotonic()
    done = _cli(benches, *args, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert done.stderr.startswith("fluidjit: error: ") and "Traceback" not in done.stderr
    assert done.stdout == "" and not report.exists(), "nothing ran, nothing was written"
    assert time.monotonic() - start < 30


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any directory")
def test_cli_refuses_a_report_in_a_directory_it_cannot_write(benches, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    done = _cli(benches, "--report", locked / "report.json", timeout=60)
    assert done.returncode == 2 and "is not writable" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.integration
def test_the_api_lets_the_report_writer_make_missing_directories(benches, tmp_path):
    JitConfig(benches, report=tmp_path / "new" / "dir" / "report.json")  # doit jit's build/jit/
    with pytest.raises(JitError, match="is a directory"):
        JitConfig(benches, report=tmp_path)
