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

# Module directory: the sector right after the kernel image (LBA `KERNEL_LBA + kernel_sectors`), this header then `count` module_entry records; the rest of the sector is zero. An all-zero sector: no modules.
MODULE_DIR_MAGIC = b'FMOD'  # bytes 46 4D 4F 44
MODULE_DIR_MAGIC_LEN = 4
MODULE_DIR_VERSION = 1  # the directory layout described here
MODULE_ALIGN = 0x1000  # every module is loaded at a multiple of this (4 KiB, a page)
MODULE_MIN_ADDR = 0x100000  # 1 MiB: no module is loaded below it, where the loader, its buffers and the boot info live (a kernel loaded low still gets its modules above it)
MODULE_DIR_SIZE = 16  # bytes of module_dir
MDIR_MAGIC = 0  # char[4] magic
MDIR_VERSION = 4  # u16 version
MDIR_COUNT = 6  # u16 count
MDIR_CRC32 = 8  # u32 crc32
MDIR_RESERVED = 12  # u32 reserved
MODULE_DIR_FORMAT = '<4sHHII'  # struct module format of the whole structure
MODULE_DIR_FIELDS = ('magic', 'version', 'count', 'crc32', 'reserved')

# One module in the module directory: where it is on the disk and what it must read as.
MODULE_ENTRY_SIZE = 32  # bytes of module_entry
MENT_NAME = 0  # char[16] name
MENT_LBA = 16  # u32 lba
MENT_BYTES = 20  # u32 bytes
MENT_CRC32 = 24  # u32 crc32
MENT_RESERVED = 28  # u32 reserved
MODULE_ENTRY_FORMAT = '<16sIIII'  # struct module format of the whole structure
MODULE_ENTRY_FIELDS = ('name', 'lba', 'bytes', 'crc32', 'reserved')

# One entry of the BIOS memory map (INT 15h EAX=E820h) in the boot info.
E820_ENTRY_SIZE = 24  # bytes of e820_entry
E820_ENTRY_BASE = 0  # u64 base
E820_ENTRY_LENGTH = 8  # u64 length
E820_ENTRY_TYPE = 16  # u32 type
E820_ENTRY_ACPI_ATTRS = 20  # u32 acpi_attrs
E820_TYPE_USABLE = 1  # type: usable RAM (ACPI "AddressRangeMemory"), the only type the loader and the kernel use
E820_ENTRY_FORMAT = '<QQII'  # struct module format of the whole structure
E820_ENTRY_FIELDS = ('base', 'length', 'type', 'acpi_attrs')

# One loaded module in the boot info (Multiboot and Limine call these modules): the directory entry with its load address in place of its LBA.
BOOT_MODULE_SIZE = 32  # bytes of boot_module
BMOD_NAME = 0  # char[16] name
BMOD_ADDR = 16  # u32 addr
BMOD_BYTES = 20  # u32 bytes
BMOD_CRC32 = 24  # u32 crc32
BMOD_RESERVED = 28  # u32 reserved
MODULE_NAME_LEN = 16  # elements of name
BOOT_MODULE_FORMAT = '<16sIIII'  # struct module format of the whole structure
BOOT_MODULE_FIELDS = ('name', 'addr', 'bytes', 'crc32', 'reserved')

# Boot info: built by stage 2 at 0x500, its address handed to the kernel in EBX.
BOOT_INFO_ADDR = 0x500  # where stage 2 builds it (0x500-0xFFF is reserved for it)
BOOT_INFO_MAGIC = 0x31494246  # `"FBI1"` read as a little-endian u32
BOOT_INFO_SIZE = 1080  # bytes of boot_info
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
BI_MODULE_COUNT = 816  # u32 module_count
BI_RESERVED3 = 820  # u32 reserved3
BI_MODULES = 824  # boot_module[8] modules
BOOT_DISK_CHS = 0  # disk_mode: CHS
BOOT_DISK_LBA = 1  # disk_mode: LBA (INT 13h extensions)
BOOT_INFO_DISK_MODE_VALUES = {0: 'CHS', 1: 'LBA'}  # disk_mode: its name in serial lines
BOOT_A20_ALREADY_ON = 0  # a20_method: already on
BOOT_A20_BIOS = 1  # a20_method: BIOS INT 15h
BOOT_A20_KBC = 2  # a20_method: keyboard controller
BOOT_A20_FAST = 3  # a20_method: fast A20 (port 0x92)
BOOT_INFO_A20_METHOD_VALUES = {0: 'on', 1: 'bios', 2: 'kbc', 3: 'fast'}  # a20_method: its name in serial lines
BOOT_INFO_E820_MAX = 32  # elements of e820
BOOT_INFO_MODULE_MAX = 8  # elements of modules
BOOT_INFO_FORMAT = '<IBBBBHBBIIIQQII768sII256s'  # struct module format of the whole structure
BOOT_INFO_FIELDS = ('magic', 'boot_drive', 'disk_mode', 'a20_method', 'reserved', 'cylinders', 'heads', 'sectors_per_track', 'kernel_load', 'kernel_bytes', 'disk_sectors', 'tsc_stage1', 'tsc_handoff', 'e820_count', 'reserved2', 'e820', 'module_count', 'reserved3', 'modules')

