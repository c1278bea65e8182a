/* Helpers shared by the benchmark sources: arena layout, the deterministic
 * input generator and the checksum mixer.
 *
 * Everything is static inline so each benchmark object stays self-contained
 * (bench.h: every symbol but the descriptor is static). Only 32-bit
 * arithmetic plus 64-bit add, shift and multiply are used, which i386 does
 * inline: no compiler runtime helper (__udivdi3 ...) is ever needed. */
#ifndef FLUID_BENCH_UTIL_H
#define FLUID_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Arena regions start on a cache line, which is also the widest vector load
 * (AVX-512) the tuned variants issue. */
#define BENCH_ALIGN 64u

static inline size_t bench_align(size_t bytes)
{
    return (bytes + BENCH_ALIGN - 1) & ~(size_t)(BENCH_ALIGN - 1);
}

/* Pointer to the region that starts `offset` bytes into the arena. */
static inline void *bench_at(void *arena, size_t offset)
{
    return (unsigned char *)arena + offset;
}

static inline const void *bench_at_const(const void *arena, size_t offset)
{
    return (const unsigned char *)arena + offset;
}

/* --- deterministic input generator -------------------------------------
 * xoshiro128** (Blackman and Vigna): 128 bits of state in 32-bit words, so
 * the same stream comes out of every target. `stream` separates independent
 * sequences (matrix A vs matrix B) drawn from one seed. */
struct bench_rng {
    uint32_t s[4];
};

static inline uint32_t bench_rotl32(uint32_t x, unsigned k)
{
    return (x << k) | (x >> (32u - k));
}

/* lowbias32 (Chris Wellons): a bijective 32-bit mixer, spreads nearby seeds
 * over the whole state space. */
static inline uint32_t bench_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* Golden-ratio increment: consecutive state words get unrelated values. */
#define BENCH_RNG_STEP 0x9e3779b9u

static inline void bench_rng_init(struct bench_rng *rng, uint32_t seed, uint32_t stream)
{
    uint32_t x = seed ^ bench_mix32(stream + BENCH_RNG_STEP);
    for (int i = 0; i < 4; i++) {
        x += BENCH_RNG_STEP;
        rng->s[i] = bench_mix32(x);
    }
    /* The all-zero state is the one state xoshiro can never leave. */
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
        rng->s[0] = BENCH_RNG_STEP;
}

static inline uint32_t bench_rng_u32(struct bench_rng *rng)
{
    uint32_t *s = rng->s;
    uint32_t result = bench_rotl32(s[1] * 5u, 7) * 9u;
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = bench_rotl32(s[3], 11);
    return result;
}

/* Uniform in [0, bound): the high word of a 32x32 product (Lemire), no
 * division. The tiny bias is irrelevant for benchmark inputs. */
static inline uint32_t bench_rng_below(struct bench_rng *rng, uint32_t bound)
{
    return (uint32_t)(((uint64_t)bench_rng_u32(rng) * bound) >> 32);
}

/* Uniform integer in [lo, hi]. */
static inline int32_t bench_rng_range(struct bench_rng *rng, int32_t lo, int32_t hi)
{
    return lo + (int32_t)bench_rng_below(rng, (uint32_t)(hi - lo) + 1u);
}

/* Uniform float in [0, 1) with 24 random bits: exact in binary32. */
static inline float bench_rng_unit(struct bench_rng *rng)
{
    return (float)(bench_rng_u32(rng) >> 8) * 0x1p-24f;
}

/* --- checksum -----------------------------------------------------------
 * FNV-1a over 32-bit words: order-sensitive, and an integer fold so every
 * target produces the same value for the same integer inputs. */
#define BENCH_HASH_INIT 0xcbf29ce484222325ull
#define BENCH_HASH_PRIME 0x00000100000001b3ull

static inline uint64_t bench_hash_u32(uint64_t hash, uint32_t word)
{
    return (hash ^ word) * BENCH_HASH_PRIME;
}

/* --- exact matrix products (matrix_mul, gemm_tile) ----------------------
 * Entries are multiples of 1/8 in [-1, 1]: every product is a multiple of
 * 1/64 and, for n < 2^18, every partial sum of n of them stays below
 * 2^24 / 64 in magnitude, so all sums are exact in binary32 whatever the
 * summation order, FMA contraction or x87 precision. */
#define BENCH_MATRIX_STEPS 8 /* entries are k / 8, |k| <= 8 */
#define BENCH_MATRIX_GRID 64 /* results are multiples of 1/64 */

static inline void bench_fill_matrix(float *m, size_t count, uint32_t seed, uint32_t stream)
{
    struct bench_rng rng;
    bench_rng_init(&rng, seed, stream);
    for (size_t i = 0; i < count; i++)
        m[i] = (float)bench_rng_range(&rng, -BENCH_MATRIX_STEPS, BENCH_MATRIX_STEPS) /
               BENCH_MATRIX_STEPS;
}

/* The checksum of an exact product: its entries as integers on the grid. */
static inline uint64_t bench_hash_matrix(const float *c, size_t count)
{
    uint64_t hash = BENCH_HASH_INIT;
    for (size_t i = 0; i < count; i++)
        hash = bench_hash_u32(hash, (uint32_t)(int32_t)(c[i] * BENCH_MATRIX_GRID));
    return hash;
}

/* Round to the nearest integer, ties away from zero, for |x| < 2^62. The
 * conversion truncates, which every x86 target does inline. */
static inline int64_t bench_round(double x)
{
    return (int64_t)(x < 0.0 ? x - 0.5 : x + 0.5);
}

#endif
