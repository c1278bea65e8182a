"""``doit bench`` results as ``results.json`` and a markdown table (``results.md``).

One table row per benchmark and size: the native figures (x86-64 generic
and tuned, i386 generic and tuned), the in-kernel figure labelled with its
accelerator (and as emulated under TCG), and the host references, with the
ratios the performance goals are stated in.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fluidbuild.atomic import write_text

PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
NATIVE_COLUMNS = (("x86_64", "generic"), ("x86_64", "tuned"), ("i386", "generic"), ("i386", "tuned"))


def human(rate: float, unit: str) -> str:
    """``34200000000.0, "flop"`` -> ``34.2 Gflop/s``."""
    scale, prefix = next(((s, p) for s, p in PREFIXES if rate >= s), (1.0, ""))
    return f"{rate / scale:.3g} {prefix}{unit}/s"


def write(doc: dict[str, Any], out_dir: str) -> list[str]:
    """Write ``results.json`` and ``results.md`` into ``out_dir``; return their paths."""
    paths = [os.path.join(out_dir, "results.json"), os.path.join(out_dir, "results.md")]
    write_text(paths[0], json.dumps(doc, indent=1) + "\n")
    write_text(paths[1], markdown(doc))
    return paths


def rows(doc: dict[str, Any]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The results grouped by (benchmark, size), in the order they ran."""
    grouped: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in doc["results"]:
        grouped.setdefault((r["name"], r["size"]), []).append(r)
    return grouped


def markdown(doc: dict[str, Any]) -> str:
    accel = doc["accelerator"]
    where = f"in kernel, {accel['chosen'].upper()}" + (" (emulated)" if accel["emulated"] else "")
    machine, profile = doc["machine"], doc["cpu_profile"]
    checks = doc["checks"]
    lines = [
        "# Benchmark results",
        "",
        f"`{doc['command']}` on {doc['date']}: {machine['cpu_model']} ({machine['machine']}, "
        f"{machine['cores']} cores), CPU profile {profile['tag']} (`{' '.join(profile['clang_flags'])}`).",
        "",
        f"- Accelerator: {accel['note']}."
        + (" In-kernel figures are **emulated** (QEMU TCG): they measure the emulator, not the CPU."
           if accel["emulated"] else ""),
        f"- Kernel: {doc['kernel']['note']}.",
        "- Native and host figures are the fastest single run (host: best of "
        f"{doc['settings']['host_repeat']} calls), one thread; in-kernel figures are the mean of the "
        "kernel's timed runs, of the variant it measured fastest at boot. Ratios: tuned/generic and "
        "kernel/i386 (same variant; * against i386 generic, for a variant the native runners do not "
        "build) per row, x86-64 tuned over each host reference.",
        f"- Checksums: {sum(c['ok'] for c in checks)} of {len(checks)} in-kernel checksums equal the "
        "native i386 generic run of the same size (every variant computes the same result).",
        "",
        f"| benchmark | size | x86-64 generic | x86-64 tuned | tuned/generic | i386 generic | i386 tuned "
        f"| {where} | kernel/i386 | host reference | tuned/host |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    lines += [_row(name, size, entries) for (name, size), entries in rows(doc).items()]
    bad = [c for c in checks if not c["ok"]]
    if bad:
        lines += ["", "**Checksum mismatches:**", ""]
        lines += [f"- {c['name']} n={c['size']} {c['variant']}: kernel {c['kernel']}, native i386 "
                  f"{c['native_i386']}" for c in bad]
    return "\n".join(lines) + "\n"


def _row(name: str, size: int, entries: list[dict[str, Any]]) -> str:
    native = {(e["arch"], e["variant"]): e for e in entries if e["env"] == "native"}
    kernel = next((e for e in entries if e["env"] == "kernel"), None)
    hosts = [e for e in entries if e["env"] == "host"]
    tuned = native[("x86_64", "tuned")]["throughput"]
    cells = [name, str(size)]
    for key in NATIVE_COLUMNS[:2]:
        cells.append(_rate(native[key]))
    cells.append(_ratio(tuned, native[("x86_64", "generic")]["throughput"]))
    for key in NATIVE_COLUMNS[2:]:
        cells.append(_rate(native[key]))
    if kernel:
        # The native runners build generic and tuned; a kernel variant they lack (sse2,
        # avx2, ...) is compared with i386 generic, marked with *.
        same = native.get(("i386", kernel["variant"]))
        peer = (same or native[("i386", "generic")])["throughput"]
        cells += [f"{_rate(kernel)} ({kernel['variant']})",
                  _ratio(kernel["throughput"], peer) + ("" if same else "*")]
    else:
        cells += ["-", "-"]
    measured = [h for h in hosts if "throughput" in h]
    cells.append("<br>".join(f"{h['label']} {_rate(h)}" for h in measured) or "unavailable")
    cells.append("<br>".join(_ratio(tuned, h["throughput"]) for h in measured) or "-")
    return "| " + " | ".join(cells) + " |"


def _rate(entry: dict[str, Any]) -> str:
    return human(entry["throughput"], entry["unit"])


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b else "-"
