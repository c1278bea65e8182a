"""The Fluid OS boot protocol (docs/boot-protocol.md) as Python constants.

Generated from src/protocol/protocol.toml by plugins/fluidos/protocol.py; do not edit.
Refresh with: .venv/bin/python -m fluidbuild_plugins.fluidos.protocol
"""
# ruff: noqa: E501

from __future__ import annotations

from typing import Any

# Disk layout: where the BIOS, stage 1 and stage 2 find each part.
SECTOR_SIZE = 512  # bytes per sector
STAGE1_LBA = 0  # stage 1 (`stage1.bin`, ends with 0x55 0xAA)
STAGE2_LBA = 1  # stage 2 (`stage2.bin`, loaded at 0x7E00)
STAGE2_SECTORS = 8  # sectors of stage 2 (4096 bytes)
KERNEL_LBA = 9  # first sector of the kernel image (`kernel.bin`)

# Stage 2 trailer: the last 4 bytes of `stage2.bin`, checked by stage 1 before it jumps to stage 2.
STAGE2_SIGNATURE = 0x3253  # `"S2"` (bytes 53 32) read as a little-endian u16; `stage2.asm` assembles it
STAGE2_WORD_SUM = 0xF1D0  # what the 2048 little-endian u16 words of stage 2 add up to, modulo 2^16; nonzero, so a zero-filled stage 2 fails the sum as well as the signature
STAGE2_TRAILER_SIZE = 4  # bytes of stage2_trailer
TRAILER_SIGNATURE = 0  # u16 signature
TRAILER_CHECKSUM = 2  # u16 checksum
STAGE2_TRAILER_FORMAT = '<HH'  # struct module format of the whole structure
STAGE2_TRAILER_FIELDS = ('signature', 'checksum')

# Kernel header: the first 64 bytes of `kernel.bin`.
FLUD_MAGIC = b'FLUD'  # bytes 46 4C 55 44; 0x464C5544 read big-endian
FLUD_MAGIC_LEN = 4
FLUD_HEADER_VERSION = 1  # the header layout described here
KERNEL_LOW_MIN = 0x1000  # lowest load_addr: 0x500-0xFFF is the boot-info area
KERNEL_LOW_LIMIT = 0x7C00  # an image loaded below 1 MiB must end at or below this address, where stage 1 lives
KERNEL_HIGH_MIN = 0x100000  # 1 MiB: the lowest load_addr of a kernel loaded above conventional memory
FLUD_HEADER_SIZE = 64  # bytes of flud_header
HDR_MAGIC = 0  # char[4] magic
HDR_VERSION = 4  # u16 version
HDR_HEADER_SIZE = 6  # u16 header_size
HDR_LOAD_ADDR = 8  # u32 load_addr
HDR_ENTRY = 12  # u32 entry
HDR_KERNEL_BYTES = 16  # u32 kernel_bytes
HDR_KERNEL_SECTORS = 20  # u32 kernel_sectors
HDR_IMAGE_CRC32 = 24  # u32 image_crc32
HDR_CPU_FEATURES = 28  # u32 cpu_features
HDR_CPU_TAG = 32  # char[16] cpu_tag
HDR_BSS_END = 48  # u32 bss_end
HDR_RESERVED = 52  # u8[12] reserved
FLUD_CPU_TAG_LEN = 16  # elements of cpu_tag
FLUD_HEADER_FORMAT = '<4sHHIIIIII16sI12s'  # struct module format of the whole structure
FLUD_HEADER_FIELDS = ('magic', 'version', 'header_size', 'load_addr', 'entry', 'kernel_bytes', 'kernel_sectors', 'image_crc32', 'cpu_features', 'cpu_tag', 'bss_end', 'reserved')

# One entry of the BIOS memory map (INT 15h EAX=E820h) in the boot info.
E820_ENTRY_SIZE = 24  # bytes of e820_entry
E820_ENTRY_BASE = 0  # u64 base
E820_ENTRY_LENGTH = 8  # u64 length
E820_ENTRY_TYPE = 16  # u32 type
E820_ENTRY_ACPI_ATTRS = 20  # u32 acpi_attrs
E820_TYPE_USABLE = 1  # type: usable RAM (ACPI "AddressRangeMemory"), the only type the loader and the kernel use
E820_ENTRY_FORMAT = '<QQII'  # struct module format of the whole structure
E820_ENTRY_FIELDS = ('base', 'length', 'type', 'acpi_attrs')

