/* CRC-32 (IEEE 802.3, zlib.crc32): the reflected polynomial, the register
 * preset to all ones, the result inverted. One table lookup per byte
 * instead of eight shift/xor steps, which matters for megabyte-sized boot
 * modules; the 1 KiB table is computed on first use, as stage 2 does
 * (src/boot/crc32.inc). */
#include <stddef.h>
#include <stdint.h>

#include "crc32.h"

#define CRC32_POLY_REFLECTED 0xEDB88320u
#define CRC32_INIT 0xFFFFFFFFu
#define BYTE_VALUES 256
#define BYTE_MASK 0xFFu
#define BITS_PER_BYTE 8

/* table[i]: the CRC register after shifting byte i through it. */
static uint32_t table[BYTE_VALUES];
static int table_ready;

static void build_table(void)
{
    uint32_t i, r;
    int bit;

    for (i = 0; i < BYTE_VALUES; i++) {
        r = i;
        for (bit = 0; bit < BITS_PER_BYTE; bit++)
            r = (r >> 1) ^ (CRC32_POLY_REFLECTED & (0u - (r & 1u)));
        table[i] = r;
    }
    table_ready = 1;
}

uint32_t crc32(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint32_t crc = CRC32_INIT;

    if (!table_ready)
        build_table();
    while (n--)
        crc = (crc >> BITS_PER_BYTE) ^ table[(crc ^ *p++) & BYTE_MASK];
    return ~crc;
}
