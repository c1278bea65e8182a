"""Native benchmark figures: each benchmark's generic and tuned variants as
x86-64 Linux processes, the tuned variant as an i386 process built with the
kernel's flags, and the host's single-threaded peer on the same input.

    .venv/bin/python scripts/bench_native.py [--cpu NAME] [--only NAME ...]

Every figure is the best single run() of the runner (``min_ns``) or the best
call of the host peer, in units of work per second.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from benchbuild import build_native_runners  # noqa: E402

from fluidbuild.benchmarks import reference  # noqa: E402

# (benchmark, size, timed iterations): the kernel's default sizes plus the
# large FFT the host comparison is quoted at.
ROWS = (
    ("matrix_mul", 512, 20),
    ("gemm_tile", 512, 50),
    ("fft_1d", 4096, 2000),
    ("fft_1d", 65536, 200),
    ("sha256_stream", 16 << 20, 10),
    ("regex_dfa", 4 << 20, 30),
    ("physics_step", 16384, 300),
)
HOST_REPEAT = 10
PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def run(runner: Path, name: str, variant: str, size: int, iterations: int, *options: str) -> dict:
    argv = [str(runner), name, variant, str(size), str(iterations), *options]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out.split(" ", 1)[1])


def best_rate(result: dict) -> float:
    """Work of one run() over the fastest run()."""
    return result["work"] / result["iterations"] / result["min_ns"] * 1e9


def human(rate: float, unit: str) -> str:
    scale, prefix = next(p for p in PREFIXES if rate >= p[0] or p[0] == 1.0)
    return f"{rate / scale:8.3f} {prefix}{unit}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", help="LLVM CPU of the tuned variants (default: this host's)")
    parser.add_argument("--only", nargs="*", help="benchmark names to run (default: all)")
    args = parser.parse_args()

    header = (f"{'benchmark':14} {'size':>9}  {'generic x86-64':>20} {'tuned x86-64':>20} {'t/g':>6}"
              f"  {'tuned i386':>20}  {'host peer':>32} {'t/host':>6}")
    with tempfile.TemporaryDirectory(prefix="fluid-bench-") as tmp:
        runners = build_native_runners(Path(tmp), cpu=args.cpu)
        print(header)
        print("-" * len(header))
        for name, size, iterations in ROWS:
            if args.only and name not in args.only:
                continue
            dump = Path(tmp) / f"{name}-{size}.bin"
            generic = run(runners["x86_64"], name, "generic", size, iterations)
            tuned = run(runners["x86_64"], name, "tuned", size, iterations, "--dump-file", str(dump))
            i386 = run(runners["i386"], name, "tuned", size, iterations)
            peers = reference.measure_host(name, size, dump, HOST_REPEAT)
            unit = tuned["unit"]
            g, t, t32 = best_rate(generic), best_rate(tuned), best_rate(i386)
            for i, peer in enumerate(peers):
                left = (f"{name:14} {size:>9}  {human(g, unit):>20} {human(t, unit):>20} {t / g:6.2f}"
                        f"  {human(t32, unit):>20}") if i == 0 else " " * (len(header) - 41)
                print(f"{left}  {peer.label:>14} {human(peer.value, unit):>17} {t / peer.value:6.2f}")


if __name__ == "__main__":
    main()