# Boot info: built by stage 2 at 0x500, its address handed to the kernel in EBX.
BOOT_INFO_ADDR = 0x500  # where stage 2 builds it (0x500-0xFFF is reserved for it)
BOOT_INFO_MAGIC = 0x31494246  # `"FBI1"` read as a little-endian u32
BOOT_INFO_SIZE = 816  # bytes of boot_info
BI_MAGIC = 0  # u32 magic
BI_BOOT_DRIVE = 4  # u8 boot_drive
BI_DISK_MODE = 5  # u8 disk_mode
BI_A20_METHOD = 6  # u8 a20_method
BI_RESERVED = 7  # u8 reserved
BI_CYLINDERS = 8  # u16 cylinders
BI_HEADS = 10  # u8 heads
BI_SECTORS_PER_TRACK = 11  # u8 sectors_per_track
BI_KERNEL_LOAD = 12  # u32 kernel_load
BI_KERNEL_BYTES = 16  # u32 kernel_bytes
BI_DISK_SECTORS = 20  # u32 disk_sectors
BI_TSC_STAGE1 = 24  # u64 tsc_stage1
BI_TSC_HANDOFF = 32  # u64 tsc_handoff
BI_E820_COUNT = 40  # u32 e820_count
BI_RESERVED2 = 44  # u32 reserved2
BI_E820 = 48  # e820_entry[32] e820
BOOT_DISK_CHS = 0  # disk_mode: CHS
BOOT_DISK_LBA = 1  # disk_mode: LBA (INT 13h extensions)
BOOT_INFO_DISK_MODE_VALUES = {0: 'CHS', 1: 'LBA'}  # disk_mode: its name in serial lines
BOOT_A20_ALREADY_ON = 0  # a20_method: already on
BOOT_A20_BIOS = 1  # a20_method: BIOS INT 15h
BOOT_A20_KBC = 2  # a20_method: keyboard controller
BOOT_A20_FAST = 3  # a20_method: fast A20 (port 0x92)
BOOT_INFO_A20_METHOD_VALUES = {0: 'on', 1: 'bios', 2: 'kbc', 3: 'fast'}  # a20_method: its name in serial lines
BOOT_INFO_E820_MAX = 32  # elements of e820
BOOT_INFO_FORMAT = '<IBBBBHBBIIIQQII768s'  # struct module format of the whole structure
BOOT_INFO_FIELDS = ('magic', 'boot_drive', 'disk_mode', 'a20_method', 'reserved', 'cylinders', 'heads', 'sectors_per_track', 'kernel_load', 'kernel_bytes', 'disk_sectors', 'tsc_stage1', 'tsc_handoff', 'e820_count', 'reserved2', 'e820')

# Stage 2 to kernel hand-off: 32-bit protected mode, flat segments, interrupts off, A20 on.
KERNEL_BOOT_MAGIC = 0x464C5544  # EAX at kernel entry ("FLUD" read big-endian)
KERNEL_STACK_TOP = 0x90000  # ESP = EBP at kernel entry

