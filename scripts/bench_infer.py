"""Inference speed: the native runners and the engine under the user-space JIT
on the generated stories260K and stories15M models, side by side with the
numpy reference and the single-core read bandwidth, all measured in the same
run on this machine.

    .venv/bin/python scripts/bench_infer.py [--steps N] [--repeat R] [--skip-check] [--jit-only]

Builds ``doit infer_x86_64 infer_i386 infer_module cpu_profile model_260k
model_15m`` first. Each runner figure is the best of R runs (default 5) of N
generated tokens from BOS (default 256, the 15M model's seq_len), greedy;
tok/s counts forward passes per second (the FLUID-INFER line's tok_per_s,
wall clock); "on CPU" is the same per second of the runner thread's CPU time
(cpu_ns), the figure to read on a machine shared with other work, where the
wall clock also counts time the CPU spent elsewhere. The numpy reference is
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

The JIT (``python -m fluidjit infer``, a new process each time, tier 2 for
the CPU profile, objects from build/jit/cache) runs the same N tokens after
``--jit-warmup`` warm-up generations (default 10: the forward pass goes hot,
tier 2 swaps in its tuned variant, then its clone for the model; the
counted generation runs what the JIT settled on). It takes
turns with the native x86-64 tuned runner, R times each (native, JIT,
native, JIT, ...), so that both see the same load; the comparison gives the
best and the median of each side's tok/s, wall clock and per CPU second,
and their ratios (JIT over native), and checks that every JIT generation
ran tier-2 code throughout and gave the native runner's tokens.
``--jit-only`` measures that comparison alone.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
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
JIT_GOAL = 0.95  # the JIT's tok/s over the native tuned runner's
# Warm-up generations: enough for the forward pass's tier-up, its clone (after 20 ms of
# general tier-2 code, fluidjit/policy.py) and the clone's verdict on the 260K model.
JIT_WARMUP = 10
LOGIT_TOLERANCE = 1e-4  # tests/test_infer.py
RUNS = (("x86_64", "tuned"), ("x86_64", "generic"), ("i386", "tuned"), ("i386", "generic"))
BANDWIDTH_MIB = 1024


def build() -> None:
    targets = ["infer_x86_64", "infer_i386", "infer_module", "cpu_profile", *(target for _, target in MODELS)]
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
    return line_of(proc.stdout)


def line_of(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1].split(" ", 1)[1])


def run_jit(target: str, steps: int, warmup: int) -> dict:
    """The JIT's FLUID-INFER line of N tokens from BOS after ``warmup`` generations, with
    what became of the forward pass's clone (its report's ``specialization``) as "clone"."""
    ckpt, tok = files(target)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        proc = subprocess.run([sys.executable, "-m", "fluidjit", "infer", ckpt, tok, "--steps", str(steps),
                               "--warmup", str(warmup), "--cpu-profile", "build/cpu_profile.json",
                               "--report", str(report), "--quiet"],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"fluidjit infer {target}: {proc.stderr.strip()}")
        functions = json.loads(report.read_text())["functions"]
    [forward] = [f for f in functions if f["label"] == "infer.forward"]
    return {**line_of(proc.stdout), "clone": forward["specialization"] or "none"}


def on_cpu(line: dict) -> float:
    return line["forwards"] * 1e9 / line["cpu_ns"]


def interleaved(target: str, steps: int, repeat: int, warmup: int) -> tuple[list[dict], list[dict]]:
    """R FLUID-INFER lines of the native x86-64 tuned runner and R of the JIT, taking turns."""
    native, jit = [], []
    for _ in range(repeat):
        native.append(run("x86_64", "tuned", target, steps))
        jit.append(run_jit(target, steps, warmup))
    return native, jit


def compare(label: str, native: list[dict], jit: list[dict]) -> list[str]:
    """The comparison's rows (best, median, on CPU) and its verdict lines."""
    out = []
    ratios = {}
    for name, of in (("tok/s best", lambda ls: max(ln["tok_per_s"] for ln in ls)),
                     ("tok/s median", lambda ls: statistics.median(ln["tok_per_s"] for ln in ls)),
                     ("on CPU best", lambda ls: max(on_cpu(ln) for ln in ls)),
                     ("on CPU median", lambda ls: statistics.median(on_cpu(ln) for ln in ls))):
        n, j = of(native), of(jit)
        ratios[name] = j / n
        out.append(f"{label:12} {name:14} {n:12.1f} {j:12.1f} {j / n:8.2f}x")
    partial = [f"{ln['tier2_forwards']}/{ln['forwards']}" for ln in jit
               if ln["tier2_forwards"] != ln["forwards"] or ln["variant"] != "tuned"]
    same = all(ln["tokens"] == native[0]["tokens"] for ln in native + jit)
    met = ratios["tok/s median"] >= JIT_GOAL and ratios["on CPU median"] >= JIT_GOAL
    on_tier2 = f"NO, {', '.join(partial)} forward passes" if partial else "yes"
    verdict = (f"{label}: JIT / native x86-64 tuned {ratios['tok/s median']:.2f}x (median), "
               f"{ratios['on CPU median']:.2f}x (median on CPU), {ratios['tok/s best']:.2f}x (best); "
               f"goal {JIT_GOAL}x: {'met' if met else 'NOT met'}; every JIT generation on tuned tier-2 "
               f"code: {on_tier2}; tokens {'identical' if same else 'DIFFER'}")
    clones = f"{label}: the forward pass's clone in the JIT runs: {'; '.join(ln['clone'] for ln in jit)}"
    return [*out, ""], [verdict, clones]