# Live re-JIT link: the fixed header of every frame on COM2, followed by `size` payload bytes.
JIT_MAGIC = 0x54494A46  # `"FJIT"` (bytes 46 4A 49 54) read as a little-endian u32; a reader that sees anything else skips bytes until it finds it
JIT_COM2_PORT = 0x2F8  # I/O base of the link's 16550 UART (COM2, 115200 8N1, polled)
JIT_MAX_PAYLOAD = 0x10400  # largest payload a reader accepts (a PATCH: its 32-byte header and at most JIT_MAX_CODE bytes); a header announcing more is skipped as garbage
JIT_MAX_CODE = 0x10000  # largest code a PATCH carries (64 KiB)
JIT_ARENA_BYTES = 0x40000  # the kernel's code arena (256 KiB, page-aligned, in its BSS): every patch must lie inside it
JIT_HELLO_TIMEOUT_MS = 300  # how long the kernel waits for WELCOME after HELLO; no answer: it runs on without a host
JIT_PATCH_TIMEOUT_MS = 1500  # how long the kernel keeps running the old code after a PROFILE for the PATCH or DECLINE to arrive (the host's compile included); it polls the link between two calls and never idles
JIT_FRAME_TIMEOUT_MS = 100  # the longest gap between two bytes of one frame the kernel waits out (the host sends a frame in one piece); a longer stall drops the frame
JIT_SEND_TIMEOUT_MS = 100  # how long the kernel waits for room in the UART's transmitter per frame
JIT_SILENT_LIMIT = 2  # requests in a row left unanswered within their timeout after which the kernel stops using the link
JIT_KEEP_MARGIN_PERCENT = 2  # a patch is kept only when its call in the median pair (of old and new calls timed in turn) is at least this much faster than the old code's
JIT_PROFILED_CALLS = 2  # profiled calls of the old code before its PROFILE; also the untimed calls of each of the old and the new code, on fresh arenas, before they are timed
JIT_MAX_ROUNDS = 3  # PATCHes one function may get: after a verdict the kernel profiles the code its slot holds and offers it again, until the host declines or this many rounds
JIT_TIMED_CALLS = 5  # timed calls of each of the old and the new code at least, interleaved in pairs, before the verdict (the pair with the median new/old ratio counts)
JIT_TIMED_BUDGET_MS = 200  # more timed pairs while the old code's timed calls took less than this in all (short functions get more samples)
JIT_TIMED_MAX_CALLS = 31  # timed calls of each side at most; the count is always odd
JIT_HEADER_SIZE = 16  # bytes of jit_header
JIT_HDR_MAGIC = 0  # u32 magic
JIT_HDR_OPCODE = 4  # u16 opcode
JIT_HDR_FLAGS = 6  # u16 flags
JIT_HDR_SEQ = 8  # u32 seq
JIT_HDR_SIZE = 12  # u32 size
JIT_OP_HELLO = 1  # opcode: kernel to host: jit_hello (build id, CPUID leaves, XCR0, code arena)
JIT_OP_WELCOME = 2  # opcode: host to kernel, answering HELLO: jit_welcome
JIT_OP_PROFILE = 3  # opcode: kernel to host: jit_profile of one function
JIT_OP_PATCH = 4  # opcode: host to kernel, answering a PROFILE: jit_patch then the code bytes
JIT_OP_DECLINE = 5  # opcode: host to kernel, answering a PROFILE: jit_decline (no patch for it)
JIT_OP_VERDICT = 6  # opcode: kernel to host: jit_verdict (swap, kept, reverted, refused)
JIT_OP_BYE = 7  # opcode: kernel to host: the kernel is done with the link (no payload)
JIT_HEADER_OPCODE_VALUES = {1: 'HELLO', 2: 'WELCOME', 3: 'PROFILE', 4: 'PATCH', 5: 'DECLINE', 6: 'VERDICT', 7: 'BYE'}  # opcode: its name in serial lines
JIT_HEADER_FORMAT = '<IHHII'  # struct module format of the whole structure
JIT_HEADER_FIELDS = ('magic', 'opcode', 'flags', 'seq', 'size')

