"""Measure the kernel's live re-JIT against its boot choice, under QEMU TCG (emulated).

    .venv/bin/python scripts/bench_kernel_jit.py [--runs N] [--cpu max] [--out FILE] [--root DIR]

Brings the image up to date (``doit image``), then boots it ``--runs`` times
exactly as ``doit run profile=jit`` does: the link server beside QEMU, the
guest's COM2 on its socket (fluidjit.linkserver.serving; no object cache, so
every patch is compiled afresh). In each run the kernel measures both sides
itself, on the same CPU and in the same boot: after the benchmarks ran with
the variant it chose at boot (the fastest by measurement), each benchmark's
run() is profiled, the host compiles it for the guest's CPUID, specialised
for its size (candidate 1: O1; candidate 2: fold), and the kernel times the
slot's code against the candidate, 5 calls each, interleaved, and keeps the
candidate only if its median call is 2% faster with the same checksum.

Per benchmark the table gives the boot choice, each candidate's verdicts
over the runs, the kernel's confirmation (the code its slot kept, timed
afresh against the boot choice after the rounds: confirmed, or unconfirmed
and the boot choice back), the first candidate's ratio (the slot's median
call over the candidate's; median over the runs, all verdicts: an unbiased
estimate of what it is worth), the final ratio (the boot choice's median
call over that of the code the slot holds at the end, from the
confirmation: 1.00 when it holds the boot choice; median over the runs,
with the range), the compile time, the patch's size and transfer time over
COM2, and the latency from the host receiving the profile to the new code
running in the guest (the kernel's swap report arriving at the host), first
round, medians. All of it is emulated: TCG, on a shared machine.

Writes every run's rows as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QEMU = "qemu-system-i386"
BOOT_TIMEOUT_S = 180.0


def one_run(root: Path, cpu: str, extra: list[str]) -> dict[str, Any]:
    from fluidbench.qemu import boot
    from fluidbuild_plugins.fluidos.qemu import qemu_argv
    from fluidjit.linkserver import qemu_args, serving

    build = root / "build"
    report = build / "jit" / "bench-report.json"
    report.unlink(missing_ok=True)
    sock = "build/jit-bench.sock"
    argv = [*qemu_argv(QEMU, "build/fluid.img", "floppy", cpu=cpu), *qemu_args(sock)]
    start = time.monotonic()
    with serving(sock, "build/kernel_bc.bc", "build/kernel_elf.elf", "build/kernel.bin",
                 str(report.relative_to(root)), tuple(extra)):
        result = boot(argv, BOOT_TIMEOUT_S)
    if not result.ok:
        raise SystemExit(f"the boot failed: {result.reason()}\n{result.serial[-2000:]}")
    for _ in range(50):  # the server writes its report as it exits
        if report.exists():
            break
        time.sleep(0.1)
    host = json.loads(report.read_text()) if report.exists() else {"functions": []}
    events = result.lines("FLUID-JIT")
    rows = []
    for bench in result.lines("FLUID-BENCH"):
        name = bench["name"]
        fn = f"{name}.run"
        mine = [e for e in events if e.get("function") == fn]
        timed = [e for e in mine if e["event"] in ("kept", "reverted")]
        patches = [e for e in mine if e["event"] == "patch"]
        attempts = [r for r in host["functions"] if r["benchmark"] == name]
        # Rounds: each patch timed against the code the slot held then; what the slot holds at
        # the end against the boot choice is the product of the kept rounds' ratios.
        final = 1.0
        for e in timed:
            if e["event"] == "kept":
                final *= e["cycles_before"] / e["cycles_after"]
        first = attempts[0] if attempts else {}
        confirm = next((e for e in mine if e["event"] in ("confirmed", "unconfirmed")), None)
        rows.append({
            "benchmark": name, "size": bench["size"], "boot_variant": bench["variant"],
            "rounds": [{"verdict": e["event"], "reason": e.get("reason"),
                        "speedup": e["cycles_before"] / e["cycles_after"],
                        "checksums_equal": e["checksum_before"] == e["checksum_after"]} for e in timed],
            "verdict": "kept" if any(e["event"] == "kept" for e in timed)
            else (timed[-1]["event"] if timed else next((e["event"] for e in mine if e["event"] in
                                                         ("refused", "declined", "silent")), "none")),
            "speedup": final if timed else None,
            # The slot's final code against the boot choice, timed afresh by the kernel (1.0 when
            # it holds the boot choice: nothing kept, or unconfirmed).
            "final": (confirm["cycles_before"] / confirm["cycles_after"]
                      if confirm and confirm["event"] == "confirmed" else 1.0) if timed else None,
            "confirmation": confirm["event"] if confirm else None,
            "best_round": max((e["cycles_before"] / e["cycles_after"] for e in timed), default=None),
            "passes": [r.get("passes") for r in attempts],
            "bytes": patches[0]["bytes"] if patches else None,
            "compile_ms": first.get("compile_ms"), "rx_ms": patches[0]["rx_us"] / 1000 if patches else None,
            "latency_ms": first.get("latency_ms"),
        })
    return {"seconds": round(time.monotonic() - start, 2), "guest": host.get("guest"), "rows": rows}


def rounds(row: dict[str, Any]) -> str:
    """``kept 1.08, reverted 0.99``: each round's verdict and ratio."""
    return ", ".join(f"{x['verdict']} {x['speedup']:.2f}" for x in row["rounds"])


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(runs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    names = [r["benchmark"] for r in runs[0]["rows"]]
    lines = ["| benchmark | boot choice | candidate 1 (O1) | candidate 2 (fold) | confirmation | "
             "first ratio | final ratio (range) | compile ms | bytes | COM2 ms | latency ms |",
             "|---|---|---|---|---|--:|--:|--:|--:|--:|--:|"]
    summary: dict[str, Any] = {}
    fmt = (lambda v, d=0: "-" if v is None else f"{v:.{d}f}")  # noqa: E731
    for name in names:
        rows = [row for run in runs for row in run["rows"] if row["benchmark"] == name]

        def verdicts(i: int, rows: list[dict[str, Any]] = rows) -> str:
            got = [r["rounds"][i]["verdict"] for r in rows if len(r["rounds"]) > i]
            return ", ".join(f"{v} {got.count(v)}" for v in sorted(set(got))) or "-"

        def med(key: str, rows: list[dict[str, Any]] = rows) -> float | None:
            return median([r[key] for r in rows if r[key] is not None])

        first = [r["rounds"][0]["speedup"] for r in rows if r["rounds"]]
        final = [r["final"] for r in rows if r["final"] is not None]
        confirmations = [r["confirmation"] for r in rows if r["confirmation"]]
        s = {"boot": sorted({r["boot_variant"] for r in rows}),
             "candidates": [verdicts(0), verdicts(1)], "first_ratio": median(first),
             "final_ratio": median(final), "final_min": min(final, default=None),
             "final_max": max(final, default=None),
             "kept_slowdowns": sum(1 for r in rows if r["final"] is not None and r["final"] < 1.0),
             "confirmations": {v: confirmations.count(v) for v in sorted(set(confirmations))},
             "checksum_mismatch_kept": sum(1 for r in rows for x in r["rounds"]
                                           if x["verdict"] == "kept" and not x["checksums_equal"]),
             "other": sorted({r["verdict"] for r in rows if not r["rounds"]}),
             "compile_ms": med("compile_ms"), "bytes": med("bytes"), "rx_ms": med("rx_ms"),
             "latency_ms": med("latency_ms")}
        summary[name] = s
        span = f" ({fmt(s['final_min'], 2)}-{fmt(s['final_max'], 2)})" if final else ""
        confirmed = ", ".join(f"{k} {v}" for k, v in s["confirmations"].items()) or "-"
        lines.append(f"| {name} {rows[0]['size']} | {'/'.join(s['boot'])} | {s['candidates'][0]} | "
                     f"{s['candidates'][1]} | {confirmed} | {fmt(s['first_ratio'], 2)} | "
                     f"{fmt(s['final_ratio'], 2)}{span} | "
                     f"{fmt(s['compile_ms'])} | {fmt(s['bytes'])} | {fmt(s['rx_ms'])} | "
                     f"{fmt(s['latency_ms'])} |")
    return "\n".join(lines), summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="boots (default 3)")
    p.add_argument("--cpu", default="max", help="QEMU CPU model (default max)")
    p.add_argument("--out", default="build/bench/kernel-jit.json", help="JSON of every run")
    p.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                   help="more link server options (repeatable)")
    p.add_argument("--root", type=Path, default=ROOT, help="the project (default: this checkout)")
    args = p.parse_args()
    root = args.root.resolve()
    subprocess.run([sys.executable, "-m", "doit", "image"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    os.chdir(root)  # QEMU and the server get project-relative paths
    runs = []
    for i in range(args.runs):
        run = one_run(root, args.cpu, args.server_arg)
        runs.append(run)
        decided = [f"{r['benchmark']} {r['verdict']} {r['speedup']:.2f}x ({rounds(r)})"
                   for r in run["rows"] if r["speedup"]]
        print(f"run {i + 1}/{args.runs} ({run['seconds']} s): {'; '.join(decided)}", flush=True)
    table, summary = summarize(runs)
    print(f"\nQEMU TCG (emulated), -cpu {args.cpu}, {args.runs} runs; ratios: the slot's median call over "
          "the new code's, same boot\n")
    print(table)
    fast = [n for n, s in summary.items() if (s["final_ratio"] or 0) >= 1.1]
    slow = sum(s["kept_slowdowns"] for s in summary.values())
    wrong = sum(s["checksum_mismatch_kept"] for s in summary.values())
    under = [n for n, s in summary.items() if s["latency_ms"] is not None and s["latency_ms"] < 200]
    print(f"\nfinal ratio >= 1.1x (median over runs): {', '.join(fast) or 'none'}; kept slowdowns: {slow}; "
          f"kept with another checksum: {wrong}; latency under 200 ms (median): {', '.join(under) or 'none'}")
    out = root / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cpu": args.cpu, "runs": runs, "summary": summary}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
