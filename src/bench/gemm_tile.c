/* gemm_tile: single-precision C = A * B for n x n row-major matrices, the
 * cache-blocked way high-performance BLAS libraries do it (Goto and van de
 * Geijn, "Anatomy of high-performance matrix multiplication", 2008):
 *
 *   for each KC-deep slice of k:     pack that slice of B into NR-wide panels
 *     for each MC-high block of A:   pack it into MR-high panels
 *       for each NR-wide B panel:    (stays in L1 across the next loop)
 *         for each MR-high A panel:  micro-kernel: an MR x NR tile of C held
 *                                    in registers over the whole KC slice
 *
 * The micro-kernel is written with clang vector extensions sized by the
 * target's widest vector registers; its tile shape, and the block sizes, are
 * chosen at compile time from the ISA (register count, vector width, FMA) and
 * the cache sizes of current x86 cores.
 *
 * Inputs come from bench_fill_matrix as in matrix_mul, so every result is
 * exact and the checksum is the same on every target (and matrix_mul's).
 *
 * Arena: A, B, C (n*n floats each), then the packed A block and B slice. */
#include "bench.h"
#include "bench_util.h"

/* Tile shape: GT_MR rows x GT_NV vectors of GT_VL floats. The accumulators
 * (MR * NV registers) plus the B row (NV) and one broadcast A value must fit
 * in the vector register file: 32 with AVX-512 in 64-bit mode, 16 otherwise
 * in 64-bit mode, 8 in 32-bit mode. AVX-512 folds the A broadcast into the
 * FMA's memory operand, so it needs no register. */
#if defined(__AVX512F__)
#define GT_VL 16
#if defined(__x86_64__)
#define GT_MR 12
#define GT_NV 2
#else
#define GT_MR 3
#define GT_NV 2
#endif
#elif defined(__AVX__)
#define GT_VL 8
#if defined(__x86_64__)
#define GT_MR 6
#define GT_NV 2
#else
#define GT_MR 2
#define GT_NV 2
#endif
#elif defined(__SSE__)
#define GT_VL 4
#if defined(__x86_64__)
#define GT_MR 4
#define GT_NV 2
#else
#define GT_MR 2
#define GT_NV 2
#endif
#else
#define GT_VL 1 /* x87: scalar "vectors" */
#define GT_MR 2
#define GT_NV 2
#endif
#define GT_NR (GT_NV * GT_VL)

/* Block sizes: a KC x NR panel of B (32 KiB at KC 256, NR 32) stays in the
 * 48 KiB L1 data cache while the MC x KC block of A (96-192 KiB) streams from
 * L2; the packed KC-deep slice of B for all n columns is the L2/L3 working
 * set. MC is a multiple of every MR above. */
#define GT_KC 256
#define GT_MC 96

typedef float gt_vec __attribute__((vector_size(GT_VL * sizeof(float))));
typedef float gt_vec_u __attribute__((vector_size(GT_VL * sizeof(float)), aligned(sizeof(float))));

/* The largest n: three n x n float matrices plus the packed blocks take
 * 3.02 GiB at 16384 (any tile shape); 4 GiB, the i386 size_t, is passed
 * before n = 19000. */
#define BENCH_MAX_SIZE 16384

enum { GT_STREAM_A = 1, GT_STREAM_B = 2 };

static uint32_t gt_round_up(uint32_t x, uint32_t m)
{
    return (x + m - 1) / m * m;
}

static size_t gt_matrix_bytes(uint32_t n)
{
    return bench_align((size_t)n * n * sizeof(float));
}

static size_t gt_packed_a_bytes(void)
{
    return bench_align((size_t)GT_MC * GT_KC * sizeof(float));
}

static size_t gt_packed_b_bytes(uint32_t n)
{
    return bench_align((size_t)GT_KC * gt_round_up(n, GT_NR) * sizeof(float));
}

static size_t gt_mem_bytes(uint32_t n)
{
    return 3 * gt_matrix_bytes(n) + gt_packed_a_bytes() + gt_packed_b_bytes(n);
}

struct gt_arena {
    const float *a, *b;
    float *c, *pack_a, *pack_b;
};

static struct gt_arena gt_layout(void *arena, uint32_t n)
{
    size_t m = gt_matrix_bytes(n);
    struct gt_arena l;
    l.a = bench_at(arena, 0);
    l.b = bench_at(arena, m);
    l.c = bench_at(arena, 2 * m);
    l.pack_a = bench_at(arena, 3 * m);
    l.pack_b = bench_at(arena, 3 * m + gt_packed_a_bytes());
    return l;
}

static void gt_setup(void *arena, uint32_t n, uint32_t seed)
{
    bench_fill_matrix(bench_at(arena, 0), (size_t)n * n, seed, GT_STREAM_A);
    bench_fill_matrix(bench_at(arena, gt_matrix_bytes(n)), (size_t)n * n, seed, GT_STREAM_B);
}

/* B[k0 .. k0+kc) x all n columns -> panels of NR columns; within a panel row
 * k holds NR consecutive floats. Columns past n are zero. */
static void gt_pack_b(float *restrict dst, const float *restrict b, uint32_t n, uint32_t k0,
                      uint32_t kc)
{
    for (uint32_t j0 = 0; j0 < n; j0 += GT_NR) {
        uint32_t cols = n - j0 < GT_NR ? n - j0 : GT_NR;
        for (uint32_t k = 0; k < kc; k++) {
            const float *src = b + (size_t)(k0 + k) * n + j0;
            uint32_t j = 0;
            for (; j < cols; j++)
                dst[j] = src[j];
            for (; j < GT_NR; j++)
                dst[j] = 0.0f;
            dst += GT_NR;
        }
    }
}