# Loader fatal error codes (printed as FATAL ERROR: 0xXX)
FATAL_DISK_READ = 0xD1  # disk read failure
FATAL_DISK_VERIFY = 0xD2  # incorrect sector count
FATAL_A20_FAILED = 0xA2  # A20 line cannot be enabled
FATAL_BAD_SIGNATURE = 0x51  # invalid kernel signature
FATAL_NO_KERNEL = 0xE0  # kernel not found
FATAL_BAD_CHECKSUM = 0xCE  # kernel checksum mismatch
FATAL_BAD_STAGE2 = 0xB2  # stage 2 corrupt
FATAL_BAD_HEADER = 0xBF  # unsupported kernel header
FATAL_BAD_LOAD_ADDR = 0xBA  # kernel load address unusable
FATAL_BAD_ENTRY = 0xBE  # kernel entry outside the image
LOADER_FATAL: dict[int, dict[str, str]] = {
    0xD1: {'name': 'DISK_READ', 'meaning': 'disk read failure', 'cause': 'a disk read failed after a reset and 3 attempts'},
    0xD2: {'name': 'DISK_VERIFY', 'meaning': 'incorrect sector count', 'cause': 'header sector count inconsistent with `kernel_bytes` (or `kernel_bytes` smaller than the header), or larger than the disk'},
    0xA2: {'name': 'A20_FAILED', 'meaning': 'A20 line cannot be enabled', 'cause': 'no method enabled the A20 line'},
    0x51: {'name': 'BAD_SIGNATURE', 'meaning': 'invalid kernel signature', 'cause': 'the first kernel sector does not start with "FLUD"'},
    0xE0: {'name': 'NO_KERNEL', 'meaning': 'kernel not found', 'cause': 'the first kernel sector is all zero'},
    0xCE: {'name': 'BAD_CHECKSUM', 'meaning': 'kernel checksum mismatch', 'cause': 'CRC-32 of the kernel image (header included, `image_crc32` read as zero) differs from `image_crc32`'},
    0xB2: {'name': 'BAD_STAGE2', 'meaning': 'stage 2 corrupt', 'cause': 'stage 1: the stage 2 it read does not end with the `STAGE2_SIGNATURE` trailer, or its 2048 16-bit words do not add up to `STAGE2_WORD_SUM`'},
    0xBF: {'name': 'BAD_HEADER', 'meaning': 'unsupported kernel header', 'cause': "the header's `version` is not `FLUD_HEADER_VERSION` or its `header_size` is not 64"},
    0xBA: {'name': 'BAD_LOAD_ADDR', 'meaning': 'kernel load address unusable', 'cause': "`load_addr` is neither in [0x1000, 0x7C00) with the image ending by 0x7C00 nor at or above 1 MiB, or the image and its BSS, `[load_addr, bss_end)`, do not lie in one usable E820 range (or `bss_end` lies before the image's end)"},
    0xBE: {'name': 'BAD_ENTRY', 'meaning': 'kernel entry outside the image', 'cause': '`entry` is not in `[load_addr + header_size, load_addr + kernel_bytes)`'},
}

# The kernel (or the loader) writes one byte to port 0xF4; QEMU exits with `(value << 1) | 1`.
ISA_DEBUG_EXIT_PORT = 0xF4  # -device isa-debug-exit,iobase=0xf4,iosize=0x04
EXIT_OK = 0x00  # success
EXIT_PANIC = 0x01  # kernel panic
EXIT_EXCEPTION = 0x02  # CPU exception
EXIT_CHECK = 0x03  # self-test or benchmark check failed
EXIT_LOADER_FATAL = 0x7F  # loader fatal error
EXIT_STATUSES: dict[int, dict[str, Any]] = {
    0x00: {'name': 'EXIT_OK', 'status': 'ok', 'meaning': 'success', 'note': '', 'qemu_status': 1},
    0x01: {'name': 'EXIT_PANIC', 'status': 'panic', 'meaning': 'kernel panic', 'note': 'message on serial before it', 'qemu_status': 3},
    0x02: {'name': 'EXIT_EXCEPTION', 'status': 'exception', 'meaning': 'CPU exception', 'note': 'name, EIP, error code on serial before it', 'qemu_status': 5},
    0x03: {'name': 'EXIT_CHECK', 'status': 'check', 'meaning': 'self-test or benchmark check failed', 'note': '', 'qemu_status': 7},
    0x7F: {'name': 'EXIT_LOADER_FATAL', 'status': '', 'meaning': 'loader fatal error', 'note': '`FATAL ERROR: 0xXX` on serial before it', 'qemu_status': 255},
}