# One CPUID leaf as the kernel read it.
JIT_CPUID_SIZE = 24  # bytes of jit_cpuid
JIT_CPUID_LEAF = 0  # u32 leaf
JIT_CPUID_SUBLEAF = 4  # u32 subleaf
JIT_CPUID_REGS = 8  # u32[4] regs
JIT_CPUID_FORMAT = '<II16s'  # struct module format of the whole structure
JIT_CPUID_FIELDS = ('leaf', 'subleaf', 'regs')

# HELLO payload (kernel to host): what the host compiles for, where the code may go and which functions the slots hold.
JIT_HELLO_SIZE = 248  # bytes of jit_hello
JIT_HELLO_BUILD_ID = 0  # u32 build_id
JIT_HELLO_ARENA_ADDR = 4  # u32 arena_addr
JIT_HELLO_ARENA_BYTES = 8  # u32 arena_bytes
JIT_HELLO_BENCH_COUNT = 12  # u32 bench_count
JIT_HELLO_TSC_KHZ = 16  # u32 tsc_khz
JIT_HELLO_USABLE = 20  # u32 usable
JIT_HELLO_CR4 = 24  # u32 cr4
JIT_HELLO_LEAF_COUNT = 28  # u32 leaf_count
JIT_HELLO_XCR0 = 32  # u64 xcr0
JIT_HELLO_LEAVES = 40  # jit_cpuid[6] leaves
JIT_HELLO_SLOTS = 184  # u32[16] slots
JIT_CPUID_LEAVES = 6  # elements of leaves
JIT_MAX_SLOTS = 16  # elements of slots
JIT_HELLO_FORMAT = '<IIIIIIIIQ144s64s'  # struct module format of the whole structure
JIT_HELLO_FIELDS = ('build_id', 'arena_addr', 'arena_bytes', 'bench_count', 'tsc_khz', 'usable', 'cr4', 'leaf_count', 'xcr0', 'leaves', 'slots')

# WELCOME payload (host to kernel).
JIT_WELCOME_SIZE = 8  # bytes of jit_welcome
JIT_WELCOME_BUILD_ID = 0  # u32 build_id
JIT_WELCOME_RESERVED = 4  # u32 reserved
JIT_WELCOME_FORMAT = '<II'  # struct module format of the whole structure
JIT_WELCOME_FIELDS = ('build_id', 'reserved')

# PROFILE payload (kernel to host): one function, from the profiler runtime's record (src/runtime/profile.h).
JIT_PROFILE_SIZE = 168  # bytes of jit_profile
JIT_PROF_SLOT = 0  # u32 slot
JIT_PROF_FN_ADDR = 4  # u32 fn_addr
JIT_PROF_SIZE = 8  # u32 size
JIT_PROF_RESERVED = 12  # u32 reserved
JIT_PROF_CALLS = 16  # u64 calls
JIT_PROF_CYCLES = 24  # u64 cycles
JIT_PROF_SELF_CYCLES = 32  # u64 self_cycles
JIT_PROF_ARGS = 40  # u64[12] args
JIT_PROF_NAME = 136  # char[16] name
JIT_PROF_VARIANT = 152  # char[16] variant
JIT_NAME_LEN = 16  # elements of name
JIT_VARIANT_LEN = 16  # elements of variant
JIT_PROFILE_FORMAT = '<IIIIQQQ96s16s16s'  # struct module format of the whole structure
JIT_PROFILE_FIELDS = ('slot', 'fn_addr', 'size', 'reserved', 'calls', 'cycles', 'self_cycles', 'args', 'name', 'variant')

