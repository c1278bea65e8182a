/* CRC-32 as IEEE 802.3 and zlib.crc32 define it: what the build stamps on
 * the kernel image and the boot modules (docs/boot-protocol.md) and the live
 * re-JIT's patches carry. */
#ifndef FLUID_CRC32_H
#define FLUID_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32(const void *data, size_t n);

#endif
