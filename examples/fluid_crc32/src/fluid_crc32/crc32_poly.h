/* The CRC-32 of zlib, gzip, PNG and Ethernet (IEEE 802.3): polynomial
 * 0x04C11DB7, processed least significant bit first, so the table is built
 * from its bit-reversed form. Shipped beside crc32.c: fluidbuild tracks it
 * where the package is installed (a change rebuilds the benchmark). */
#ifndef FLUID_CRC32_POLY_H
#define FLUID_CRC32_POLY_H

#define CRC32_POLY_REFLECTED 0xEDB88320u
#define CRC32_INIT 0xFFFFFFFFu  /* the register starts all ones... */
#define CRC32_XOROUT 0xFFFFFFFFu  /* ...and is inverted at the end */
#define CRC32_SLICES 8u           /* message bytes consumed per step */
#define CRC32_TABLE 256u          /* entries per slice table */

#endif
