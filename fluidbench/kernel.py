"""The in-kernel benchmark run: boot the image once and collect its results.

:func:`commands` gives :func:`fluidbench.accel.calibrate` the command lines
to compare (KVM is used only where a calibration boot is faster than TCG);
:func:`measure` boots with the chosen one. The command lines come from the
run profile's plugin (``BuildContext.qemu_command``), so a manifest that swaps
the ``qemu`` plugin is honoured here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fluidbench.accel import Calibration
from fluidbench.qemu import RunProfile, boot
from fluidbuild.errors import FluidError

KVM_CPU = "host"  # under KVM the guest sees the real CPU (and its PMU)
GENERIC = "generic"


@dataclass
class KernelRun:
    """What one boot of the image reported."""

    calibration: Calibration
    cpu: str  # QEMU CPU model of the measured boot
    boot: dict[str, Any]  # the FLUID-BOOT line (variant, missing features, ...)
    results: list[dict[str, Any]]  # FLUID-BENCH lines; "variant" avx2, "tag" matrix_mul_avx2
    seconds: float  # wall time of the boot

    @property
    def emulated(self) -> bool:
        return self.calibration.chosen == "tcg"


def commands(profile: RunProfile, qemu_command: Callable[[RunProfile, str], list[str]],
             image: str) -> dict[str, list[str]]:
    """The run profile's command line under TCG and under KVM (``-cpu host``),
    as :func:`fluidbench.accel.calibrate` takes them."""
    return {
        "tcg": qemu_command(replace(profile, accel="tcg"), image),
        "kvm": qemu_command(replace(profile, accel="kvm", cpu=KVM_CPU), image),
    }


def measure(profile: RunProfile, argvs: dict[str, list[str]], calibration: Calibration,
            log_path: str, loader_errors: Mapping[int, str] | None = None) -> KernelRun:
    """Boot with the accelerator the calibration chose; parse the kernel's results
    (``loader_errors`` names the loader's FATAL codes, see :func:`fluidbench.qemu.boot`)."""
    result = boot(argvs[calibration.chosen], profile.timeout_s, log_path=log_path,
                  loader_errors=loader_errors)
    if not result.ok:
        raise FluidError(f"the in-kernel benchmark run failed: {result.reason()} (serial log: {log_path})")
    boot_lines = result.lines("FLUID-BOOT")
    if not boot_lines:
        raise FluidError(f"the kernel printed no FLUID-BOOT line (serial log: {log_path})")
    benches = [{**line, "tag": f"{line['name']}_{line['variant']}"} for line in result.lines("FLUID-BENCH")]
    cpu = profile.cpu if calibration.chosen == "tcg" else KVM_CPU
    return KernelRun(calibration, cpu, boot_lines[0], benches, result.seconds)


def choices(run: KernelRun) -> dict[str, str]:
    """Each benchmark's variant, as the kernel chose it (by measurement at boot)."""
    return {line["name"]: line["variant"] for line in run.results}