/* A[i0 .. i0+mc) x [k0 .. k0+kc) -> panels of MR rows; within a panel column
 * k holds MR consecutive floats. Rows past mc are zero. */
static void gt_pack_a(float *restrict dst, const float *restrict a, uint32_t n, uint32_t i0,
                      uint32_t mc, uint32_t k0, uint32_t kc)
{
    for (uint32_t r0 = 0; r0 < mc; r0 += GT_MR) {
        uint32_t rows = mc - r0 < GT_MR ? mc - r0 : GT_MR;
        for (uint32_t k = 0; k < kc; k++) {
            uint32_t r = 0;
            for (; r < rows; r++)
                dst[r] = a[(size_t)(i0 + r0 + r) * n + k0 + k];
            for (; r < GT_MR; r++)
                dst[r] = 0.0f;
            dst += GT_MR;
        }
    }
}

/* The MR x NR tile product of one A panel and one B panel over kc steps of
 * k, in registers: per k, NV vector loads of B, MR broadcasts of A and
 * MR * NV multiply-adds. */
static inline void gt_tile(uint32_t kc, const float *restrict ap, const float *restrict bp,
                           gt_vec acc[GT_MR][GT_NV])
{
    for (int r = 0; r < GT_MR; r++)
        for (int v = 0; v < GT_NV; v++)
            acc[r][v] = (gt_vec){0};
    for (uint32_t k = 0; k < kc; k++) {
        gt_vec b[GT_NV];
        for (int v = 0; v < GT_NV; v++)
            b[v] = ((const gt_vec *)bp)[v];
        for (int r = 0; r < GT_MR; r++)
            for (int v = 0; v < GT_NV; v++)
                acc[r][v] += ap[r] * b[v];
        ap += GT_MR;
        bp += GT_NR;
    }
}

/* C tile (ldc = n) = or += the accumulators. */
static inline void gt_store_full(float *c, uint32_t n, gt_vec acc[GT_MR][GT_NV], int accumulate)
{
    for (int r = 0; r < GT_MR; r++)
        for (int v = 0; v < GT_NV; v++) {
            gt_vec_u *dst = (gt_vec_u *)(c + (size_t)r * n + v * GT_VL);
            *dst = accumulate ? *dst + acc[r][v] : acc[r][v];
        }
}

/* A tile cut by the matrix edge: only rows x cols of it exist in C. */
static void gt_store_edge(float *c, uint32_t n, gt_vec acc[GT_MR][GT_NV], int accumulate,
                          uint32_t rows, uint32_t cols)
{
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t j = 0; j < cols; j++) {
            float value = acc[r][j / GT_VL][j % GT_VL];
            float *dst = c + (size_t)r * n + j;
            *dst = accumulate ? *dst + value : value;
        }
}

static void gt_block(const struct gt_arena *l, uint32_t n, uint32_t i0, uint32_t mc,
                     uint32_t kc, int accumulate)
{
    for (uint32_t j0 = 0; j0 < n; j0 += GT_NR) {
        const float *bp = l->pack_b + (size_t)j0 * kc;
        uint32_t cols = n - j0 < GT_NR ? n - j0 : GT_NR;
        for (uint32_t r0 = 0; r0 < mc; r0 += GT_MR) {
            gt_vec acc[GT_MR][GT_NV];
            uint32_t rows = mc - r0 < GT_MR ? mc - r0 : GT_MR;
            float *c = l->c + (size_t)(i0 + r0) * n + j0;
            gt_tile(kc, l->pack_a + (size_t)r0 * kc, bp, acc);
            if (rows == GT_MR && cols == GT_NR)
                gt_store_full(c, n, acc, accumulate);
            else
                gt_store_edge(c, n, acc, accumulate, rows, cols);
        }
    }
}

static void gt_run(void *arena, uint32_t n)
{
    struct gt_arena l = gt_layout(arena, n);
    for (uint32_t k0 = 0; k0 < n; k0 += GT_KC) {
        uint32_t kc = n - k0 < GT_KC ? n - k0 : GT_KC;
        gt_pack_b(l.pack_b, l.b, n, k0, kc);
        for (uint32_t i0 = 0; i0 < n; i0 += GT_MC) {
            uint32_t mc = n - i0 < GT_MC ? n - i0 : GT_MC;
            gt_pack_a(l.pack_a, l.a, n, i0, mc, k0, kc);
            gt_block(&l, n, i0, mc, kc, k0 != 0);
        }
    }
}

static uint64_t gt_checksum(const void *arena, uint32_t n)
{
    return bench_hash_matrix(bench_at_const(arena, 2 * gt_matrix_bytes(n)), (size_t)n * n);
}

static uint64_t gt_work(uint32_t n)
{
    return 2ull * n * n * n;
}

static void gt_regions(uint32_t n, struct bench_region *input, struct bench_region *output)
{
    /* Input: A then B (B starts at gt_matrix_bytes(n)); output: C. */
    input->offset = 0;
    input->bytes = 2 * gt_matrix_bytes(n);
    output->offset = 2 * gt_matrix_bytes(n);
    output->bytes = (size_t)n * n * sizeof(float);
}

const struct bench_desc BENCH_SYMBOL(gemm_tile) = {
    .name = "gemm_tile",
    .unit = "flop",
    .default_size = 512,
    .mem_bytes = gt_mem_bytes,
    .setup = gt_setup,
    .run = gt_run,
    .checksum = gt_checksum,
    .work = gt_work,
    .regions = gt_regions,
    .max_size = BENCH_MAX_SIZE,
};
