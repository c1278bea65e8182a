"""``doit bench``: every benchmark natively, in the kernel and on the host, in one run.

For each manifest benchmark (at the size the kernel runs) and each extra
size of the ``bench`` section:

* natively, single-threaded: x86-64 generic and tuned, i386 generic and
  tuned (the i386 runner is built with the kernel's triple, the fair peer of
  the in-kernel run); each figure is the fastest of as many run() calls as
  fill the section's ``seconds``;
* the host references a user would pick instead, on the same input
  (:func:`fluidbench.host.measure_host`).

Then the image boots once in QEMU (:mod:`fluidbench.kernel`) and
each in-kernel checksum must equal the native i386 generic checksum of the
same size (whichever variant the kernel measured fastest and ran: all
variants compute the same result). A benchmark a package contributes is measured against its
own host reference, whose result on the dumped input must equal every native
checksum (``reference_checks``). Results go to ``results.json``,
``results.md`` and ``results.png`` in the output directory; a checksum
mismatch fails the task after they are written.
"""

from __future__ import annotations

import datetime
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluidbench import chart, host, kernel, native, oracle, report
from fluidbench.accel import calibrate
from fluidbench.qemu import RunProfile, loader_errors
from fluidbuild.errors import FluidError
from fluidbuild.model import Benchmark, FatalCode

# (arch, variant) of every native figure, in table order.
NATIVE_RUNS = (("x86_64", "generic"), ("x86_64", "tuned"), ("i386", "generic"), ("i386", "tuned"))
DUMPED = ("x86_64", "tuned")  # the run whose input the host references reuse
KERNEL_STEPS = 2  # calibration, measured boot


@dataclass(frozen=True)
class Row:
    """One benchmark at one size; ``size`` None: the manifest's (the kernel's)."""

    name: str
    size: int | None


class Progress:
    """Numbered progress lines, flushed at once (doit shows them as they come)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def step(self, message: str) -> None:
        self.done += 1
        self.say(f"[{self.done:>{len(str(self.total))}}/{self.total}] {message}")

    @staticmethod
    def say(message: str) -> None:
        print(f"bench: {message}", flush=True)


def plan(benchmarks: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[Row]:
    """The manifest's benchmarks, then the extra sizes not already among them."""
    rows = [Row(b["name"], b["size"]) for b in benchmarks]
    seen = {(r.name, r.size) for r in rows}
    rows += [Row(e["name"], e["size"]) for e in extra if (e["name"], e["size"]) not in seen]
    return rows


