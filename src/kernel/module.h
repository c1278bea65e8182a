/* Boot modules: the named files (a model's weights, its tokenizer) stage 2
 * loaded above the kernel and listed in the boot info
 * (docs/boot-protocol.md "Boot modules"). Each is a struct boot_module
 * (protocol.h): `name` (NUL-terminated, at most MODULE_NAME_LEN - 1
 * characters), `addr` (physical, MODULE_ALIGN-aligned), `bytes` and `crc32`.
 * Their memory is the kernel's to read; the heap never hands it out. */
#ifndef FLUID_MODULE_H
#define FLUID_MODULE_H

#include <stdint.h>

#include "boot_info.h"

/* Takes the boot info's module table; panics on one stage 2 cannot have
 * written (too many entries, a name without its NUL). */
void module_init(const struct boot_info *bi);

uint32_t module_count(void);

/* The i-th module in directory order, or NULL past the last. */
const struct boot_module *module_at(uint32_t i);

/* The module called `name`, or NULL when the image has none. */
const struct boot_module *module_find(const char *name);

/* [*start, *end): the memory every module lies in (start == end without
 * modules), for the heap to keep out. */
void module_span(uintptr_t *start, uintptr_t *end);

/* Panics naming the first module whose bytes no longer have the CRC-32
 * stage 2 checked: nothing may have written to module memory. */
void module_check_intact(void);

#endif
