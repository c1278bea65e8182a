/* Two small benchmarks behind the bench.h interface, for the JIT's
 * end-to-end tests: an integer one (results exact on every tier) and a
 * floating-point one whose a*b+c the tier-2 CPU may fuse into FMA. */
#include "bench.h"
#include "klib.h"

#define FX_ROUNDS 8
#define FX_ALIGN 64u
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x00000100000001b3ull
#define LCG_MUL 1664525u
#define LCG_ADD 1013904223u

static size_t fx_align(size_t bytes)
{
    return (bytes + FX_ALIGN - 1) & ~(size_t)(FX_ALIGN - 1);
}

/* A bijective 32-bit mixer (lowbias32). */
static uint32_t fx_mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static uint32_t fx_next(uint32_t *state)
{
    *state = *state * LCG_MUL + LCG_ADD;
    return fx_mix(*state);
}

static uint64_t fx_hash(uint64_t h, uint32_t word)
{
    return (h ^ word) * FNV_PRIME;
}

static size_t fx_words_bytes(uint32_t n)
{
    return fx_align((size_t)n * sizeof(uint32_t));
}

static void fx_words_setup(void *arena, uint32_t n, uint32_t seed)
{
    uint32_t state = seed;
    uint32_t *w = arena;

    for (uint32_t i = 0; i < n; i++)
        w[i] = fx_next(&state);
}

/* Each round mixes every word with its neighbour. */
static void fx_words_run(void *arena, uint32_t n)
{
    uint32_t *w = arena;

    for (int r = 0; r < FX_ROUNDS; r++)
        for (uint32_t i = 1; i < n; i++)
            w[i] = fx_mix(w[i] + w[i - 1]);
}

static uint64_t fx_words_checksum(const void *arena, uint32_t n)
{
    const uint32_t *w = arena;
    uint64_t h = FNV_OFFSET;

    for (uint32_t i = 0; i < n; i++)
        h = fx_hash(h, w[i]);
    return h;
}

static uint64_t fx_words_work(uint32_t n)
{
    return (uint64_t)n * FX_ROUNDS;
}

const struct bench_desc BENCH_SYMBOL(fx_words) = {
    .name = "fx_words",
    .unit = "word",
    .default_size = 4096,
    .mem_bytes = fx_words_bytes,
    .setup = fx_words_setup,
    .run = fx_words_run,
    .checksum = fx_words_checksum,
    .work = fx_words_work,
};

static size_t fx_axpy_bytes(uint32_t n)
{
    return 2 * fx_align((size_t)n * sizeof(double));
}

static void fx_axpy_setup(void *arena, uint32_t n, uint32_t seed)
{
    uint32_t state = seed;
    double *x = arena;
    double *y = x + fx_align((size_t)n * sizeof(double)) / sizeof(double);

    for (uint32_t i = 0; i < n; i++) {
        x[i] = fx_next(&state) / 3e9;
        y[i] = fx_next(&state) / 7e9;
    }
}

/* x * 1.1 + y, rounded once (FMA) or twice. A call of its own, taking and
 * returning doubles, so a CPU profile without SSE cannot compile it. */
static __attribute__((noinline)) double fx_madd(double x, double y)
{
    return x * 1.1 + y;
}

static void fx_axpy_run(void *arena, uint32_t n)
{
    const double *x = arena;
    double *y = (double *)arena + fx_align((size_t)n * sizeof(double)) / sizeof(double);

    for (uint32_t i = 0; i < n; i++)
        y[i] = fx_madd(x[i], y[i]);
}

/* The raw bits of every result: any rounding difference shows. */
static uint64_t fx_axpy_checksum(const void *arena, uint32_t n)
{
    const double *y = (const double *)arena + fx_align((size_t)n * sizeof(double)) / sizeof(double);
    uint64_t h = FNV_OFFSET;

    for (uint32_t i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &y[i], sizeof bits);
        h = fx_hash(fx_hash(h, (uint32_t)bits), (uint32_t)(bits >> 32));
    }
    return h;
}

static uint64_t fx_axpy_work(uint32_t n)
{
    return 2ull * n;
}

const struct bench_desc BENCH_SYMBOL(fx_axpy) = {
    .name = "fx_axpy",
    .unit = "flop",
    .default_size = 4096,
    .mem_bytes = fx_axpy_bytes,
    .setup = fx_axpy_setup,
    .run = fx_axpy_run,
    .checksum = fx_axpy_checksum,
    .work = fx_axpy_work,
};
