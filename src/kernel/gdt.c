/* Segmentation setup (Intel SDM Vol. 3A, 3.4.5 "Segment Descriptors").
 * Stage 2 already runs on a flat GDT, but that table lives in the loader's
 * memory, which the kernel does not own: GDTR would point into memory that
 * may be overwritten (with a low load address the kernel image itself
 * covers stage 2). The CPU re-reads descriptors on every segment load,
 * including the CS load of each exception, so the kernel needs a table of
 * its own before it installs the IDT. */
#include <stdint.h>

#include "gdt.h"

/* Access byte. */
#define SEG_PRESENT 0x80    /* P: the descriptor is valid */
#define SEG_DPL_RING0 0x00  /* privilege level 0 */
#define SEG_CODE_DATA 0x10  /* S: code/data, not a system descriptor */
#define SEG_EXECUTABLE 0x08 /* type: code segment */
#define SEG_READ_WRITE 0x02 /* type: readable code / writable data */

/* Flags nibble. */
#define SEG_GRANULARITY_4K 0x8 /* G: limit counts 4 KiB pages */
#define SEG_SIZE_32 0x4        /* D/B: 32-bit default operand size */

#define SEG_LIMIT_4G 0xFFFFF /* 2^20 pages of 4 KiB */

struct gdt_descriptor {
    uint16_t limit_low;
    uint16_t base_low;
    uint8_t base_mid;
    uint8_t access;
    uint8_t limit_high_flags; /* limit bits 16-19 | flags << 4 */
    uint8_t base_high;
} __attribute__((packed));

struct gdt_register {
    uint16_t limit; /* size of the table in bytes, minus one */
    uint32_t base;
} __attribute__((packed));

#define FLAT_SEGMENT(access_bits)                                        \
    {                                                                     \
        .limit_low = SEG_LIMIT_4G & 0xFFFF,                               \
        .access = SEG_PRESENT | SEG_DPL_RING0 | SEG_CODE_DATA | (access_bits), \
        .limit_high_flags = (SEG_LIMIT_4G >> 16) |                        \
                            ((SEG_GRANULARITY_4K | SEG_SIZE_32) << 4),    \
    }

/* Index 0 must be the null descriptor: loading selector 0 is how a segment
 * register is marked unusable. */
static const struct gdt_descriptor gdt[] __attribute__((aligned(8))) = {
    { 0 },
    FLAT_SEGMENT(SEG_EXECUTABLE | SEG_READ_WRITE), /* GDT_KERNEL_CODE */
    FLAT_SEGMENT(SEG_READ_WRITE),                  /* GDT_KERNEL_DATA */
};

void gdt_init(void)
{
    struct gdt_register gdtr = {
        .limit = sizeof(gdt) - 1,
        .base = (uint32_t)(uintptr_t)gdt,
    };

    __asm__ volatile("lgdt %0" : : "m"(gdtr));

    /* LGDT alone changes nothing in use: segment registers cache their
     * descriptors. Reload the data registers, and CS with a far jump. */
    __asm__ volatile("movw %w0, %%ds\n\t"
                     "movw %w0, %%es\n\t"
                     "movw %w0, %%fs\n\t"
                     "movw %w0, %%gs\n\t"
                     "movw %w0, %%ss\n\t"
                     "ljmp %1, $1f\n"
                     "1:"
                     :
                     : "r"(GDT_KERNEL_DATA), "i"(GDT_KERNEL_CODE)
                     : "memory");
}
