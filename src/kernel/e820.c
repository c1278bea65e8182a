/* Feeding the BIOS memory map (INT 15h EAX=E820h, ACPI "System Address Map
 * Interfaces") to the heap. Only type 1 ranges are RAM the OS may use; the
 * rest is firmware, ACPI tables or device memory. The first MiB is left
 * alone even where usable: it holds the boot info, the loader, the BIOS
 * data area and the EBDA, which is fragmented and tiny anyway. Without
 * paging the kernel reaches only the first 4 GiB. */
#include <stdint.h>

#include "boot_info.h"
#include "e820.h"
#include "exit.h"
#include "mem.h"

#define HEAP_LOW_LIMIT 0x100000ull    /* 1 MiB */
#define HEAP_HIGH_LIMIT 0x100000000ull /* 4 GiB: the 32-bit address space */

static uint32_t entry_count(const struct boot_info *bi)
{
    return bi->e820_count < BOOT_INFO_E820_MAX ? bi->e820_count : BOOT_INFO_E820_MAX;
}

uint64_t e820_usable_bytes(const struct boot_info *bi)
{
    uint64_t total = 0;
    uint32_t i;

    for (i = 0; i < entry_count(bi); i++) {
        if (bi->e820[i].type == E820_TYPE_USABLE)
            total += bi->e820[i].length;
    }
    return total;
}

/* Adds [start, end) to the heap, clipped to the heap window. */
static void add_clipped(uint64_t start, uint64_t end)
{
    if (start < HEAP_LOW_LIMIT)
        start = HEAP_LOW_LIMIT;
    if (end > HEAP_HIGH_LIMIT)
        end = HEAP_HIGH_LIMIT;
    if (end > start)
        mem_add_region((uintptr_t)start, (size_t)(end - start));
}

/* Adds [start, end) to the heap without the parts `reserved` (sorted, not
 * overlapping) covers: the pieces between them. */
static void add_unreserved(uint64_t start, uint64_t end, const struct mem_range *reserved,
                           unsigned count)
{
    const struct mem_range *r;

    for (r = reserved; r < reserved + count && start < end; r++) {
        if (r->end <= start || r->start >= end || r->start == r->end)
            continue; /* outside what is left, or empty */
        add_clipped(start, r->start);
        start = r->end;
    }
    add_clipped(start, end);
}

void e820_init_heap(const struct boot_info *bi, const struct mem_range *reserved,
                    unsigned count)
{
    struct mem_stats st;
    uint32_t i;

    if (bi->e820_count == 0)
        panic("no E820 memory map in the boot info");
    for (i = 0; i < entry_count(bi); i++) {
        const struct e820_entry *e = &bi->e820[i];
        uint64_t start = e->base;
        uint64_t end = e->base + e->length;

        if (e->type != E820_TYPE_USABLE || end <= start)
            continue;
        add_unreserved(start, end, reserved, count);
    }
    mem_get_stats(&st);
    if (st.free_bytes == 0)
        panic("no usable memory above 1 MiB in the E820 map");
}
