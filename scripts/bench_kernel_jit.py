"""Measure the kernel's live re-JIT against its boot choice, under QEMU TCG (emulated).

    .venv/bin/python scripts/bench_kernel_jit.py [--runs N] [--cpu max] [--out FILE] [--root DIR]
                                                 [--server-arg ARG ...]

Brings the image up to date (``doit image``), then boots it ``--runs`` times
exactly as ``doit run profile=jit`` does: the link server beside QEMU, the
guest's COM2 on its socket (fluidjit.linkserver.serving; no object cache, so
every patch is compiled afresh). In each run the kernel measures both sides
itself, on the same CPU and in the same boot: after the benchmarks ran with
the variant it chose at boot (the fastest by measurement), each benchmark's
run() gets up to three candidates (the link server's plan,
fluidjit/strategies.py), each timed against the code the slot holds then
(interleaved calls; the median pair's ratio decides, 2% margin, same
checksum), and what the slot kept is timed once more against the boot
choice (confirmed, or the boot choice goes back).

Per benchmark, medians over the runs:

- boot choice and its cycles (the boot choice's call in the median pair of
  the last comparison with it: the confirmation, or round 1's timing);
- after JIT: the cycles of what the slot holds at the end (the boot
  choice's when nothing was kept or the keep was not confirmed), the ratio
  (boot / after, with the range over the runs) and the verdict (the
  strategy kept, and in how many runs);
- round 1 (its candidate needs no profile: compiled after HELLO): compile
  ms, the host's wait for it after the PROFILE came, the patch's bytes and
  transfer over COM2 (the kernel's receive time, first to last byte), and
  the latency: the PROFILE's arrival at the host to the kernel's report that
  the slot holds the new code;
- the first value-specialised candidate (``+spec``): compile ms, its
  latency from its own PROFILE, and from the PROFILE whose values it was
  compiled with (round 1's: the honest "profile to specialised code" time).

All of it is emulated: TCG, on a shared machine (the load average is
printed). Writes every run's rows as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
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
    start, load = time.monotonic(), os.getloadavg()[0]
    with serving(sock, "build/kernel_bc.bc", "build/kernel_elf.elf", "build/kernel.bin",
                 str(report.relative_to(root)), tuple(extra)):
        result = boot(argv, BOOT_TIMEOUT_S)
    if not result.ok:
        raise SystemExit(f"the boot failed: {result.reason()}\n{result.serial[-2000:]}")
    host = json.loads(report.read_text()) if report.exists() else {"functions": []}
    events = result.lines("FLUID-JIT")
    rows = [bench_row(bench, events, host) for bench in result.lines("FLUID-BENCH")]
    return {"seconds": round(time.monotonic() - start, 2), "load": round(load, 2),
            "guest": host.get("guest"), "rows": rows}


def bench_row(bench: dict[str, Any], events: list[dict[str, Any]], host: dict[str, Any]) -> dict[str, Any]:
    """One benchmark of one run: its rounds as the kernel and the host saw them."""
    name = bench["name"]
    mine = [e for e in events if e.get("function") == f"{name}.run"]
    timed = [e for e in mine if e["event"] in ("kept", "reverted")]
    patches = [e for e in mine if e["event"] == "patch"]
    attempts = [r for r in host["functions"] if r["benchmark"] == name and r["digest"]]
    confirm = next((e for e in mine if e["event"] in ("confirmed", "unconfirmed")), None)
    rounds, installed = [], iter(zip(patches, timed, strict=False))
    pending = next(installed, None)
    for rec in attempts:
        # The kernel's patch and verdict lines of this PATCH, if it arrived and was installed
        # (they come in the host's order; a late or refused one has none).
        patch, kernel = pending if pending and pending[0]["addr"] == rec["entry"] else (None, None)
        if patch:
            pending = next(installed, None)
        rounds.append({
            "strategy": rec["strategy"], "compiled": rec["compiled"], "compile_ms": rec["compile_ms"],
            "wait_ms": rec["wait_ms"], "bytes": rec["bytes"], "latency_ms": rec["latency_ms"],
            "rx_ms": patch["rx_us"] / 1000 if patch else None,
            "verdict": kernel["event"] if kernel else rec["verdict"],
            "speedup": kernel["cycles_before"] / kernel["cycles_after"] if kernel else None,
            "checksums_equal": kernel["checksum_before"] == kernel["checksum_after"] if kernel else None,
            "values_latency_ms": values_latency(rec, attempts)})
    if confirm:
        boot_cycles = confirm["cycles_before"]
        final = confirm["cycles_after"] if confirm["event"] == "confirmed" else boot_cycles
    else:
        boot_cycles = timed[0]["cycles_before"] if timed else None
        final = boot_cycles
    kept = [r["strategy"] for r in rounds if r["verdict"] == "kept"]
    return {"benchmark": name, "size": bench["size"], "boot_variant": bench["variant"], "rounds": rounds,
            "boot_cycles": boot_cycles, "final_cycles": final,
            "ratio": boot_cycles / final if boot_cycles and final else None,
            "confirmation": confirm["event"] if confirm else None,
            "holds": kept[-1] if kept and confirm and confirm["event"] == "confirmed" else "boot choice",
            "other": sorted({e["event"] for e in mine if e["event"] in ("refused", "declined", "silent")})}


def values_latency(rec: dict[str, Any], attempts: list[dict[str, Any]]) -> float | None:
    """Milliseconds from the PROFILE whose values ``rec``'s code was compiled with to its swap."""
    origin = rec["compiled"] or ""
    if rec["t_swap"] is None or not origin.startswith("round "):
        return rec["latency_ms"] if origin == "on arrival" else None
    source = next((r for r in attempts if r["round"] == int(origin.split()[1])), None)
    return round((rec["t_swap"] - source["t_profile"]) * 1e3, 1) if source else None


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    names = [r["benchmark"] for r in runs[0]["rows"]]
    fmt = (lambda v, d=0: "-" if v is None else f"{v:.{d}f}")  # noqa: E731
    lines = ["| benchmark | boot choice | boot cycles | after JIT cycles | ratio (range) | "
             "holds at the end | round 1: compile ms | wait ms | bytes | COM2 ms | latency ms | "
             "first +spec: compile ms | latency ms | from its values' profile ms |",
             "|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    summary: dict[str, Any] = {}
    for name in names:
        rows = [row for run in runs for row in run["rows"] if row["benchmark"] == name]
        firsts = [r["rounds"][0] for r in rows if r["rounds"]]
        specs = [next((x for x in r["rounds"] if "+spec" in x["strategy"]), None) for r in rows]
        specs = [x for x in specs if x]
        ratios = [r["ratio"] for r in rows if r["ratio"]]
        holds = [r["holds"] for r in rows]
        s = {"boot": sorted({r["boot_variant"] for r in rows}),
             "boot_cycles": median([r["boot_cycles"] for r in rows]),
             "final_cycles": median([r["final_cycles"] for r in rows]),
             "ratio": median(ratios), "ratio_min": min(ratios, default=None),
             "ratio_max": max(ratios, default=None),
             "holds": {h: holds.count(h) for h in sorted(set(holds))},
             "kept_slowdowns": sum(1 for r in ratios if r < 1.0),
             "checksum_mismatch_kept": sum(1 for r in rows for x in r["rounds"]
                                           if x["verdict"] == "kept" and not x["checksums_equal"]),
             "first": {k: median([f[k] for f in firsts]) for k in ("compile_ms", "wait_ms", "bytes", "rx_ms",
                                                                   "latency_ms")},
             "first_compiled": sorted({f["compiled"] for f in firsts}),
             "spec": {k: median([x[k] for x in specs]) for k in ("compile_ms", "latency_ms",
                                                                  "values_latency_ms")},
             "latencies": [x["latency_ms"] for r in rows for x in r["rounds"] if x["latency_ms"] is not None],
             "other": sorted({o for r in rows for o in r["other"]})}
        summary[name] = s
        span = f" ({fmt(s['ratio_min'], 2)}-{fmt(s['ratio_max'], 2)})" if ratios else ""
        held = ", ".join(f"{k} {v}" for k, v in s["holds"].items())
        f, x = s["first"], s["spec"]
        lines.append(f"| {name} {rows[0]['size']} | {'/'.join(s['boot'])} | {fmt(s['boot_cycles'])} | "
                     f"{fmt(s['final_cycles'])} | {fmt(s['ratio'], 2)}{span} | {held} | "
                     f"{fmt(f['compile_ms'])} | {fmt(f['wait_ms'])} | {fmt(f['bytes'])} | "
                     f"{fmt(f['rx_ms'])} | {fmt(f['latency_ms'])} | {fmt(x['compile_ms'])} | "
                     f"{fmt(x['latency_ms'])} | {fmt(x['values_latency_ms'])} |")
    return "\n".join(lines), summary


def machine() -> str:
    """The host CPU and QEMU, for the record."""
    model = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    qemu = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=False).stdout
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; " \
           f"{qemu.splitlines()[0] if qemu else QEMU}"


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
        done = [f"{r['benchmark']} {r['ratio']:.2f}x ({r['holds']})" for r in run["rows"] if r["ratio"]]
        print(f"run {i + 1}/{args.runs} ({run['seconds']} s, load {run['load']}): {'; '.join(done)}",
              flush=True)
    table, summary = summarize(runs)
    guest = runs[-1]["guest"] or {}
    loads = [r["load"] for r in runs]
    print(f"\nAccelerator: QEMU TCG (emulated), -cpu {args.cpu}; guest CPU as the host decoded it: "
          f"{guest.get('llvm_cpu', '?')} {' '.join(guest.get('features', []))}")
    print(f"Host: {machine()}; load average {min(loads):.2f} to {max(loads):.2f} at the runs' starts")
    print(f"{args.runs} runs; medians; cycles are the guest's TSC; ratio: boot choice over what the slot "
          f"holds at the end, timed against each other by the kernel in the same boot\n")
    print(table)
    fast = [n for n, s in summary.items() if (s["ratio"] or 0) >= 1.1]
    slow = sum(s["kept_slowdowns"] for s in summary.values())
    wrong = sum(s["checksum_mismatch_kept"] for s in summary.values())
    lat = [x for s in summary.values() for x in s["latencies"]]
    under = sum(1 for x in lat if x < 200)
    print(f"\nratio >= 1.1x (median over runs): {', '.join(fast) or 'none'}; final slowdowns kept: {slow}; "
          f"kept with another checksum: {wrong}; patches running within 200 ms of their PROFILE: "
          f"{under} of {len(lat)} (median {median(lat) or 0:.0f} ms, max {max(lat, default=0):.0f} ms)")
    out = root / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cpu": args.cpu, "machine": machine(), "runs": runs, "summary": summary},
                              indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
