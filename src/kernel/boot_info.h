/* The two structures shared with the loader and the build
 * (docs/boot-protocol.md): the 64-byte FLUD header at the start of the kernel
 * image, stamped by the build, and the boot-info block stage 2 leaves at
 * 0x500. Both are packed because their layout is fixed byte for byte. */
#ifndef FLUID_BOOT_INFO_H
#define FLUID_BOOT_INFO_H

#include <stdint.h>

#define FLUD_HEADER_VERSION 1
#define FLUD_HEADER_SIZE 64
#define FLUD_CPU_TAG_LEN 16

struct flud_header {
    char magic[4];         /* "FLUD" */
    uint16_t version;      /* FLUD_HEADER_VERSION */
    uint16_t header_size;  /* FLUD_HEADER_SIZE */
    uint32_t load_addr;    /* where the image's first byte sits */
    uint32_t entry;        /* _start */
    uint32_t kernel_bytes; /* image size, header included */
    uint32_t kernel_sectors;
    uint32_t body_crc32;
    uint32_t cpu_features; /* CPU_FEAT_* bits the tuned code needs */
    char cpu_tag[FLUD_CPU_TAG_LEN]; /* "AVX2", "generic", NUL padded */
    uint32_t bss_end;      /* physical end of BSS */
    uint8_t reserved[12];
} __attribute__((packed));

_Static_assert(sizeof(struct flud_header) == FLUD_HEADER_SIZE,
               "FLUD header is 64 bytes");

#define BOOT_INFO_MAGIC 0x31494246u /* "FBI1" little-endian */
#define BOOT_INFO_E820_MAX 32

/* boot_info.disk_mode */
#define BOOT_DISK_CHS 0
#define BOOT_DISK_LBA 1

/* boot_info.a20_method */
#define BOOT_A20_ALREADY_ON 0
#define BOOT_A20_BIOS 1
#define BOOT_A20_KBC 2
#define BOOT_A20_FAST 3

/* E820 address range types (ACPI spec, "System Address Map Interfaces"). */
#define E820_TYPE_USABLE 1

struct e820_entry {
    uint64_t base;
    uint64_t length;
    uint32_t type;
    uint32_t acpi_attrs;
} __attribute__((packed));

_Static_assert(sizeof(struct e820_entry) == 24, "E820 entry is 24 bytes");

struct boot_info {
    uint32_t magic;        /* BOOT_INFO_MAGIC */
    uint8_t boot_drive;    /* BIOS DL: 0x00 floppy, 0x80 first disk */
    uint8_t disk_mode;     /* BOOT_DISK_* */
    uint8_t a20_method;    /* BOOT_A20_* */
    uint8_t reserved;
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors_per_track;
    uint32_t kernel_load;
    uint32_t kernel_bytes;
    uint32_t disk_sectors;
    uint64_t tsc_stage1;   /* RDTSC at stage 1's first instruction */
    uint64_t tsc_handoff;  /* RDTSC just before the jump to the kernel */
    uint32_t e820_count;
    uint32_t reserved2;
    struct e820_entry e820[BOOT_INFO_E820_MAX];
} __attribute__((packed));

_Static_assert(sizeof(struct boot_info) == 48 + BOOT_INFO_E820_MAX * 24,
               "boot info ends at 0x500 + 0x330");

#endif