# PATCH payload (host to kernel): this header, then `bytes` bytes of code linked to run at `addr`.
JIT_PATCH_SIZE = 32  # bytes of jit_patch
JIT_PATCH_BUILD_ID = 0  # u32 build_id
JIT_PATCH_SLOT = 4  # u32 slot
JIT_PATCH_REPLACES = 8  # u32 replaces
JIT_PATCH_ADDR = 12  # u32 addr
JIT_PATCH_BYTES = 16  # u32 bytes
JIT_PATCH_ENTRY = 20  # u32 entry
JIT_PATCH_DIGEST = 24  # u32 digest
JIT_PATCH_FLAGS = 28  # u32 flags
JIT_PATCH_LAST = 1  # flags: the host's last candidate for this function
JIT_PATCH_FLAGS_VALUES = {1: 'last'}  # flags: its name in serial lines
JIT_PATCH_FORMAT = '<IIIIIIII'  # struct module format of the whole structure
JIT_PATCH_FIELDS = ('build_id', 'slot', 'replaces', 'addr', 'bytes', 'entry', 'digest', 'flags')

# DECLINE payload (host to kernel): no patch for this PROFILE.
JIT_DECLINE_SIZE = 56  # bytes of jit_decline
JIT_DECLINE_SLOT = 0  # u32 slot
JIT_DECLINE_RESERVED = 4  # u32 reserved
JIT_DECLINE_REASON = 8  # char[48] reason
JIT_REASON_LEN = 48  # elements of reason
JIT_DECLINE_FORMAT = '<II48s'  # struct module format of the whole structure
JIT_DECLINE_FIELDS = ('slot', 'reserved', 'reason')

# VERDICT payload (kernel to host): what became of a PATCH.
JIT_VERDICT_SIZE = 48  # bytes of jit_verdict
JIT_VERDICT_SLOT = 0  # u32 slot
JIT_VERDICT_EVENT = 4  # u32 event
JIT_VERDICT_REASON = 8  # u32 reason
JIT_VERDICT_ADDR = 12  # u32 addr
JIT_VERDICT_CYCLES_BEFORE = 16  # u64 cycles_before
JIT_VERDICT_CYCLES_AFTER = 24  # u64 cycles_after
JIT_VERDICT_CHECKSUM_BEFORE = 32  # u64 checksum_before
JIT_VERDICT_CHECKSUM_AFTER = 40  # u64 checksum_after
JIT_EVENT_SWAP = 1  # event: the code was copied and the slot now holds it: sent just before its first call (the host's latency ends here)
JIT_EVENT_KEPT = 2  # event: timed faster than the old code with the same checksum: the slot keeps it
JIT_EVENT_REVERTED = 3  # event: slower, or another checksum: the slot holds the old code again
JIT_EVENT_REFUSED = 4  # event: the patch failed a check (`reason`); nothing was changed
JIT_EVENT_CONFIRMED = 5  # event: after its rounds, the code the slot kept timed again against the boot choice, afresh: not slower
JIT_EVENT_UNCONFIRMED = 6  # event: the same, slower (or another checksum): the slot holds the boot choice again
JIT_VERDICT_EVENT_VALUES = {1: 'swap', 2: 'kept', 3: 'reverted', 4: 'refused', 5: 'confirmed', 6: 'unconfirmed'}  # event: its name in serial lines
JIT_REASON_NONE = 0  # reason: kept or swapped
JIT_REASON_BUILD = 1  # reason: refused: linked against another build
JIT_REASON_SLOT = 2  # reason: refused: no such slot, or it no longer holds `replaces`
JIT_REASON_BOUNDS = 3  # reason: refused: code or entry outside the arena, or too large
JIT_REASON_OVERLAP = 4  # reason: refused: overlaps a kept patch (live code)
JIT_REASON_DIGEST = 5  # reason: refused: the code's CRC-32 is not `digest`
JIT_REASON_SLOWER = 6  # reason: reverted: not faster by `JIT_KEEP_MARGIN_PERCENT`
JIT_REASON_CHECKSUM = 7  # reason: reverted: the benchmark's checksum differs from the old code's
JIT_VERDICT_REASON_VALUES = {0: '', 1: 'build_id', 2: 'slot', 3: 'bounds', 4: 'overlap', 5: 'digest', 6: 'slower', 7: 'checksum'}  # reason: its name in serial lines
JIT_VERDICT_FORMAT = '<IIIIQQQQ'  # struct module format of the whole structure
JIT_VERDICT_FIELDS = ('slot', 'event', 'reason', 'addr', 'cycles_before', 'cycles_after', 'checksum_before', 'checksum_after')

