"""The native benchmark runners: where the build puts them and how to run one.

A runner (src/bench/native/, main program in bench_main.c) is a static
Linux process, without libc, that the ``native`` plugin links from both
variants of the manifest's benchmarks, the runner's own files, the shared
runtime (src/runtime/) and the generated registry. One call runs one
benchmark and prints one ``FLUID-BENCH {json}`` line: the kernel's schema
(src/protocol/protocol.toml, ``protocol.LINES``) with the runner's optional
``arch``, ``min_ns`` and ``median_ns``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from fluidbench import lines
from fluidbuild.errors import FluidError
from fluidbuild.model import Manifest

NATIVE_PLUGIN = "native"  # the plugin that builds runners (plugins/fluidos/native.py)
RUNNER_FILE = "runner"
LINE_TAG = "FLUID-BENCH"
RUN_TIMEOUT_S = 300.0
MAX_ITERATIONS = 1_000_000
NS_PER_S = 1e9


def runner_path(build_dir: str, target: str) -> str:
    """Where the ``native`` plugin writes the runner of ``target``."""
    return f"{build_dir}/{target}/{RUNNER_FILE}"


def native_targets(manifest: Manifest) -> dict[str, str]:
    """The manifest's runner targets by architecture (their ``options.arch``)."""
    return {t.options["arch"]: t.name for t in manifest.targets.values() if t.plugin == NATIVE_PLUGIN}


def run(runner: str | Path, name: str, variant: str, size: int | str, iterations: int | str,
        *options: str) -> dict[str, Any]:
    """One runner process; its parsed ``FLUID-BENCH`` line.

    A size or iteration count of ``"-"`` takes the registry's value, i.e.
    the manifest's (what the kernel runs).
    """
    argv = [str(runner), name, variant, str(size), str(iterations), *options]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FluidError(f"{' '.join(argv)}: {exc}") from None
    prefix, _, body = proc.stdout.strip().partition(" ")
    if proc.returncode != 0 or prefix != LINE_TAG:
        raise FluidError(f"{' '.join(argv)} exited with status {proc.returncode}: "
                         f"{(proc.stderr or proc.stdout).strip()}")
    try:
        line = json.loads(body)
    except json.JSONDecodeError as exc:
        raise FluidError(f"{' '.join(argv)}: unreadable {LINE_TAG} line ({exc}): {body}") from None
    errors = lines.line_errors(LINE_TAG, line)
    if errors:
        raise FluidError(f"{' '.join(argv)}: {'; '.join(errors)}")
    return line


def timed(runner: str | Path, name: str, variant: str, size: int | str, seconds: float,
          *options: str) -> dict[str, Any]:
    """Like :func:`run`, with as many timed run() calls as fill about ``seconds``
    (a one-iteration probe first measures how long one takes)."""
    probe = run(runner, name, variant, size, 1)
    iterations = int(seconds * NS_PER_S / max(probe["min_ns"], 1))
    return run(runner, name, variant, size, max(1, min(MAX_ITERATIONS, iterations)), *options)


def best_rate(result: dict[str, Any]) -> float:
    """Units of work per second of the fastest single run()."""
    return result["work"] / result["iterations"] / max(result["min_ns"], 1) * NS_PER_S
