"""fluid_crc32: a CRC-32 benchmark for Fluid OS, shipped as a fluidbuild plugin.

The package holds the benchmark's C source (``crc32.c``, with the header
``crc32_poly.h`` beside it) and declares it through ``fluidbuild_benchmarks``
with its default size and its host reference, Python's :func:`zlib.crc32`.
With the package installed, one line in a manifest's ``benchmarks:``::

    benchmarks:
      - {name: crc32, size: 65536, iterations: 2}

builds it into the kernel, the native runners and the JIT module; ``doit
run``, ``doit bench`` and ``doit jit`` run it, and ``doit bench`` checks
every native checksum against :func:`reference` and times it as the host
peer.
"""

from __future__ import annotations

import os
import zlib

from fluidbuild.hookspecs import hookimpl
from fluidbuild.model import Benchmark

__version__ = "1.0.0"
fluidbuild_api = ">=1.1,<2"  # the fluidbuild plugin API versions this plugin supports

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "crc32.c")
DEFAULT_SIZE = 1 << 20  # bytes, when the manifest gives no size


def reference(message: bytes, size: int) -> int:
    """The checksum crc32.c's run() must leave for ``message``: zlib's CRC-32 of it."""
    return zlib.crc32(message[:size])


@hookimpl
def fluidbuild_benchmarks() -> list[Benchmark]:
    return [Benchmark("crc32", SOURCE, DEFAULT_SIZE, reference, "zlib.crc32")]
