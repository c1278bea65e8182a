"""Native benchmark figures at chosen sizes: each benchmark's generic and tuned
variants as x86-64 Linux processes, the tuned variant as an i386 process
built with the kernel's flags, and the host's single-threaded peer on the
same input. The runners are the manifest's ``native`` targets, built first
with ``doit``; the tuned variants follow the manifest's CPU profile.

    .venv/bin/python scripts/bench_native.py [--only NAME ...] [--seconds S]

Every figure is the fastest single run() of the runner or the best call of
the host peer, in units of work per second. ``doit bench`` measures the
manifest's sizes and the kernel as well; this script is the quick native view.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fluidbench import host, native  # noqa: E402
from fluidbench.report import human  # noqa: E402
from fluidbuild.manifest import load  # noqa: E402

# (benchmark, size): the sizes the performance goals are stated at.
ROWS = (
    ("matrix_mul", 512),
    ("gemm_tile", 512),
    ("fft_1d", 4096),
    ("fft_1d", 65536),
    ("sha256_stream", 16 << 20),
    ("regex_dfa", 4 << 20),
    ("physics_step", 16384),
)
HOST_REPEAT = 10


def build_runners() -> dict[str, Path]:
    """Build the manifest's native runners with fluidbuild; {arch: path}."""
    manifest, _ = load("manifest.yaml", str(ROOT))
    targets = native.native_targets(manifest)
    subprocess.run([sys.executable, "-m", "doit", *targets.values()], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return {arch: ROOT / native.runner_path(manifest.build_dir, name) for arch, name in targets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="benchmark names to run (default: all)")
    parser.add_argument("--seconds", type=float, default=0.5, help="timed run() calls per figure fill this")
    args = parser.parse_args()

    runners = build_runners()
    header = (f"{'benchmark':14} {'size':>9}  {'generic x86-64':>18} {'tuned x86-64':>18} {'t/g':>6}"
              f"  {'tuned i386':>18}  {'host peer':>32} {'t/host':>6}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="fluid-bench-") as tmp:
        for name, size in ROWS:
            if args.only and name not in args.only:
                continue
            dump = Path(tmp) / f"{name}-{size}.bin"
            timed = native.timed
            g = native.best_rate(timed(runners["x86_64"], name, "generic", size, args.seconds))
            t = native.best_rate(timed(runners["x86_64"], name, "tuned", size, args.seconds,
                                       "--dump-file", str(dump)))
            t32 = native.best_rate(timed(runners["i386"], name, "tuned", size, args.seconds))
            for i, peer in enumerate(host.measure_host(name, size, dump, HOST_REPEAT)):
                left = (f"{name:14} {size:>9}  {human(g, peer.unit):>18} {human(t, peer.unit):>18} "
                        f"{t / g:6.2f}  {human(t32, peer.unit):>18}") if i == 0 else " " * (len(header) - 41)
                print(f"{left}  {peer.label:>14} {human(peer.value, peer.unit):>17} {t / peer.value:6.2f}")


if __name__ == "__main__":
    main()
