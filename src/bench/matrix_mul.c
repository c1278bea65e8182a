/* matrix_mul: dense single-precision C = A * B for n x n row-major matrices.
 *
 * The textbook i-k-j loop nest, left for the compiler to vectorize along j:
 * the benchmark measures what the target's SIMD width and FMA give plain C
 * (gemm_tile is the hand-blocked one). Four rows of C are updated per pass
 * over B so each loaded B vector feeds four multiply-adds.
 *
 * Inputs come from bench_fill_matrix, which makes every result exact: the
 * checksum (bench_hash_matrix) is the same on every target.
 *
 * Arena: A, B, C, each n*n floats on a 64-byte boundary. */
#include "bench.h"
#include "bench_util.h"

#define MM_ROWS 4 /* rows of C per pass over B */

/* The largest n: the arena, three n x n float matrices, is 3 GiB at 16384
 * and passes 4 GiB, the i386 size_t, from n = 18919 on. */
#define BENCH_MAX_SIZE 16384

enum { MM_STREAM_A = 1, MM_STREAM_B = 2 };

static size_t mm_matrix_bytes(uint32_t n)
{
    return bench_align((size_t)n * n * sizeof(float));
}

static size_t mm_mem_bytes(uint32_t n)
{
    return 3 * mm_matrix_bytes(n);
}

static float *mm_matrix(void *arena, uint32_t n, int which)
{
    return bench_at(arena, (size_t)which * mm_matrix_bytes(n));
}

static void mm_setup(void *arena, uint32_t n, uint32_t seed)
{
    bench_fill_matrix(mm_matrix(arena, n, 0), (size_t)n * n, seed, MM_STREAM_A);
    bench_fill_matrix(mm_matrix(arena, n, 1), (size_t)n * n, seed, MM_STREAM_B);
}

/* c_r[j] += a_r * b[j] for four rows r. restrict lets the vectorizer treat
 * the rows and B as disjoint without runtime overlap checks. */
static void mm_axpy4(float *restrict c0, float *restrict c1, float *restrict c2,
                     float *restrict c3, const float *restrict b, float a0, float a1,
                     float a2, float a3, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++) {
        float bj = b[j];
        c0[j] += a0 * bj;
        c1[j] += a1 * bj;
        c2[j] += a2 * bj;
        c3[j] += a3 * bj;
    }
}

static void mm_axpy1(float *restrict c, const float *restrict b, float a, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++)
        c[j] += a * b[j];
}

static void mm_run(void *arena, uint32_t n)
{
    const float *a = mm_matrix(arena, n, 0);
    const float *b = mm_matrix(arena, n, 1);
    float *c = mm_matrix(arena, n, 2);
    for (size_t j = 0; j < (size_t)n * n; j++) /* vectorized, unlike klib's memset */
        c[j] = 0.0f;
    uint32_t i = 0;
    for (; i + MM_ROWS <= n; i += MM_ROWS) {
        const float *ai = a + (size_t)i * n;
        float *ci = c + (size_t)i * n;
        for (uint32_t k = 0; k < n; k++)
            mm_axpy4(ci, ci + n, ci + 2 * (size_t)n, ci + 3 * (size_t)n, b + (size_t)k * n,
                     ai[k], ai[n + k], ai[2 * (size_t)n + k], ai[3 * (size_t)n + k], n);
    }
    for (; i < n; i++)
        for (uint32_t k = 0; k < n; k++)
            mm_axpy1(c + (size_t)i * n, b + (size_t)k * n, a[(size_t)i * n + k], n);
}

static uint64_t mm_checksum(const void *arena, uint32_t n)
{
    return bench_hash_matrix(bench_at_const(arena, 2 * mm_matrix_bytes(n)), (size_t)n * n);
}

static uint64_t mm_work(uint32_t n)
{
    return 2ull * n * n * n; /* one multiply and one add per (i, j, k) */
}

static void mm_regions(uint32_t n, struct bench_region *input, struct bench_region *output)
{
    /* Input: A then B (B starts at mm_matrix_bytes(n)); output: C. */
    input->offset = 0;
    input->bytes = 2 * mm_matrix_bytes(n);
    output->offset = 2 * mm_matrix_bytes(n);
    output->bytes = (size_t)n * n * sizeof(float);
}

const struct bench_desc BENCH_SYMBOL(matrix_mul) = {
    .name = "matrix_mul",
    .unit = "flop",
    .default_size = 512,
    .mem_bytes = mm_mem_bytes,
    .setup = mm_setup,
    .run = mm_run,
    .checksum = mm_checksum,
    .work = mm_work,
    .regions = mm_regions,
    .max_size = BENCH_MAX_SIZE,
};