def run(benchmarks: list[dict[str, Any]], cpu_profile: dict[str, Any], profile: RunProfile,
        qemu_command: Callable[[RunProfile, str], list[str]], image: str,
        runners: dict[str, str], out_dir: str, settings: dict[str, Any],
        references: dict[str, Benchmark] | None = None,
        fatal_codes: dict[int, FatalCode] | None = None) -> None:
    """The ``bench`` task's action: ``benchmarks`` is the manifest's list, ``profile``
    the run profile the in-kernel boot uses, ``references`` the benchmarks packages
    contribute (with their host references), ``fatal_codes`` the loader's codes."""
    rows = plan(benchmarks, settings["extra"])
    progress = Progress(len(rows) * (len(NATIVE_RUNS) + 1) + KERNEL_STEPS)
    tag = cpu_profile["tag"]
    results: list[dict[str, Any]] = []
    reference_checks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fluid-bench-") as tmp:
        for row in rows:
            results += _native_and_host(row, runners, tag, settings, Path(tmp), progress,
                                        (references or {}).get(row.name), reference_checks)
    booted = _in_kernel(profile, qemu_command, image, os.path.join(out_dir, "serial.log"), progress,
                        loader_errors(fatal_codes))
    results += [_kernel_entry(line, booted) for line in booted.results]
    checks = _checks(results)
    doc = {
        "command": "doit bench",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_model": cpu_profile.get("host", {}).get("cpu_name") or platform.processor(),
                    "machine": platform.machine(), "cores": os.cpu_count(), "system": platform.system()},
        "cpu_profile": {k: cpu_profile.get(k) for k in ("tag", "mode", "llvm_cpu", "clang_flags")},
        "accelerator": {"chosen": booted.calibration.chosen, "tcg_s": booted.calibration.tcg_s,
                        "kvm_s": booted.calibration.kvm_s, "note": booted.calibration.note,
                        "emulated": booted.emulated},
        "kernel": {"cpu": booted.cpu, "variant": booted.boot.get("variant"),
                   "eligible": booted.boot.get("eligible", []), "chosen": kernel.choices(booted),
                   "missing": booted.boot.get("missing", []), "seconds": booted.seconds,
                   "note": _kernel_note(booted, tag)},
        "settings": settings,
        "results": results,
        "checks": checks,
        "reference_checks": reference_checks,
    }
    _write(doc, out_dir)
    wrong = [c for c in reference_checks if not c["ok"]]
    for c in wrong:
        Progress.say(f"REFERENCE MISMATCH: {c['name']} n={c['size']}: native {', '.join(c['native'])} != "
                     f"{c['label']} {c['reference']}")
    if wrong:
        raise FluidError(f"{len(wrong)} native checksum(s) differ from the benchmark's host reference "
                         f"(see {out_dir}/results.json)")
    bad = [c for c in checks if not c["ok"]]
    if bad:
        for c in bad:
            Progress.say(f"CHECKSUM MISMATCH: {c['name']} n={c['size']} {c['variant']}: "
                         f"kernel {c['kernel']} != native i386 {c['native_i386']}")
        raise FluidError(f"{len(bad)} in-kernel checksum(s) differ from the native i386 run "
                         f"(see {out_dir}/results.md)")


