/* The BIOS E820 memory map, as stage 2 recorded it in the boot info. */
#ifndef FLUID_E820_H
#define FLUID_E820_H

#include <stdint.h>

#include "boot_info.h"

/* Total bytes of the map's usable (type 1) ranges, anywhere in memory. */
uint64_t e820_usable_bytes(const struct boot_info *bi);

/* Gives the heap (mem_add_region) every usable range above 1 MiB and
 * below 4 GiB, minus [reserved_start, reserved_end) (the kernel image and
 * BSS). Panics if nothing is left. */
void e820_init_heap(const struct boot_info *bi, uintptr_t reserved_start,
                    uintptr_t reserved_end);

#endif
