/* Two benchmarks with a code path chosen at compile time, for the JIT's
 * tests of tuned tier-2 code: the module holds this file twice, as the
 * generic variant (x86-64 baseline) and as the tuned one (the host CPU).
 *
 * fx_path: the same arena in both variants; run() records in the arena's
 * first word which path it was compiled with, outside what the checksum
 * reads. fx_layout: the tuned variant's setup() stores its table scaled by
 * its own factor, so its run() cannot take over a generic workload. */
#include "bench.h"

#if defined(__AVX2__)
#define FX_PATH 2u /* compiled for a CPU with AVX2: the tuned variant here */
#else
#define FX_PATH 1u
#endif
#define FX_ROUNDS 4
#define FX_HEADER_WORDS 16u /* the path word, padded to a 64-byte line */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x00000100000001b3ull
#define LCG_MUL 1664525u
#define LCG_ADD 1013904223u

static uint32_t fx_mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    return x;
}

static void fx_fill(uint32_t *w, uint32_t n, uint32_t seed)
{
    uint32_t state = seed;

    for (uint32_t i = 0; i < n; i++) {
        state = state * LCG_MUL + LCG_ADD;
        w[i] = fx_mix(state);
    }
}

static uint64_t fx_hash_words(const uint32_t *w, uint32_t n)
{
    uint64_t h = FNV_OFFSET;

    for (uint32_t i = 0; i < n; i++)
        h = (h ^ w[i]) * FNV_PRIME;
    return h;
}

static size_t fx_path_bytes(uint32_t n)
{
    return (FX_HEADER_WORDS + (size_t)n) * sizeof(uint32_t);
}

static void fx_path_setup(void *arena, uint32_t n, uint32_t seed)
{
    fx_fill((uint32_t *)arena + FX_HEADER_WORDS, n, seed);
}

/* The work, in a call of its own: at tier 0 it is this function, not run(),
 * that goes hot. */
static __attribute__((noinline)) void fx_path_rounds(uint32_t *w, uint32_t n)
{
    for (int r = 0; r < FX_ROUNDS; r++)
        for (uint32_t i = 1; i < n; i++)
            w[i] = fx_mix(w[i] + w[i - 1]);
}

static void fx_path_run(void *arena, uint32_t n)
{
    uint32_t *header = arena;

    header[0] = FX_PATH;
    fx_path_rounds(header + FX_HEADER_WORDS, n);
}

static uint64_t fx_path_checksum(const void *arena, uint32_t n)
{
    return fx_hash_words((const uint32_t *)arena + FX_HEADER_WORDS, n);
}

static uint64_t fx_work(uint32_t n)
{
    return (uint64_t)n * FX_ROUNDS;
}

const struct bench_desc BENCH_SYMBOL(fx_path) = {
    .name = "fx_path",
    .unit = "word",
    .default_size = 4096,
    .mem_bytes = fx_path_bytes,
    .setup = fx_path_setup,
    .run = fx_path_run,
    .checksum = fx_path_checksum,
    .work = fx_work,
};

/* Arena: n data words, then n table words holding i * FX_PATH. */
static size_t fx_layout_bytes(uint32_t n)
{
    return 2 * (size_t)n * sizeof(uint32_t);
}

static void fx_layout_setup(void *arena, uint32_t n, uint32_t seed)
{
    uint32_t *table = (uint32_t *)arena + n;

    fx_fill(arena, n, seed);
    for (uint32_t i = 0; i < n; i++)
        table[i] = i * FX_PATH;
}

static void fx_layout_run(void *arena, uint32_t n)
{
    uint32_t *w = arena;
    const uint32_t *table = w + n;

    for (uint32_t i = 0; i < n; i++)
        w[i] = fx_mix(w[i] + table[i] / FX_PATH);
}

static uint64_t fx_layout_checksum(const void *arena, uint32_t n)
{
    return fx_hash_words(arena, n);
}

const struct bench_desc BENCH_SYMBOL(fx_layout) = {
    .name = "fx_layout",
    .unit = "word",
    .default_size = 4096,
    .mem_bytes = fx_layout_bytes,
    .setup = fx_layout_setup,
    .run = fx_layout_run,
    .checksum = fx_layout_checksum,
    .work = fx_work,
};
