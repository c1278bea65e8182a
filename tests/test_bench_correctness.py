"""The six benchmarks against independent host references.

Both variants of every benchmark run in the native runners the build makes
(``doit native_x86_64 native_i386``: x86-64, and i386 built with the
kernel's flags); each run dumps its input and output regions, which
fluidbench.oracle checks against numpy, numpy.fft, hashlib and
Python ``re``, and from which it recomputes the checksum the runner printed.
Sizes are picked to reach the edge paths.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import copy_project, doit

from fluidbench import lines, native, oracle

VARIANTS = ("generic", "tuned")
ARCHES = ("x86_64", "i386")
SIZES = {
    # odd: the 4-row blocks leave a remainder row
    "matrix_mul": (67,),
    # 301 = 256 + 45: two k slices (store, then accumulate); 301 is no
    # multiple of any tile height or width, nor of the 96-row A block
    "gemm_tile": (301,),
    # smallest size; an odd power (radix-2 last stage); an even one
    "fft_1d": (64, 2048, 4096),
    # not a multiple of the 4 KiB stream chunk nor of the 64-byte block
    "sha256_stream": (100_003,),
    "regex_dfa": (300_000,),
    # not a multiple of the 512-particle block nor of any vector width
    "physics_step": (1000,),
}
CASES = [(name, size) for name, sizes in SIZES.items() for size in sizes]
BENCHMARKS = tuple(SIZES)
NIST_IDS = ["empty", "abc", "448-bit", "million-a"]


@pytest.fixture(scope="module")
def runners(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The runners of the default manifest, built by fluidbuild in a copy of the project."""
    tree = copy_project(tmp_path_factory.mktemp("native") / "fluid")
    targets = {arch: f"native_{arch}" for arch in ARCHES}
    doit(tree, "-n", "2", *targets.values())
    return {arch: tree / native.runner_path("build", name) for arch, name in targets.items()}


def run_bench(runner: Path, name: str, variant: str, size: int | str, *options: str) -> dict:
    """One timed run() (size "-": the registry's, i.e. the manifest's); the FLUID-BENCH line."""
    return native.run(runner, name, variant, size, 1, *options)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("name", "size"), CASES)
def test_output_matches_reference(
    runners: dict[str, Path], tmp_path: Path, arch: str, variant: str, name: str, size: int
) -> None:
    dump_file = tmp_path / "dump.bin"
    result = run_bench(runners[arch], name, variant, size, "--dump-file", str(dump_file))
    assert (result["name"], result["variant"], result["arch"], result["size"]) == (name, variant, arch, size)
    assert lines.line_errors("FLUID-BENCH", result) == [], result
    assert result["work"] > 0 and result["ns"] > 0 and result["throughput_milli"] > 0
    assert result["throughput_unit"] == result["unit"] + "/s"
    dump = oracle.read_dump(dump_file)
    oracle.verify(name, size, dump)
    assert int(result["checksum"], 16) == oracle.expected_checksum(name, size, dump)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_checksum_same_on_every_build(runners: dict[str, Path], name: str) -> None:
    """At the manifest's size, which the kernel also runs: one checksum for both
    variants on both architectures (the in-kernel run must print it too)."""
    checksums = {
        (arch, variant): run_bench(runners[arch], name, variant, "-")["checksum"]
        for arch in ARCHES
        for variant in VARIANTS
    }
    assert len(set(checksums.values())) == 1, checksums


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("message", "digest"), oracle.NIST_SHA256_VECTORS, ids=NIST_IDS)
def test_sha256_nist_vectors(
    runners: dict[str, Path], tmp_path: Path, arch: str, variant: str, message: bytes, digest: str
) -> None:
    message_file, dump_file = tmp_path / "message.bin", tmp_path / "dump.bin"
    message_file.write_bytes(message)
    run_bench(runners[arch], "sha256_stream", variant, len(message),
              "--input-file", str(message_file), "--dump-file", str(dump_file))
    assert oracle.read_dump(dump_file).output.hex() == digest


REGEX_LINE = b"2024-03-07 14:02:59.123 WARN [db-3] GET /api/v1/users status=503 latency=1520ms user=bob"
REGEX_CORPUS = b"\n".join([
    REGEX_LINE,                                  # match
    REGEX_LINE + b" ",                           # trailing text
    b"x" + REGEX_LINE,                           # leading text
    REGEX_LINE.replace(b" user=bob", b""),       # match: the user part is optional
    REGEX_LINE.replace(b"=1520ms", b"=99ms"),    # too fast
    REGEX_LINE.replace(b"WARN", b"INFO"),        # wrong level
    REGEX_LINE.replace(b"WARN", b"ERROR").replace(b"/api/v1/users", b"/"),  # match
    b"",
    REGEX_LINE,                                  # match, last line without '\n'
])


@pytest.mark.parametrize("variant", VARIANTS)
def test_regex_handwritten_corpus(runners: dict[str, Path], tmp_path: Path, variant: str) -> None:
    """Near misses, an empty line and a last line without a newline."""
    corpus_file, dump_file = tmp_path / "corpus.txt", tmp_path / "dump.bin"
    corpus_file.write_bytes(REGEX_CORPUS)
    size = len(REGEX_CORPUS)
    run_bench(runners["x86_64"], "regex_dfa", variant, size,
              "--input-file", str(corpus_file), "--dump-file", str(dump_file))
    dump = oracle.read_dump(dump_file)
    oracle.verify("regex_dfa", size, dump)
    assert len(oracle.regex_matches(REGEX_CORPUS)) == 4


def test_regex_google_re2_agrees(runners: dict[str, Path], tmp_path: Path) -> None:
    """The speed peer finds the same lines as Python re on the same corpus."""
    re2 = pytest.importorskip("re2")
    dump_file = tmp_path / "dump.bin"
    run_bench(runners["x86_64"], "regex_dfa", "tuned", 300_000, "--dump-file", str(dump_file))
    corpus = oracle.read_dump(dump_file).input
    assert oracle.regex_matches(corpus, re2) == oracle.regex_matches(corpus)


def test_runner_rejects_wrong_input_size(runners: dict[str, Path], tmp_path: Path) -> None:
    message_file = tmp_path / "message.bin"
    message_file.write_bytes(b"abcd")
    proc = subprocess.run([str(runners["x86_64"]), "sha256_stream", "tuned", "3", "1",
                           "--input-file", str(message_file)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "input file" in proc.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_runner_times_every_run(runners: dict[str, Path], arch: str) -> None:
    """min_ns <= median_ns, and the median of an odd count of runs is one of them: no more
    than half the runs are faster, so the sum of the runs is at least half the count times it."""
    for iterations in (1, 2, 7):
        r = native.run(runners[arch], "matrix_mul", "generic", 64, iterations)
        assert 0 < r["min_ns"] <= r["median_ns"] <= r["ns"]
        slower_half = iterations - iterations // 2
        assert r["ns"] >= slower_half * r["median_ns"] + (iterations // 2) * r["min_ns"]
