"""Inference speed: the native runners on the generated stories260K and
stories15M models, side by side with the numpy reference and the single-core
read bandwidth, all measured in the same run on this machine.

    .venv/bin/python scripts/bench_infer.py [--steps N] [--repeat R] [--skip-check]

Builds ``doit infer_x86_64 infer_i386 model_260k model_15m`` first. Each
runner figure is the best of R runs (default 5) of N generated tokens from
BOS (default 256, the 15M model's seq_len), greedy; tok/s counts forward
passes per second (the FLUID-INFER line's tok_per_s, wall clock); "on CPU"
is the same per second of the runner thread's CPU time (cpu_ns), the figure
to read on a machine shared with other work, where the wall clock also
counts time the CPU spent elsewhere. The numpy reference is
tests/infer_reference.py in float32 (the same vectorised forward pass the
correctness tests run in float64), its BLAS on one thread. The bandwidth is the runner's
``--bandwidth 1024`` probe: a sum over 1 GiB, far beyond the last-level cache,
as the matrix-vector product streams its weights (same vector code, same
prefetching, same huge pages; best of R); "of bandwidth"
is the weight bytes one forward pass reads times tok/s over it (above 100 %
means the last-level cache served part of the model). Unless --skip-check,
the tuned runners' logits over the same N tokens are checked against the
float64 reference (tests/test_infer.py's tolerance) and their tokens against
its greedy tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The numpy reference single-threaded, as the runners are (set before numpy loads BLAS).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import infer_reference as ref  # noqa: E402

MODELS = (("stories260K", "model_260k"), ("stories15M", "model_15m"))
GOALS = {"model_260k": 15_000.0, "model_15m": 450.0}  # native x86-64 tuned, tok/s
LOGIT_TOLERANCE = 1e-4  # tests/test_infer.py
RUNS = (("x86_64", "tuned"), ("x86_64", "generic"), ("i386", "tuned"), ("i386", "generic"))
BANDWIDTH_MIB = 1024


def build() -> None:
    targets = ["infer_x86_64", "infer_i386", *(target for _, target in MODELS)]
    subprocess.run([sys.executable, "-m", "doit", *targets], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def runner(arch: str) -> Path:
    return ROOT / "build" / f"infer_{arch}.elf"


def files(target: str) -> tuple[str, str]:
    return f"build/{target}/model.bin", f"build/{target}/tokenizer.bin"


def run(arch: str, variant: str, target: str, steps: int, *extra: str) -> dict:
    ckpt, tok = files(target)
    proc = subprocess.run([str(runner(arch)), ckpt, tok, "--steps", str(steps), "--variant", variant,
                           "--quiet", *extra], cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"infer_{arch} {variant} {target}: {proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1].split(" ", 1)[1])


def best(arch: str, variant: str, target: str, steps: int, repeat: int) -> dict:
    lines = [run(arch, variant, target, steps) for _ in range(repeat)]
    return max(lines, key=lambda line: line["tok_per_s"])


def bandwidth(repeat: int) -> float:
    """Single-core read bandwidth in GB/s (10^9 bytes per second)."""
    rates = []
    for _ in range(repeat):
        proc = subprocess.run([str(runner("x86_64")), "--bandwidth", str(BANDWIDTH_MIB)], capture_output=True,
                              text=True, check=True)
        rates.append(json.loads(proc.stdout.split(" ", 1)[1])["gb_per_s"])
    return max(rates)


def weight_bytes(cfg: ref.Config) -> int:
    """Bytes of weights one forward pass reads: every matrix and norm, the classifier
    whole, one embedding row."""
    kv, d, h, n = cfg.kv_dim, cfg.dim, cfg.hidden_dim, cfg.n_layers
    floats = n * (2 * d * d + 2 * kv * d + 3 * h * d + 2 * d) + d + cfg.vocab_size * d + d
    return 4 * floats


def numpy_rate(target: str, steps: int) -> float:
    ckpt, _ = files(target)
    model = ref.Model(ROOT / ckpt, np.float32)
    token, start = ref.BOS, time.perf_counter()
    for pos in range(steps):
        token = int(np.argmax(model.forward(token, pos)))
    return steps / (time.perf_counter() - start)


def check(target: str, steps: int) -> list[str]:
    """The tuned runners against the float64 reference: their logits' largest error
    relative to each position's largest logit, and whether the tokens agree."""
    ckpt, _ = files(target)
    tokens, logits = ref.generate(ROOT / ckpt, [ref.BOS], steps)
    want = np.array(logits)
    scale = np.maximum(1.0, np.abs(want).max(axis=1))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ("x86_64", "i386"):
            path = Path(tmp) / "logits.bin"
            line = run(arch, "tuned", target, steps, "--logits-file", str(path))
            got = np.fromfile(path, dtype="<f4").reshape(want.shape)
            err = float((np.abs(got - want).max(axis=1) / scale).max())
            ok = err <= LOGIT_TOLERANCE and line["tokens"] == tokens
            out.append(f"{arch} tuned: logits max error {err:.2g} of the largest logit (tolerance "
                       f"{LOGIT_TOLERANCE:g}), tokens {'identical' if line['tokens'] == tokens else 'DIFFER'}"
                       f" -> {'ok' if ok else 'FAILED'}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=256, help="tokens generated per run (at most 256)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the best counts")
    parser.add_argument("--skip-check", action="store_true", help="no logits check against numpy")
    args = parser.parse_args()
    steps = min(args.steps, 256)

    build()
    gbps = bandwidth(args.repeat)
    print(f"single-core read bandwidth ({BANDWIDTH_MIB} MiB stream, tuned x86-64): {gbps:.1f} GB/s\n")
    print(f"{'model':12} {'runner':24} {'tok/s':>10} {'on CPU':>10} {'x numpy':>8} {'weights GB/s':>13} "
          f"{'of bandwidth':>13}")
    verdicts, checks = [], []
    for label, target in MODELS:
        cfg, _ = ref.read_checkpoint(ROOT / files(target)[0], np.float32)
        per_token = weight_bytes(cfg)
        reference = numpy_rate(target, min(steps, 64))
        rows = []
        for arch, variant in RUNS:
            repeat = 1 if (arch, variant) == ("i386", "generic") else args.repeat  # x87: slow on 15M
            rows.append((f"native {arch} {variant}", best(arch, variant, target, steps, repeat)))
        for name, line in rows:
            rate = line["tok_per_s"]
            on_cpu = line["forwards"] * 1e9 / line["cpu_ns"]
            stream = rate * per_token / 1e9
            print(f"{label:12} {name:24} {rate:10.1f} {on_cpu:10.1f} {rate / reference:8.1f} {stream:13.2f} "
                  f"{stream / gbps:12.0%}")
        print(f"{label:12} {'numpy float32 reference':24} {reference:10.1f} {'':10} {1.0:8.1f} "
              f"{reference * per_token / 1e9:13.2f} {reference * per_token / 1e9 / gbps:12.0%}")
        print(f"{'':12} ({per_token / 1e6:.2f} MB of weights per token)\n")
        tuned = rows[0][1]["tok_per_s"]
        verdicts.append(f"{label}: native x86-64 tuned {tuned:.0f} tok/s, goal {GOALS[target]:.0f}: "
                        f"{'met' if tuned >= GOALS[target] else 'NOT met'}")
        if not args.skip_check:
            checks += [f"{label} {c}" for c in check(target, steps)]
    print("\n".join(verdicts + checks))


if __name__ == "__main__":
    main()
