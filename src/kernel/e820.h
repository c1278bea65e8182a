/* The BIOS E820 memory map, as stage 2 recorded it in the boot info. */
#ifndef FLUID_E820_H
#define FLUID_E820_H

#include <stdint.h>

#include "boot_info.h"

/* Total bytes of the map's usable (type 1) ranges, anywhere in memory. */
uint64_t e820_usable_bytes(const struct boot_info *bi);

/* Memory the heap must not hand out: [start, end). */
struct mem_range {
    uintptr_t start;
    uintptr_t end;
};

/* Gives the heap (mem_add_region) every usable range above 1 MiB and
 * below 4 GiB, minus the `count` ranges of `reserved` (the kernel image and
 * BSS, the boot modules), which are sorted by address and do not overlap.
 * Panics if nothing is left. */
void e820_init_heap(const struct boot_info *bi, const struct mem_range *reserved,
                    unsigned count);

#endif