def _native_and_host(row: Row, runners: dict[str, str], tag: str, settings: dict[str, Any],
                     tmp: Path, progress: Progress, bench: Benchmark | None = None,
                     reference_checks: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    size: int | str = "-" if row.size is None else row.size
    dump = tmp / f"{row.name}-{size}.bin"
    entries = []
    for arch, variant in NATIVE_RUNS:
        options = ("--dump-file", str(dump)) if (arch, variant) == DUMPED else ()
        line = native.timed(runners[arch], row.name, variant, size, settings["seconds"], *options)
        entries.append(_native_entry(line, arch, variant, tag))
        progress.step(f"native {arch:6} {variant:7} {row.name} n={line['size']}: "
                      f"{report.human(entries[-1]['throughput'], line['unit'])}")
    size = entries[0]["size"]
    reference = None
    if bench is not None and bench.reference is not None:
        first = entries[0]
        reference = host.Reference(bench.reference, bench.reference_label,
                                   first["work"] / first["iterations"], first["unit"])
        check = _reference_check(bench, size, dump, entries)
        progress.say(f"{row.name} n={size}: {bench.reference_label} gives {check['reference']}: "
                     + ("every native checksum equals it" if check["ok"] else "MISMATCH"))
        if reference_checks is not None:
            reference_checks.append(check)
    try:
        peers = host.measure_host(row.name, size, dump, settings["host_repeat"], reference)
    except RuntimeError as exc:
        progress.step(f"host references for {row.name} unavailable: {exc}")
        return [*entries, {"env": "host", "name": row.name, "size": size, "label": "unavailable",
                           "error": str(exc)}]
    progress.step(f"host   {row.name} n={size}: " + ", ".join(
        f"{p.label} {report.human(p.value, p.unit)}" for p in peers))
    return [*entries, *({"env": "host", "name": row.name, "size": size, "label": p.label,
                         "unit": p.unit, "throughput": p.value} for p in peers)]


def _reference_check(bench: Benchmark, size: int, dump: Path,
                     entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The package's host reference on the dumped input against every native checksum."""
    reference = bench.reference
    assert reference is not None
    expected = int(reference(oracle.read_dump(dump).input, size)) & oracle.MASK64
    native_sums = sorted({e["checksum"] for e in entries})
    return {"name": bench.name, "size": size, "label": bench.reference_label,
            "reference": f"0x{expected:016x}", "native": native_sums,
            "ok": all(int(c, 16) == expected for c in native_sums)}


def _in_kernel(profile: RunProfile, qemu_command: Callable[[RunProfile, str], list[str]], image: str,
               log_path: str, progress: Progress, errors: dict[int, str] | None = None) -> kernel.KernelRun:
    argvs = kernel.commands(profile, qemu_command, image)
    progress.say("calibrating the accelerator: one boot under TCG, one under KVM if /dev/kvm is usable")
    calibration = calibrate(argvs)
    progress.step(f"accelerator: {calibration.note}")
    booted = kernel.measure(profile, argvs, calibration, log_path, errors)
    label = "emulated" if booted.emulated else "hardware"
    chosen = ", ".join(f"{name} {variant}" for name, variant in kernel.choices(booted).items())
    progress.step(f"in kernel ({calibration.chosen.upper()} -cpu {booted.cpu}, {label}): "
                  f"{len(booted.results)} results, variants {booted.boot.get('variant')} ({chosen}), "
                  f"{booted.seconds:.2f} s (serial log: {log_path})")
    return booted


def _native_entry(line: dict[str, Any], arch: str, variant: str, tag: str) -> dict[str, Any]:
    return {
        "env": "native", "arch": arch, "variant": variant,
        "tag": f"{line['name']}_{tag if variant == 'tuned' else 'generic'}",
        "throughput": native.best_rate(line),
        **{k: line[k] for k in ("name", "size", "unit", "iterations", "min_ns", "ns", "cycles", "work",
                                "checksum")},
    }


def _kernel_entry(line: dict[str, Any], booted: kernel.KernelRun) -> dict[str, Any]:
    return {
        "env": "kernel", "arch": "i386", "accel": booted.calibration.chosen, "emulated": booted.emulated,
        "cpu": booted.cpu, "throughput": line["throughput_milli"] / 1000,
        **{k: line[k] for k in ("name", "variant", "tag", "size", "unit", "iterations", "ns", "cycles",
                                "work", "checksum")},
        **{k: line[k] for k in ("candidates", "chosen_by", "trial_size", "select_us") if k in line},
    }


def _checks(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each in-kernel checksum against the native i386 generic run of its size: every
    variant computes the same result (the kernel drops one that does not), and the native
    runners build only generic and tuned, so generic is the peer of whichever ran."""
    i386 = {(r["name"], r["size"]): r["checksum"] for r in results
            if r["env"] == "native" and r["arch"] == "i386" and r["variant"] == "generic"}
    checks = []
    for r in (r for r in results if r["env"] == "kernel"):
        peer = i386.get((r["name"], r["size"]))
        checks.append({"name": r["name"], "size": r["size"], "variant": r["variant"],
                       "kernel": r["checksum"], "native_i386": peer, "ok": peer == r["checksum"]})
    return checks


def _kernel_note(booted: kernel.KernelRun, tag: str) -> str:
    chosen = ", ".join(f"{name} {variant}" for name, variant in kernel.choices(booted).items())
    eligible = " ".join(booted.boot.get("eligible", []))
    missing = " ".join(booted.boot.get("missing", []))
    lacks = f"; QEMU's -cpu {booted.cpu} lacks {missing} for the others" if missing else ""
    if booted.boot.get("variant") == "generic":
        return (f"the kernel ran its generic variants, the only ones this CPU runs (image built for "
                f"{tag}{lacks})")
    return (f"the kernel timed its eligible variants ({eligible}) at boot and ran each benchmark's fastest: "
            f"{chosen} (image built for {tag}{lacks})")


def _write(doc: dict[str, Any], out_dir: str) -> None:
    paths = report.write(doc, out_dir)
    png = os.path.join(out_dir, "results.png")
    if chart.write(doc, png):
        paths.append(png)
    else:
        Progress.say("matplotlib is not installed: skipping results.png")
    Progress.say("wrote " + ", ".join(paths))
    for line in report.markdown(doc).splitlines():
        print(line)