# Inference settings: the `infer` boot module (the manifest's `infer` section), then `model_bytes` bytes of the checkpoint's project-relative path, `tokenizer_bytes` of the tokenizer's, `prompt_bytes` of the prompt (UTF-8), nothing after. Little-endian.
INFER_SETTINGS_MAGIC = b'FINF'  # bytes 46 49 4E 46
INFER_SETTINGS_MAGIC_LEN = 4
INFER_SETTINGS_VERSION = 1  # the layout described here
INFER_MODULE_MODEL = b'model'  # boot module name of the checkpoint
INFER_MODULE_MODEL_LEN = 5
INFER_MODULE_TOKENIZER = b'tokenizer'  # boot module name of the tokenizer
INFER_MODULE_TOKENIZER_LEN = 9
INFER_MODULE_SETTINGS = b'infer'  # boot module name of these settings
INFER_MODULE_SETTINGS_LEN = 5
INFER_SETTINGS_MAX_TOKENS = 65536  # the most tokens a run may generate
INFER_SETTINGS_MAX_PROMPT = 4096  # the longest prompt
INFER_SETTINGS_MAX_PATH = 1024  # the longest checkpoint or tokenizer path
INFER_SETTINGS_SIZE = 40  # bytes of infer_settings
INFER_SET_MAGIC = 0  # char[4] magic
INFER_SET_VERSION = 4  # u16 version
INFER_SET_HEADER_SIZE = 6  # u16 header_size
INFER_SET_TOKENS = 8  # u32 tokens
INFER_SET_TEMPERATURE = 12  # f32 temperature
INFER_SET_TOPP = 16  # f32 topp
INFER_SET_RESERVED = 20  # u32 reserved
INFER_SET_SEED = 24  # u64 seed
INFER_SET_MODEL_BYTES = 32  # u16 model_bytes
INFER_SET_TOKENIZER_BYTES = 34  # u16 tokenizer_bytes
INFER_SET_PROMPT_BYTES = 36  # u32 prompt_bytes
INFER_SETTINGS_FORMAT = '<4sHHIffIQHHI'  # struct module format of the whole structure
INFER_SETTINGS_FIELDS = ('magic', 'version', 'header_size', 'tokens', 'temperature', 'topp', 'reserved', 'seed', 'model_bytes', 'tokenizer_bytes', 'prompt_bytes')

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
FATAL_BAD_MODULE = 0xBD  # boot module corrupt
FATAL_MODULE_NO_RAM = 0xBC  # no room for a boot module
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
    0xBD: {'name': 'BAD_MODULE', 'meaning': 'boot module corrupt', 'cause': 'the module directory after the kernel is not all zero yet lacks the "FMOD" magic, has another `version`, a `count` of 0 or above `BOOT_INFO_MODULE_MAX`, or a wrong `crc32`; or a module\'s sectors lie past the disk\'s end, or the CRC-32 of a loaded module differs from its entry\'s `crc32`'},
    0xBC: {'name': 'MODULE_NO_RAM', 'meaning': 'no room for a boot module', 'cause': 'a module, at its place above the kernel (`bss_end` rounded up to `MODULE_ALIGN`, at least `MODULE_MIN_ADDR`, then after the module before it), does not lie in one usable E820 range'},
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

# Boot command line: `key=value` words separated by spaces, from QEMU's fw_cfg file `opt/fluidos/cmdline`; absent, every option has its default.
CMDLINE_FWCFG_FILE = b'opt/fluidos/cmdline'  # the fw_cfg file holding the command line (a name under opt/, as QEMU asks of user files)
CMDLINE_FWCFG_FILE_LEN = 19
CMDLINE_MAX_BYTES = 255  # the longest command line; the kernel refuses a longer file
CMDLINE_WORKLOAD_BENCH = 0  # workload=bench
CMDLINE_WORKLOAD_INFER = 1  # workload=infer
CMDLINE_INFER_LOGITS_MAX = 64  # largest infer_logits
CMDLINE_OPTIONS: dict[str, dict[str, Any]] = {
    'workload': {'values': ('bench', 'infer'), 'maximum': None, 'default': 'bench', 'doc': 'what the kernel runs after boot: bench, the benchmarks (FLUID-BENCH lines), or infer, text generation with the boot modules `model`, `tokenizer` and `infer` (FLUID-INFER line)'},
    'infer_logits': {'values': (), 'maximum': 64, 'default': 0, 'doc': 'with workload=infer, a FLUID-LOGITS line for each of the first N positions (the tests compare them with a reference)'},
}

