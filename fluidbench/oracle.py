"""The test oracle of the six benchmarks of src/bench/: their output checked
against an independent computation.

Fed by the native runner's ``--dump-file`` (the input region setup()
generated and the output region run() left, see :func:`read_dump`):
:func:`verify` checks a benchmark's output against numpy, numpy.fft, hashlib
or Python ``re``, and :func:`expected_checksum` recomputes the checksum the
benchmark must report from that output. The region layouts below mirror the
C sources; each is noted where it is decoded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALIGN = 64  # bench_util.h BENCH_ALIGN: every arena region starts on it
DUMP_HEADER = 16  # two little-endian u64: input bytes, output bytes
FNV_OFFSET = 0xCBF29CE484222325  # bench_util.h BENCH_HASH_INIT
FNV_PRIME = 0x00000100000001B3
MASK64 = (1 << 64) - 1

# FIPS 180-2 appendix B examples: message and SHA-256 digest.
NIST_SHA256_VECTORS: tuple[tuple[bytes, str], ...] = (
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
)

# regex_dfa.c RX_PATTERN; a line matches when all of it (without '\n') does.
REGEX_PATTERN = (
    rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (ERROR|WARN) \[[a-z]+-\d{1,2}\] "
    rb"(GET|POST|PUT|DELETE) /.* status=5\d\d latency=\d{3,}ms( user=\w+)?"
)
REGEX_LINES = b"(?m)^(?:" + REGEX_PATTERN + b")$"

# physics_step.c constants and step count.
PHYSICS_STEPS = 16
PHYSICS_ARRAYS = ("px", "py", "pz", "vx", "vy", "vz")
PHYSICS_DT = 1.0 / 256.0
PHYSICS_GRAVITY = -9.81
PHYSICS_DRAG = 0.02
PHYSICS_RESTITUTION = 0.75
PHYSICS_HALF_WIDTH = 8.0
PHYSICS_HEIGHT = 16.0

FFT_MIN_POINTS = 64  # fft_1d.c FFT_MIN_POINTS
# fft_1d output vs numpy.fft: largest error relative to the largest |X|.
FFT_RELATIVE_TOLERANCE = 1e-12
# setup() makes X an integer spectrum; rounding noise must stay far below 1/2.
FFT_INTEGER_TOLERANCE = 1e-6


class ReferenceMismatch(AssertionError):
    """A benchmark's output disagrees with its host reference."""


@dataclass(frozen=True)
class Dump:
    """The regions a runner wrote with ``--dump-file``."""

    input: bytes
    output: bytes


def read_dump(path: Path) -> Dump:
    """Parse a ``--dump-file``: u64 input size, u64 output size, then both."""
    data = path.read_bytes()
    n_in = int.from_bytes(data[0:8], "little")
    n_out = int.from_bytes(data[8:16], "little")
    body = data[DUMP_HEADER:]
    if len(body) != n_in + n_out:
        raise ValueError(f"{path}: dump holds {len(body)} bytes, header says {n_in + n_out}")
    return Dump(body[:n_in], body[n_in:])


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def fnv_words(words: Any) -> int:
    """bench_util.h's checksum fold: FNV-1a over 32-bit words."""
    h = FNV_OFFSET
    for w in words:
        h = ((h ^ (int(w) & 0xFFFFFFFF)) * FNV_PRIME) & MASK64
    return h


# --- region decoding ------------------------------------------------------


def matrices(size: int, dump: Dump) -> tuple[Any, Any, Any]:
    """matrix_mul / gemm_tile: input A then B (B at align(n*n*4)), output C."""
    import numpy as np

    count = size * size
    a = np.frombuffer(dump.input, np.float32, count).reshape(size, size)
    b = np.frombuffer(dump.input, np.float32, count, _align(4 * count)).reshape(size, size)
    c = np.frombuffer(dump.output, np.float32, count).reshape(size, size)
    return a, b, c


def fft_points(size: int) -> int:
    """fft_1d.c fft_points: largest power of two <= size, at least 64."""
    n = FFT_MIN_POINTS
    while n <= size // 2:
        n *= 2
    return n


def fft_io(dump: Dump) -> tuple[Any, Any]:
    """fft_1d: input x and output X, interleaved complex128."""
    import numpy as np

    return np.frombuffer(dump.input, np.complex128), np.frombuffer(dump.output, np.complex128)


def regex_result(dump: Dump) -> tuple[int, list[int]]:
    """regex_dfa: u32 match count, then u32 line starts of the first slots."""
    import numpy as np

    words = np.frombuffer(dump.output, np.uint32)
    count = int(words[0])
    return count, [int(x) for x in words[1 : 1 + count]]


def physics_state(size: int, region: bytes) -> list[Any]:
    """physics_step: px py pz vx vy vz, float32, one every align(n*4) bytes."""
    import numpy as np

    stride = _align(4 * size)
    return [np.frombuffer(region, np.float32, size, i * stride) for i in range(6)]


# --- independent computations -------------------------------------------------


def regex_matches(text: bytes, engine: Any = re) -> list[int]:
    """Start offsets of the lines of ``text`` that REGEX_PATTERN matches whole."""
    return [m.start() for m in engine.compile(REGEX_LINES).finditer(text)]


