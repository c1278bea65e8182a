"""The Fluid OS stages: the boot protocol's generated constants, CPU profile,
kernel header stamping, the benchmark registry, the disk image, booting in
QEMU, the native runners, ``doit bench`` and ``doit jit``."""