# Serial lines: TAG {json} at column 0; every field a line may hold.
LINES: dict[str, dict[str, Any]] = {
    'FLUID-BOOT': {
        'doc': 'once, after boot, from the kernel',
        'printers': ('kernel',),
        'fields': {
            'drive': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'BIOS boot drive (boot info `boot_drive`)'},
            'disk': {'type': 'string', 'required': True, 'enum': ('CHS', 'LBA'), 'pattern': None, 'by': '', 'doc': 'disk access stage 2 used (boot info `disk_mode`)'},
            'a20': {'type': 'string', 'required': True, 'enum': ('on', 'bios', 'kbc', 'fast', 'unknown'), 'pattern': None, 'by': '', 'doc': 'what opened the A20 gate (boot info `a20_method`; unknown: a value past the table)'},
            'mem_kib': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'usable memory from the E820 map, KiB'},
            'cpu': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'CPU tag of the profile the `tuned` variant was built for (header `cpu_tag`, "AVX2")'},
            'variant': {'type': 'string', 'required': True, 'enum': ('measured', 'generic', 'forced'), 'pattern': None, 'by': '', 'doc': "how the kernel chooses each benchmark's variant: measured (the fastest of the eligible ones, timed at boot), generic (this CPU runs only the generic variant) or forced (a test build's FLUID_TEST_ONLY_VARIANT)"},
            'eligible': {'type': 'array', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the variants built into the image whose features this CPU has (CPUID, and XCR0 for AVX state), in table order ("generic", "sse2", "avx2")'},
            'missing': {'type': 'array', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'feature names some variant built into the image needs and this CPU lacks (those variants are never run)'},
            'kernel_bytes': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'bytes the loader copied'},
            'boot_cycles': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': "TSC cycles from stage 1's first instruction to `kernel_main`"},
            'boot_us': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the same in microseconds'},
            'modules': {'type': 'array', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the boot modules stage 2 loaded (boot info `modules`), in directory order: objects `{"name": its name, "addr": its address as "0x%08x", "bytes": its size, "crc32": its CRC-32 as "0x%08x"}`; empty without modules'},
        },
    },
    'FLUID-BENCH': {
        'doc': 'one per benchmark result, from the kernel and the native runner (`cycles`, `ns`, `work` and the PMU counts are totals over the timed runs)',
        'printers': ('kernel', 'native'),
        'fields': {
            'name': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'benchmark name ("matrix_mul")'},
            'variant': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the variant that ran, a level of the manifest section `variants` ("generic", "sse2", "avx2", "tuned": the exact CPU profile); the native runner builds `generic` and `tuned`'},
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
            'candidates': {'type': 'array', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'every eligible variant the kernel timed, in table order: objects `{"variant": name, "cycles": its fastest run at trial_size}`, with `"dropped": "checksum"` and its `"checksum"` when it disagreed with generic (then never chosen)'},
            'chosen_by': {'type': 'string', 'required': False, 'enum': ('measured', 'only', 'forced'), 'pattern': None, 'by': 'kernel', 'doc': "measured: the fastest agreeing candidate; only: the one variant this CPU runs; forced: a test build's FLUID_TEST_ONLY_VARIANT"},
            'trial_size': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'the problem size the candidates were timed at (at most `size`)'},
            'select_us': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'TSC time the selection took (probe, setups, timed runs), microseconds'},
            'arch': {'type': 'string', 'required': False, 'enum': ('x86_64', 'i386'), 'pattern': None, 'by': 'native', 'doc': "the runner's architecture"},
            'min_ns': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'native', 'doc': 'the fastest single run()'},
            'median_ns': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'native', 'doc': 'the median run() (of the first 2^20 runs)'},
        },
    },
    'FLUID-EXIT': {
        'doc': 'once, just before the kernel ends QEMU',
        'printers': ('kernel',),
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
    'FLUID-JIT': {
        'doc': "the kernel's live re-JIT events (docs/kernel-jit.md), one line each",
        'printers': ('kernel',),
        'fields': {
            'event': {'type': 'string', 'required': True, 'enum': ('hello', 'profile', 'patch', 'swap', 'kept', 'reverted', 'refused', 'declined', 'silent', 'confirmed', 'unconfirmed', 'bye'), 'pattern': None, 'by': '', 'doc': "hello: the link's state at start; profile: a PROFILE sent; patch: a PATCH verified and copied; swap: the slot holds the new code; kept, reverted: the verdict; refused: a PATCH failed a check, nothing changed; declined: the host sent no patch; silent: no answer in time; confirmed, unconfirmed: after its rounds, the code a slot kept against the boot choice, timed afresh (unconfirmed: slower, the boot choice is back); bye: the kernel is done with the link"},
            'function': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'all but hello, bye', 'doc': "the slot's function: `<benchmark>.run`, or `infer.matvec` (the inference engine's matrix-vector product, `workload=infer`)"},
            'variant': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'profile', 'doc': 'the variant the kernel chose at boot, whose function is profiled'},
            'cycles_before': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kept, reverted, confirmed, unconfirmed', 'doc': "the old code's (confirmed, unconfirmed: the boot choice's) call in the median pair: of `JIT_TIMED_CALLS` to `JIT_TIMED_MAX_CALLS` interleaved pairs of timed calls, the one whose new/old ratio is the median; TSC cycles"},
            'cycles_after': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kept, reverted, confirmed, unconfirmed', 'doc': "the new code's call in that pair"},
            'checksum_before': {'type': 'string', 'required': False, 'enum': None, 'pattern': '0x[0-9a-f]{16}', 'by': 'kept, reverted, confirmed, unconfirmed', 'doc': "the benchmark's checksum after the old code's calls"},
            'checksum_after': {'type': 'string', 'required': False, 'enum': None, 'pattern': '0x[0-9a-f]{16}', 'by': 'kept, reverted, confirmed, unconfirmed', 'doc': 'the checksum after as many calls of the new code'},
            'host': {'type': 'boolean', 'required': False, 'enum': None, 'pattern': None, 'by': 'hello', 'doc': 'a link server answered HELLO'},
            'reason': {'type': 'string', 'required': False, 'enum': None, 'pattern': None, 'by': 'hello, refused, reverted, unconfirmed, declined, silent', 'doc': "why (hello without a host: `no UART` or `no answer`; refused and reverted: a `jit_verdict` reason; declined: the host's)"},
            'build_id': {'type': 'string', 'required': False, 'enum': None, 'pattern': '0x[0-9a-f]{8}', 'by': 'hello', 'doc': "the kernel's build id (header `image_crc32`)"},
            'arena': {'type': 'string', 'required': False, 'enum': None, 'pattern': '0x[0-9a-f]{8}', 'by': 'hello', 'doc': "the code arena's address"},
            'arena_bytes': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'hello', 'doc': "the code arena's size"},
            'addr': {'type': 'string', 'required': False, 'enum': None, 'pattern': '0x[0-9a-f]{8}', 'by': 'profile, patch, swap, refused', 'doc': "profile: the function the slot holds; patch, swap, refused: the patch's entry"},
            'bytes': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'patch, refused', 'doc': 'code bytes of the patch'},
            'digest': {'type': 'string', 'required': False, 'enum': None, 'pattern': '0x[0-9a-f]{8}', 'by': 'patch', 'doc': "the code's CRC-32, as checked"},
            'calls': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'profile', 'doc': 'profiled calls'},
            'cycles': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'profile', 'doc': 'TSC cycles of the profiled calls'},
            'size': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'profile', 'doc': "the calls' size argument"},
            'wait_us': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'patch, declined, silent', 'doc': "microseconds the kernel waited for the answer to its PROFILE (the host's compile and the transfer)"},
            'rx_us': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'patch', 'doc': "microseconds the PATCH frame took to arrive, from its header's magic to its last byte"},
            'patches': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'bye', 'doc': 'PATCH frames received'},
            'kept': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'bye', 'doc': 'patches kept'},
            'refused': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'bye', 'doc': 'patches refused'},
            'garbage': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'bye', 'doc': 'bytes the kernel skipped while looking for a frame header'},
        },
    },
    'FLUID-INFER': {
        'doc': 'once per generation of the inference engine (src/infer/, README "Inference"), after its text: from the kernel (`workload=infer`), the native runners and the JIT (`python -m fluidjit infer`)',
        'printers': ('kernel', 'native', 'jit'),
        'fields': {
            'model': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the checkpoint: its path relative to the project (the kernel: from the `infer` module; the native runner: as given)'},
            'tokenizer': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': "the tokenizer's path, likewise"},
            'arch': {'type': 'string', 'required': True, 'enum': ('x86_64', 'i386'), 'pattern': None, 'by': '', 'doc': 'the architecture the engine ran as (the kernel: i386)'},
            'variant': {'type': 'string', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': "the forward pass's variant: the kernel's choice among the levels of the manifest section `variants` (measured at boot), the native runner's `generic` or `tuned`; under the JIT the code of the last forward pass: tuned once tier 2 swapped in the tuned forward pass, generic on tier-0 code"},
            'phase': {'type': 'string', 'required': False, 'enum': ('boot', 'jit'), 'pattern': None, 'by': 'kernel', 'doc': "boot: the generation on the variant chosen at boot; jit: the same generation again after the JIT link's phase (a link server answered on COM2), on the matrix-vector product the link left in the slot (docs/kernel-jit.md)"},
            'prompt_tokens': {'type': 'array', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the encoded prompt, BOS first'},
            'tokens': {'type': 'array', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the generated token ids'},
            'n': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'generated tokens (the length of `tokens`)'},
            'steps': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'tokens asked for'},
            'seed': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': "the sampler's seed"},
            'forwards': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'forward passes: prompt positions and every generated token but the last'},
            'ns': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'nanoseconds of the forward passes and the sampling (printing the text and the logits not counted)'},
            'tok_per_s': {'type': 'number', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'forward passes per second over `ns` (prompt positions included), three decimals'},
            'dim': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': "the checkpoint's dim"},
            'n_layers': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'its layers'},
            'vocab_size': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'its vocabulary'},
            'seq_len': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'its longest sequence'},
            'arena_bytes': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': "the engine's arena (`infer_mem_bytes`)"},
            'cpu_ns': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'native, jit', 'doc': "the thread's CPU time of the same work (on a shared machine `ns` also counts other processes' time)"},
            'cycles': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'TSC cycles of the same work'},
            'candidates': {'type': 'array', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'every eligible variant the kernel timed, in table order: objects `{"variant": name, "cycles": its fastest run of trial_size forward passes}`, with `"dropped": "logits"` when its logits disagreed with those of generic beyond the tolerance (then never chosen)'},
            'chosen_by': {'type': 'string', 'required': False, 'enum': ('measured', 'only'), 'pattern': None, 'by': 'kernel', 'doc': 'measured: the fastest agreeing candidate; only: the one variant this CPU runs'},
            'trial_size': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'forward passes (positions from 0) of one timed candidate run'},
            'select_us': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'kernel', 'doc': 'TSC time the selection took (set-ups, forward passes, comparisons), microseconds'},
            'warmup_forwards': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'jit', 'doc': 'forward passes of the warm-up generations run before this one in the same process (`--warmup`)'},
            'tier2_forwards': {'type': 'integer', 'required': False, 'enum': None, 'pattern': None, 'by': 'jit', 'doc': "forward passes of this generation that ran the forward pass's tier-2 code"},
        },
    },
    'FLUID-LOGITS': {
        'doc': "with the command line's infer_logits=N, one per position of the first N, from the kernel, before FLUID-INFER",
        'printers': ('kernel',),
        'fields': {
            'pos': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the position'},
            'token': {'type': 'integer', 'required': True, 'enum': None, 'pattern': None, 'by': '', 'doc': 'the token fed at it'},
            'bits': {'type': 'string', 'required': True, 'enum': None, 'pattern': '([0-9a-f]{8})+', 'by': '', 'doc': 'the logits, vocab_size float32 values in token order, each its IEEE 754 bits as 8 hex digits (exact)'},
        },
    },
}
