/* The two structures shared with the loader and the build
 * (docs/boot-protocol.md): the 64-byte FLUD header at the start of the kernel
 * image, stamped by the build, and the boot-info block stage 2 leaves at
 * 0x500. Both, with their constants (FLUD_*, BOOT_INFO_*, BOOT_DISK_*,
 * BOOT_A20_*, E820_TYPE_USABLE), come from protocol.h, generated from
 * src/protocol/protocol.toml: struct flud_header, struct boot_info and
 * struct e820_entry are packed because their layout is fixed byte for byte. */
#ifndef FLUID_BOOT_INFO_H
#define FLUID_BOOT_INFO_H

#include <stdint.h>

#include "protocol.h"

#endif
