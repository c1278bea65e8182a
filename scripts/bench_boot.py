"""Boot-time figures: guest-side (TSC, stage 1 to kernel_main) and QEMU wall time.

Builds the default image, boots it repeatedly under TCG from floppy (CHS)
and IDE (LBA), calibrates KVM against TCG (KVM is measured only where the
calibration shows it faster), and reports kernel and image sizes against
the 1,474,560-byte floppy.

    .venv/bin/python scripts/bench_boot.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fluidbench.accel import calibrate  # noqa: E402
from fluidbench.qemu import boot  # noqa: E402
from fluidbuild_plugins.fluidos.qemu import qemu_argv  # noqa: E402

FLOPPY_BYTES = 1_474_560
KERNEL_LBA = 9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "doit", "image"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    image = str(ROOT / "build/fluid.img")
    rows = []
    for drive in ("floppy", "ide"):
        argv = qemu_argv("qemu-system-i386", image, drive)
        runs = [boot(argv, 60) for _ in range(args.repeat)]
        bad = [r for r in runs if not r.ok]
        if bad:
            raise SystemExit(f"boot failed: {bad[0].reason()}")
        guest = [r.lines("FLUID-BOOT")[0]["boot_us"] / 1000 for r in runs]
        rows.append((f"TCG, {drive} ({'CHS' if drive == 'floppy' else 'LBA'})",
                     statistics.median(guest), statistics.median(r.seconds * 1000 for r in runs)))
    cal = calibrate({"tcg": qemu_argv("qemu-system-i386", image, "floppy"),
                     "kvm": qemu_argv("qemu-system-i386", image, "floppy", accel="kvm", cpu="qemu32")})
    if cal.chosen == "kvm":
        runs = [boot(qemu_argv("qemu-system-i386", image, "floppy", accel="kvm", cpu="qemu32"), 60)
                for _ in range(args.repeat)]
        rows.append(("KVM, floppy", statistics.median(r.lines("FLUID-BOOT")[0]["boot_us"] / 1000
                                                      for r in runs),
                     statistics.median(r.seconds * 1000 for r in runs)))
    print(f"Boot time, median of {args.repeat} boots ({cal.note})")
    print("| run | guest: stage 1 to kernel_main | QEMU wall, start to exit |")
    print("|---|---|---|")
    for name, guest_ms, wall_ms in rows:
        print(f"| {name} | {guest_ms:.1f} ms | {wall_ms:.0f} ms |")
    kernel = (ROOT / "build/kernel.bin").stat().st_size
    room = FLOPPY_BYTES - KERNEL_LBA * 512
    print(f"\nkernel.bin: {kernel} bytes = {100 * kernel / room:.1f}% of the {room} bytes after LBA 9; "
          f"stage1 512 + stage2 4096; image {FLOPPY_BYTES} bytes "
          f"({100 * (kernel + 4608) / FLOPPY_BYTES:.1f}% used)")


if __name__ == "__main__":
    main()