def fastest(lines: list[dict]) -> dict:
    return max(lines, key=lambda line: line["tok_per_s"])


def best(arch: str, variant: str, target: str, steps: int, repeat: int) -> dict:
    return fastest([run(arch, variant, target, steps) for _ in range(repeat)])


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
    parser.add_argument("--jit-only", action="store_true", help="only the JIT against the native runner")
    parser.add_argument("--jit-warmup", type=int, default=JIT_WARMUP, metavar="N",
                        help=f"the JIT's warm-up generations (default {JIT_WARMUP})")
    args = parser.parse_args()
    steps = min(args.steps, 256)

    build()
    gbps = 0.0 if args.jit_only else bandwidth(args.repeat)
    if not args.jit_only:
        print(f"single-core read bandwidth ({BANDWIDTH_MIB} MiB stream, tuned x86-64): {gbps:.1f} GB/s\n")
        print(f"{'model':12} {'runner':28} {'tok/s':>10} {'on CPU':>10} {'x numpy':>8} {'weights GB/s':>13} "
              f"{'of bandwidth':>13}")
    verdicts, checks, comparison = [], [], []
    for label, target in MODELS:
        native, jit = interleaved(target, steps, args.repeat, args.jit_warmup)
        rows, verdict = compare(label, native, jit)
        comparison += rows
        verdicts += verdict
        if args.jit_only:
            continue
        cfg, _ = ref.read_checkpoint(ROOT / files(target)[0], np.float32)
        per_token = weight_bytes(cfg)
        reference = numpy_rate(target, min(steps, 64))
        rows = [("native x86_64 tuned", fastest(native)), ("JIT x86_64 (tier 2 tuned)", fastest(jit))]
        for arch, variant in RUNS[1:]:
            repeat = 1 if (arch, variant) == ("i386", "generic") else args.repeat  # x87: slow on 15M
            rows.append((f"native {arch} {variant}", best(arch, variant, target, steps, repeat)))
        for name, line in rows:
            rate = line["tok_per_s"]
            stream = rate * per_token / 1e9
            print(f"{label:12} {name:28} {rate:10.1f} {on_cpu(line):10.1f} {rate / reference:8.1f} "
                  f"{stream:13.2f} {stream / gbps:12.0%}")
        print(f"{label:12} {'numpy float32 reference':28} {reference:10.1f} {'':10} {1.0:8.1f} "
              f"{reference * per_token / 1e9:13.2f} {reference * per_token / 1e9 / gbps:12.0%}")
        print(f"{'':12} ({per_token / 1e6:.2f} MB of weights per token)\n")
        tuned = rows[0][1]["tok_per_s"]
        verdicts.append(f"{label}: native x86-64 tuned {tuned:.0f} tok/s, goal {GOALS[target]:.0f}: "
                        f"{'met' if tuned >= GOALS[target] else 'NOT met'}")
        if not args.skip_check:
            checks += [f"{label} {c}" for c in check(target, steps)]
    print(f"JIT against native x86-64 tuned: {args.repeat} runs each, taking turns, {steps} tokens from BOS")
    print(f"{'model':12} {'figure':14} {'native':>12} {'JIT':>12} {'JIT/nat':>9}")
    print("\n".join(comparison + verdicts + checks))


if __name__ == "__main__":
    main()