# CPU feature bits (the header's cpu_features)
CPU_FEAT_SSE = 0  # sse: CPUID 1:EDX[25]
CPU_FEAT_SSE2 = 1  # sse2: CPUID 1:EDX[26]
CPU_FEAT_SSE3 = 2  # sse3: CPUID 1:ECX[0]
CPU_FEAT_SSSE3 = 3  # ssse3: CPUID 1:ECX[9]
CPU_FEAT_SSE4_1 = 4  # sse4.1: CPUID 1:ECX[19]
CPU_FEAT_SSE4_2 = 5  # sse4.2: CPUID 1:ECX[20]
CPU_FEAT_POPCNT = 6  # popcnt: CPUID 1:ECX[23]
CPU_FEAT_AVX = 7  # avx: CPUID 1:ECX[28]
CPU_FEAT_FMA = 8  # fma: CPUID 1:ECX[12]
CPU_FEAT_F16C = 9  # f16c: CPUID 1:ECX[29]
CPU_FEAT_MOVBE = 10  # movbe: CPUID 1:ECX[22]
CPU_FEAT_AES = 11  # aes: CPUID 1:ECX[25]
CPU_FEAT_PCLMUL = 12  # pclmul: CPUID 1:ECX[1]
CPU_FEAT_AVX2 = 13  # avx2: CPUID 7.0:EBX[5]
CPU_FEAT_BMI1 = 14  # bmi1: CPUID 7.0:EBX[3]
CPU_FEAT_BMI2 = 15  # bmi2: CPUID 7.0:EBX[8]
CPU_FEAT_ADX = 16  # adx: CPUID 7.0:EBX[19]
CPU_FEAT_SHA = 17  # sha: CPUID 7.0:EBX[29]
CPU_FEAT_AVX512F = 18  # avx512f: CPUID 7.0:EBX[16]
CPU_FEAT_LZCNT = 19  # lzcnt: CPUID 0x80000001:ECX[5]
CPU_FEATURE_COUNT = 20
CPU_FEATURES: tuple[dict[str, Any], ...] = (
    {'name': 'sse', 'bit': 0, 'cpuid': '1:EDX[25]', 'clang_macro': '__SSE__', 'linux': 'sse', 'doc': ''},
    {'name': 'sse2', 'bit': 1, 'cpuid': '1:EDX[26]', 'clang_macro': '__SSE2__', 'linux': 'sse2', 'doc': ''},
    {'name': 'sse3', 'bit': 2, 'cpuid': '1:ECX[0]', 'clang_macro': '__SSE3__', 'linux': 'pni', 'doc': ''},
    {'name': 'ssse3', 'bit': 3, 'cpuid': '1:ECX[9]', 'clang_macro': '__SSSE3__', 'linux': 'ssse3', 'doc': ''},
    {'name': 'sse4.1', 'bit': 4, 'cpuid': '1:ECX[19]', 'clang_macro': '__SSE4_1__', 'linux': 'sse4_1', 'doc': ''},
    {'name': 'sse4.2', 'bit': 5, 'cpuid': '1:ECX[20]', 'clang_macro': '__SSE4_2__', 'linux': 'sse4_2', 'doc': ''},
    {'name': 'popcnt', 'bit': 6, 'cpuid': '1:ECX[23]', 'clang_macro': '__POPCNT__', 'linux': 'popcnt', 'doc': ''},
    {'name': 'avx', 'bit': 7, 'cpuid': '1:ECX[28]', 'clang_macro': '__AVX__', 'linux': 'avx', 'doc': 'plus OSXSAVE 1:ECX[27] and XCR0 bits 1-2 enabled'},
    {'name': 'fma', 'bit': 8, 'cpuid': '1:ECX[12]', 'clang_macro': '__FMA__', 'linux': 'fma', 'doc': ''},
    {'name': 'f16c', 'bit': 9, 'cpuid': '1:ECX[29]', 'clang_macro': '__F16C__', 'linux': 'f16c', 'doc': ''},
    {'name': 'movbe', 'bit': 10, 'cpuid': '1:ECX[22]', 'clang_macro': '__MOVBE__', 'linux': 'movbe', 'doc': ''},
    {'name': 'aes', 'bit': 11, 'cpuid': '1:ECX[25]', 'clang_macro': '__AES__', 'linux': 'aes', 'doc': ''},
    {'name': 'pclmul', 'bit': 12, 'cpuid': '1:ECX[1]', 'clang_macro': '__PCLMUL__', 'linux': 'pclmulqdq', 'doc': ''},
    {'name': 'avx2', 'bit': 13, 'cpuid': '7.0:EBX[5]', 'clang_macro': '__AVX2__', 'linux': 'avx2', 'doc': ''},
    {'name': 'bmi1', 'bit': 14, 'cpuid': '7.0:EBX[3]', 'clang_macro': '__BMI__', 'linux': 'bmi1', 'doc': ''},
    {'name': 'bmi2', 'bit': 15, 'cpuid': '7.0:EBX[8]', 'clang_macro': '__BMI2__', 'linux': 'bmi2', 'doc': ''},
    {'name': 'adx', 'bit': 16, 'cpuid': '7.0:EBX[19]', 'clang_macro': '__ADX__', 'linux': 'adx', 'doc': ''},
    {'name': 'sha', 'bit': 17, 'cpuid': '7.0:EBX[29]', 'clang_macro': '__SHA__', 'linux': 'sha_ni', 'doc': ''},
    {'name': 'avx512f', 'bit': 18, 'cpuid': '7.0:EBX[16]', 'clang_macro': '__AVX512F__', 'linux': 'avx512f', 'doc': 'plus XCR0 bits 5-7'},
    {'name': 'lzcnt', 'bit': 19, 'cpuid': '0x80000001:ECX[5]', 'clang_macro': '__LZCNT__', 'linux': 'abm', 'doc': ''},
)

