"""Host peers: the single-threaded library each benchmark is measured against.

:func:`measure_host` times the host's own peer of a benchmark on the same
input as a native runner dump (numpy/OpenBLAS sgemm, scipy.fft with
``workers=1``, hashlib, google-re2 and ``re``, a numpy version of the same
particle integrator), best of ``repeat`` calls, in a fresh subprocess
(:mod:`fluidbench.host_worker`) whose BLAS/OpenMP pools are pinned to one
thread before numpy is imported. A benchmark a package contributes brings its
own reference (``Benchmark.reference``, a function of the input region and
the size): the worker imports it by name, or, when it cannot be imported by
name (a lambda, a nested function), it is timed in this process.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluidbench.oracle import (
    PHYSICS_STEPS,
    Dump,
    fft_io,
    matrices,
    physics_numpy,
    physics_state,
    read_dump,
    regex_matches,
)

# Environment of the measuring subprocess: one thread for every pool numpy
# or scipy may start.
SINGLE_THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class Throughput:
    """One host measurement: ``value`` units of work per second, best run."""

    label: str
    value: float
    unit: str


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` timed calls of ``fn``, after one untimed call."""
    fn()  # warm-up, like the runner's untimed first run()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


BUILTIN_PEERS = ("matrix_mul", "gemm_tile", "fft_1d", "sha256_stream", "regex_dfa", "physics_step")


@dataclass(frozen=True)
class Reference:
    """A package's host reference for one benchmark: ``function(input, size)``, named
    ``label``; one call does ``work`` units of ``unit`` (the native runner's figures)."""

    function: Callable[[bytes, int], object]
    label: str
    work: float
    unit: str

    @property
    def import_path(self) -> str | None:
        """``module:qualname`` if the subprocess can import it by that name."""
        qualname = getattr(self.function, "__qualname__", "")
        module = getattr(self.function, "__module__", None)
        return None if not module or not qualname or "<" in qualname else f"{module}:{qualname}"


def import_reference(path: str) -> Callable[[bytes, int], object]:
    """The function ``module:qualname`` names."""
    module, _, qualname = path.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def peers(name: str, size: int, dump: Dump) -> list[tuple[str, Callable[[], object], float, str]]:
    """(label, callable, work per call, unit) of each host peer of built-in benchmark ``name``."""
    import numpy as np

    if name in ("matrix_mul", "gemm_tile"):
        a, b, _ = matrices(size, dump)
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        return [("numpy sgemm", lambda: a @ b, 2.0 * size**3, "flop")]
    if name == "fft_1d":
        import scipy.fft

        x = np.array(fft_io(dump)[0])
        return [("scipy.fft c128", lambda: scipy.fft.fft(x, workers=1), float(len(x)), "point")]
    if name == "sha256_stream":
        data = dump.input
        return [("hashlib", lambda: hashlib.sha256(data).digest(), float(len(data)), "byte")]
    if name == "regex_dfa":
        import re2

        text = dump.input
        return [
            ("google-re2", lambda: regex_matches(text, re2), float(len(text)), "byte"),
            ("python re", lambda: regex_matches(text), float(len(text)), "byte"),
        ]
    if name == "physics_step":
        state = [np.array(a) for a in physics_state(size, dump.input)]
        return [("numpy", lambda: physics_numpy(state), float(size * PHYSICS_STEPS), "step")]
    raise KeyError(name)


def measure_host(name: str, size: int, dump_path: Path, repeat: int = 10,
                 reference: Reference | None = None) -> list[Throughput]:
    """Best-of-``repeat`` throughput of the host peers of ``name`` (or of a package's
    ``reference``) on the input of a runner dump, measured single-threaded in a fresh
    subprocess. Raises RuntimeError when there is none or it fails."""
    if reference is None and name not in BUILTIN_PEERS:
        raise RuntimeError(f"no host reference for '{name}' (a package's benchmark names one in its "
                           "fluidbuild_benchmarks)")
    if reference is not None and reference.import_path is None:
        data = read_dump(dump_path).input
        seconds = best_seconds(lambda: reference.function(data, size), repeat)
        return [Throughput(reference.label, reference.work / seconds, reference.unit)]
    env = {**os.environ, **SINGLE_THREAD_ENV}
    argv = [sys.executable, "-m", "fluidbench.host_worker", name, str(size), str(dump_path), str(repeat)]
    if reference is not None:
        argv += [str(reference.import_path), reference.label, repr(reference.work), reference.unit]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"host reference for {name} failed:\n{proc.stderr}")
    return [Throughput(**item) for item in json.loads(proc.stdout)]