def physics_numpy(state: list[Any], steps: int = PHYSICS_STEPS) -> list[Any]:
    """physics_step.c's integrator in float32 numpy, operation for operation."""
    import numpy as np

    f32 = np.float32
    dt, g, k, e = f32(PHYSICS_DT), f32(PHYSICS_GRAVITY), f32(PHYSICS_DRAG), f32(PHYSICS_RESTITUTION)
    walls = [(f32(-PHYSICS_HALF_WIDTH), f32(PHYSICS_HALF_WIDTH))] * 2 + [(f32(0.0), f32(PHYSICS_HEIGHT))]
    px, py, pz, vx, vy, vz = (np.array(a, dtype=np.float32) for a in state)
    for _ in range(steps):
        f = k * np.sqrt(vx * vx + vy * vy + vz * vz)
        vx = vx - dt * (f * vx)
        vy = vy - dt * (f * vy)
        vz = vz + dt * (g - f * vz)
        pos = [px + dt * vx, py + dt * vy, pz + dt * vz]
        vel = [vx, vy, vz]
        for axis, (lo, hi) in enumerate(walls):
            p, v = pos[axis], vel[axis]
            below, above = p < lo, p > hi
            pos[axis] = np.where(below, lo + e * (lo - p), np.where(above, hi - e * (p - hi), p))
            vel[axis] = np.where(below | above, -e * v, v)
        px, py, pz = pos
        vx, vy, vz = vel
    return [px, py, pz, vx, vy, vz]


# --- correctness ----------------------------------------------------------------


def _fail(name: str, message: str) -> None:
    raise ReferenceMismatch(f"{name}: {message}")


def _verify_matmul(name: str, size: int, dump: Dump) -> None:
    import numpy as np

    a, b, c = matrices(size, dump)
    # Inputs are multiples of 1/8 in [-1, 1]: the float64 product is exact.
    expected = a.astype(np.float64) @ b.astype(np.float64)
    bad = np.argwhere(c != expected)
    if len(bad):
        i, j = bad[0]
        _fail(name, f"{len(bad)} wrong elements, C[{i},{j}] = {c[i, j]} != {expected[i, j]}")


def _verify_fft(size: int, dump: Dump) -> None:
    import numpy as np

    x, out = fft_io(dump)
    if len(x) != fft_points(size):
        _fail("fft_1d", f"{len(x)} points for size {size}")
    ref = np.fft.fft(x)
    err = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
    if not err <= FFT_RELATIVE_TOLERANCE:
        _fail("fft_1d", f"relative error {err:.3g} vs numpy.fft")
    off = float(np.max(np.abs(ref - np.round(ref))))
    if not off <= FFT_INTEGER_TOLERANCE:
        _fail("fft_1d", f"spectrum is not the integer one setup() drew (off by {off:.3g})")


def _verify_sha256(size: int, dump: Dump) -> None:
    expected = hashlib.sha256(dump.input).digest()
    if len(dump.input) != size or dump.output != expected:
        _fail("sha256_stream", f"digest {dump.output.hex()} != hashlib {expected.hex()}")


def _verify_regex(size: int, dump: Dump) -> None:
    count, offsets = regex_result(dump)
    expected = regex_matches(dump.input)
    if count != len(expected) or offsets != expected[: len(offsets)]:
        _fail("regex_dfa", f"{count} matches, Python re finds {len(expected)} (or positions differ)")
    if count == 0:
        _fail("regex_dfa", "the corpus has no matching line: nothing was tested")


def _verify_physics(size: int, dump: Dump) -> None:
    import numpy as np

    expected = physics_numpy(physics_state(size, dump.input))
    got_state = physics_state(size, dump.output)
    for name, got, want in zip(PHYSICS_ARRAYS, got_state, expected, strict=True):
        differ = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))
        if len(differ):
            i = differ[0]
            _fail("physics_step", f"{name}[{i}] = {got[i]!r}, numpy {want[i]!r} ({len(differ)} differ)")


def verify(name: str, size: int, dump: Dump) -> None:
    """Raise :class:`ReferenceMismatch` unless ``dump`` is right for ``name``."""
    checks: dict[str, Callable[[int, Dump], None]] = {
        "matrix_mul": lambda n, d: _verify_matmul("matrix_mul", n, d),
        "gemm_tile": lambda n, d: _verify_matmul("gemm_tile", n, d),
        "fft_1d": _verify_fft,
        "sha256_stream": _verify_sha256,
        "regex_dfa": _verify_regex,
        "physics_step": _verify_physics,
    }
    checks[name](size, dump)


def expected_checksum(name: str, size: int, dump: Dump) -> int:
    """The checksum the benchmark must report for the output in ``dump``."""
    import numpy as np

    if name in ("matrix_mul", "gemm_tile"):
        words = (matrices(size, dump)[2].ravel() * 64).astype(np.int32)
    elif name == "fft_1d":
        out = fft_io(dump)[1]
        # bench_round: ties away from zero, like np.round on these non-ties.
        words = np.round(out.view(np.float64)).astype(np.int64).astype(np.int32)
    elif name == "sha256_stream":
        words = np.frombuffer(dump.output, ">u4")
    elif name == "regex_dfa":
        count, offsets = regex_result(dump)
        words = [count, *offsets]
    elif name == "physics_step":
        words = np.concatenate([a.view(np.uint32) for a in physics_state(size, dump.output)])
    else:
        raise KeyError(name)
    return fnv_words(np.asarray(words, dtype=np.uint64).astype(np.uint32).tolist())