# Serial lines: TAG {json} at column 0; every field a line may hold.
LINES: dict[str, dict[str, Any]] = {
    'FLUID-BOOT': {
        'doc': 'once, after boot, from the kernel',
        'fields': {
            'drive': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'BIOS boot drive (boot info `boot_drive`)'},
            'disk': {'type': 'string', 'required': True, 'enum': ('CHS', 'LBA'), 'pattern': None, 'by': '', 'doc': 'disk access stage 2 used (boot info `disk_mode`)'},
            'a20': {'type': 'string', 'required': True, 'enum': ('on', 'bios', 'kbc', 'fast', 'unknown'), 'pattern': None, 'by': '', 'doc': 'what opened the A20 gate (boot info `a20_method`; unknown: a value past the table)'},
            'mem_kib': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'usable memory from the E820 map, KiB'},
            'cpu': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'CPU tag the tuned code was built for (header `cpu_tag`, "AVX2")'},
            'variant': {'type': 'string', 'required': True, 'enum': ('tuned', 'generic'), 'pattern': None, 'by': '', 'doc': 'which benchmark variants the kernel dispatched to'},
            'missing': {'type': 'array', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'feature names the tuned code needs and this CPU lacks'},
            'kernel_bytes': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'bytes the loader copied'},
            'boot_cycles': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': "TSC cycles from stage 1's first instruction to `kernel_main`"},
            'boot_us': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the same in microseconds'},
        },
    },
    'FLUID-BENCH': {
        'doc': 'one per benchmark result, from the kernel and the native runner (`cycles`, `ns`, `work` and the PMU counts are totals over the timed runs)',
        'fields': {
            'name': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'benchmark name ("matrix_mul")'},
            'variant': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the variant that ran: the kernel prints `<name>_<cpu tag>` or `<name>_generic` ("matrix_mul_AVX2"), the native runner `generic` or `tuned`'},
            'size': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'problem size'},
            'iterations': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'timed run() calls'},
            'cycles': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'TSC cycles of all timed runs'},
            'ns': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'nanoseconds of all timed runs'},
            'work': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'units of work of all timed runs'},
            'unit': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'unit of work ("flop")'},
            'throughput_milli': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'work per second, times 1000'},
            'throughput_unit': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': '`<unit>/s` ("flop/s")'},
            'checksum': {'type': 'string', 'required': True, 'enum': None, 'pattern': '0x[0-9a-f]{16}', 'by': '', 'doc': "the benchmark's checksum of its output, 16 hex digits"},
            'pmu_instructions': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'instructions retired, where the CPU exposes performance counters to ring 0 (Intel architectural perfmon v2+ fixed counters, AMD PerfCtrExtCore; absent under QEMU TCG)'},
            'pmu_cycles': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'unhalted core cycles, where `pmu_instructions` is printed'},
            'arch': {'type': 'string', 'required': False, 'enum': ('x86_64', 'i386'), 'pattern': None, 'by': 'native', 'doc': "the runner's architecture"},
            'min_ns': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'native', 'doc': 'the fastest single run()'},
            'median_ns': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'native', 'doc': 'the median run() (of the first 2^20 runs)'},
        },
    },
    'FLUID-EXIT': {
        'doc': 'once, just before the kernel ends QEMU',
        'fields': {
            'status': {'type': 'string', 'required': True, 'enum': ('ok', 'panic', 'exception', 'check'), 'pattern': None, 'by': '', 'doc': 'why the kernel stopped (the `status` of its exit status)'},
            'message': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'panic, check', 'doc': 'what went wrong'},
            'vector': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'exception', 'doc': 'exception vector (0-31)'},
            'name': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'exception', 'doc': 'exception name ("Invalid Opcode")'},
            'eip': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'exception', 'doc': 'faulting EIP, hex'},
            'error_code': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'exception', 'doc': "the CPU's error code, hex"},
            'cr2': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'exception', 'doc': 'faulting address of a page fault, hex'},
        },
    },
}
