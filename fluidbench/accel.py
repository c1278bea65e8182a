"""Choosing QEMU's accelerator by measurement, never by assumption.

``/dev/kvm`` can be a software backend thousands of times slower than TCG
for guest code, so KVM is used only where a short calibration boot of the
real image shows it faster than TCG.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fluidbench.qemu import BootResult, boot


@dataclass
class Calibration:
    """Wall time of one calibration boot per accelerator, and the choice."""

    tcg_s: float
    kvm_s: float | None  # None: no usable /dev/kvm, or it did not finish in time
    chosen: str
    note: str


def kvm_available() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def calibrate(argv_for: dict[str, list[str]], budget_s: float = 20.0) -> Calibration:
    """Boot once with each accelerator in ``argv_for`` ("tcg", "kvm") and pick the faster.

    The KVM boot gets at most ``budget_s`` (or ten times the TCG time, if
    larger): a software KVM that cannot even boot in that time loses.
    """
    tcg = boot(argv_for["tcg"], budget_s * 3)
    if not tcg.ok:
        raise RuntimeError(f"calibration boot under TCG failed: {tcg.reason()}")
    if "kvm" not in argv_for or not kvm_available():
        return Calibration(tcg.seconds, None, "tcg", "no usable /dev/kvm: TCG")
    kvm: BootResult = boot(argv_for["kvm"], max(budget_s, 10 * tcg.seconds))
    if not kvm.ok:
        return Calibration(tcg.seconds, None, "tcg",
                           f"KVM calibration boot failed after {kvm.seconds:.1f} s ({kvm.reason()}; "
                           f"TCG booted in {tcg.seconds:.2f} s): TCG")
    chosen = "kvm" if kvm.seconds < tcg.seconds else "tcg"
    return Calibration(tcg.seconds, kvm.seconds, chosen,
                       f"calibration boot: KVM {kvm.seconds:.2f} s, TCG {tcg.seconds:.2f} s: "
                       f"{chosen.upper()}")
