/* crc32: the CRC-32 of zlib over a `size`-byte message, slicing-by-8
 * (eight 256-entry tables: one step consumes eight message bytes with eight
 * table lookups and no per-bit work), then the bytes left one at a time.
 *
 * A benchmark from a package (fluid-crc32, examples/fluid_crc32): the
 * package ships this file and crc32_poly.h beside it, declares it through
 * fluidbuild's fluidbuild_benchmarks hook with its default size and its
 * host reference (Python's zlib.crc32), and one line in a manifest's
 * `benchmarks:` builds it into the kernel, the native runners and the JIT
 * module like the project's own benchmarks in src/bench (the interface: bench.h).
 *
 * Arena: the message (size bytes), the 4-byte CRC, then the eight tables
 * (8 KiB), which setup() computes: both variants leave the same arena. */
#include "bench.h"
#include "bench_util.h"
#include "crc32_poly.h"

/* The largest message: 1 GiB. The arena (message, CRC and tables) then stays
 * far below 4 GiB, the i386 size_t, and every offset fits 32 bits. */
#define BENCH_MAX_SIZE 1073741824

enum { CRC32_MESSAGE = 1 };

static size_t crc_result_offset(uint32_t size)
{
    return bench_align(size);
}

static size_t crc_tables_offset(uint32_t size)
{
    return crc_result_offset(size) + bench_align(sizeof(uint32_t));
}

static size_t crc_mem_bytes(uint32_t size)
{
    return crc_tables_offset(size) + CRC32_SLICES * CRC32_TABLE * sizeof(uint32_t);
}

/* Table 0 is the classic byte table; table s advances table s-1 by one more
 * zero byte, so t[s][b] is the CRC contribution of byte b seen s bytes early. */
static void crc_make_tables(uint32_t *t)
{
    for (uint32_t b = 0; b < CRC32_TABLE; b++) {
        uint32_t c = b;
        for (int bit = 0; bit < 8; bit++)
            c = (c >> 1) ^ (CRC32_POLY_REFLECTED & (0u - (c & 1u)));
        t[b] = c;
    }
    for (uint32_t s = 1; s < CRC32_SLICES; s++)
        for (uint32_t b = 0; b < CRC32_TABLE; b++) {
            uint32_t prev = t[(s - 1) * CRC32_TABLE + b];
            t[s * CRC32_TABLE + b] = (prev >> 8) ^ t[prev & 0xFFu];
        }
}

static void crc_setup(void *arena, uint32_t size, uint32_t seed)
{
    uint8_t *msg = arena;
    struct bench_rng rng;
    bench_rng_init(&rng, seed, CRC32_MESSAGE);
    for (uint32_t i = 0; i < size; i++)
        msg[i] = (uint8_t)(bench_rng_u32(&rng) >> 24);
    *(uint32_t *)bench_at(arena, crc_result_offset(size)) = 0;
    crc_make_tables(bench_at(arena, crc_tables_offset(size)));
}

static inline uint32_t crc_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void crc_run(void *arena, uint32_t size)
{
    const uint8_t *p = arena;
    const uint32_t *t = bench_at_const(arena, crc_tables_offset(size));
    uint32_t c = CRC32_INIT;
    uint32_t n = size;
    for (; n >= CRC32_SLICES; n -= CRC32_SLICES, p += CRC32_SLICES) {
        uint32_t lo = c ^ crc_load_le32(p);
        uint32_t hi = crc_load_le32(p + 4);
        c = t[7 * CRC32_TABLE + (lo & 0xFFu)] ^ t[6 * CRC32_TABLE + ((lo >> 8) & 0xFFu)] ^
            t[5 * CRC32_TABLE + ((lo >> 16) & 0xFFu)] ^ t[4 * CRC32_TABLE + (lo >> 24)] ^
            t[3 * CRC32_TABLE + (hi & 0xFFu)] ^ t[2 * CRC32_TABLE + ((hi >> 8) & 0xFFu)] ^
            t[1 * CRC32_TABLE + ((hi >> 16) & 0xFFu)] ^ t[hi >> 24];
    }
    for (; n > 0; n--, p++)
        c = (c >> 8) ^ t[(c ^ *p) & 0xFFu];
    *(uint32_t *)bench_at(arena, crc_result_offset(size)) = c ^ CRC32_XOROUT;
}

/* The CRC itself: what zlib.crc32 of the message gives. */
static uint64_t crc_checksum(const void *arena, uint32_t size)
{
    return *(const uint32_t *)bench_at_const(arena, crc_result_offset(size));
}

static uint64_t crc_work(uint32_t size)
{
    return size;
}

static void crc_regions(uint32_t size, struct bench_region *input, struct bench_region *output)
{
    input->offset = 0;
    input->bytes = size;
    output->offset = crc_result_offset(size);
    output->bytes = sizeof(uint32_t);
}

const struct bench_desc BENCH_SYMBOL(crc32) = {
    .name = "crc32",
    .unit = "byte",
    .default_size = 1048576, /* the package's DEFAULT_SIZE: the registry carries that one */
    .mem_bytes = crc_mem_bytes,
    .setup = crc_setup,
    .run = crc_run,
    .checksum = crc_checksum,
    .work = crc_work,
    .regions = crc_regions,
    .max_size = BENCH_MAX_SIZE,
};
