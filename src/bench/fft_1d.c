/* fft_1d: forward complex FFT of n = 2^m double-precision points,
 * X[k] = sum_j x[j] exp(-2 pi i jk / n) (numpy's convention), out of place,
 * interleaved complex128 in and out.
 *
 * Algorithm: Stockham autosort (no bit-reversal pass) with radix-4 stages
 * and one radix-2 stage when m is odd. Stage t reads four contiguous
 * quarter-length streams and writes groups of s = 4^t consecutive points;
 * the work is vectorized along those groups with clang vector extensions as
 * wide as the target's vector registers (VL doubles). The first stages,
 * whose groups are narrower than a vector, interleave their outputs with
 * shuffles and read per-lane twiddles from expanded tables. The stages work
 * on split real/imaginary arrays so a complex multiply needs no shuffles;
 * one pass splits the input and one interleaves the result.
 *
 * Twiddle factors come from this file's own sine and cosine (no libm):
 * octant reduction with exact integer arithmetic, then Taylor polynomials on
 * [0, pi/4] accurate to below double rounding.
 *
 * Input and checksum: setup() draws an integer spectrum Y (components in
 * [-1024, 1024]) and stores x = IFFT(Y), so run() must return Y up to
 * rounding noise around 1e-12. The checksum hashes round(X), the integers
 * of Y: the same on every target, whatever its FMA use or x87 precision.
 *
 * Arena: input (n complex), output (n complex), two split work buffers
 * (2n doubles each), then the twiddle tables of every radix-4 stage. The
 * layout and contents do not depend on VL: tables are expanded for the
 * widest variant's lanes (FFT_TW_LANES), and narrower builds read one
 * entry per group from them, so any variant's run() works on an arena that
 * any other variant's setup() prepared. setup() computes the input with
 * scalar stages that are never fused into FMAs, so its bits are the same on
 * every SSE2 or AVX target (x87's extended precision may round them
 * differently), and it clears the work buffers it used. */
#include "bench.h"
#include "bench_util.h"
#include "klib.h"

#if defined(__AVX512F__)
#define FFT_VL 8
#elif defined(__AVX__)
#define FFT_VL 4
#elif defined(__SSE2__)
#define FFT_VL 2
#else
#define FFT_VL 1 /* x87: scalar */
#endif

#if FFT_VL > 1
typedef double fft_vec __attribute__((vector_size(FFT_VL * sizeof(double))));
/* Two and four vectors side by side, for the interleaving stores. */
typedef double fft_vec2 __attribute__((vector_size(2 * FFT_VL * sizeof(double))));
typedef double fft_vec4 __attribute__((vector_size(4 * FFT_VL * sizeof(double))));
#else
typedef double fft_vec;
#endif

/* Lanes the twiddle tables are expanded for: the widest FFT_VL of any
 * build, whatever this build's own width. */
#define FFT_TW_LANES 8
_Static_assert(FFT_VL <= FFT_TW_LANES, "twiddle tables too narrow for FFT_VL");

#define FFT_MIN_POINTS 64u /* the widest variant needs n / 4 >= 2 * VL */
#define FFT_SPECTRUM_RANGE 1024
#define FFT_COMPLEX_BYTES (2 * sizeof(double))
/* 2 pi rounded to double: exact power-of-two scalings keep its 1/2 ulp. */
#define FFT_TWO_PI 6.283185307179586476925286766559
#define FFT_TAYLOR_TERMS 11 /* (pi/4)^23 / 23! < 1e-24 */
/* Doubles per twiddle entry of a wide stage: w, w^2, w^3 as (re, im). */
#define FFT_TW_WIDE 6

/* The largest size: a 2^25-point transform needs a 2.8 GiB arena (input,
 * output, two work buffers and the twiddle tables, about 89 bytes per
 * point); 2^26 points would pass 4 GiB, the i386 size_t. */
#define BENCH_MAX_SIZE 33554432

enum { FFT_STREAM_SPECTRUM = 1 };

struct fft_cvec {
    fft_vec re, im;
};

/* --- sizes and layout ------------------------------------------------ */

/* The transform length for a requested size: the largest power of two not
 * above it, at least FFT_MIN_POINTS. */
static uint32_t fft_points(uint32_t size)
{
    uint32_t n = FFT_MIN_POINTS;
    while (n <= size / 2)
        n *= 2;
    return n;
}

static uint32_t fft_log2(uint32_t n)
{
    uint32_t m = 0;
    while ((1u << m) < n)
        m++;
    return m;
}

/* Radix-4 stage t has stride s = 4^t and n / (4s) distinct twiddles. A
 * stage with s < FFT_TW_LANES stores expanded SoA tables (3 twiddles x
 * re/im x n/4 points), wider ones FFT_TW_WIDE doubles per distinct twiddle. */
static int fft_table_expanded(uint32_t s)
{
    return s < FFT_TW_LANES;
}

static size_t fft_table_doubles(uint32_t n, uint32_t s)
{
    return fft_table_expanded(s) ? (size_t)6 * (n / 4) : (size_t)FFT_TW_WIDE * (n / (4 * s));
}

struct fft_layout {
    double *input, *output, *work[2], *tables;
};

static size_t fft_buffer_bytes(uint32_t n)
{
    return bench_align((size_t)n * FFT_COMPLEX_BYTES);
}

static size_t fft_tables_bytes(uint32_t n)
{
    size_t doubles = 0;
    for (uint32_t s = 1; 4 * s <= n; s *= 4)
        doubles += fft_table_doubles(n, s);
    return bench_align(doubles * sizeof(double));
}

static size_t fft_mem_bytes(uint32_t size)
{
    uint32_t n = fft_points(size);
    return 4 * fft_buffer_bytes(n) + fft_tables_bytes(n);
}

static struct fft_layout fft_layout(void *arena, uint32_t n)
{
    size_t b = fft_buffer_bytes(n);
    struct fft_layout l;
    l.input = bench_at(arena, 0);
    l.output = bench_at(arena, b);
    l.work[0] = bench_at(arena, 2 * b);
    l.work[1] = bench_at(arena, 3 * b);
    l.tables = bench_at(arena, 4 * b);
    return l;
}

/* --- twiddle factors ---------------------------------------------------- */

/* sin and cos of x in [0, pi/4] by their Taylor series (Horner form). */
static double fft_sin_small(double x)
{
    double x2 = x * x, sum = 1.0;
    for (int k = 2 * FFT_TAYLOR_TERMS + 1; k > 1; k -= 2)
        sum = 1.0 - sum * x2 / (double)(k * (k - 1));
    return x * sum;
}

static double fft_cos_small(double x)
{
    double x2 = x * x, sum = 1.0;
    for (int k = 2 * FFT_TAYLOR_TERMS; k > 0; k -= 2)
        sum = 1.0 - sum * x2 / (double)(k * (k - 1));
    return sum;
}

/* exp(-2 pi i t / n) for a power of two n >= 4. Reduction to the first
 * octant is exact because it is done on the integer t. */
static void fft_twiddle(uint32_t t, uint32_t n, double *re, double *im)
{
    uint32_t quarter = n / 4;
    uint32_t quadrant = (t / quarter) & 3u, r = t % quarter;
    double step = FFT_TWO_PI / (double)n;
    double c, s;
    if (2 * r <= quarter) {
        c = fft_cos_small((double)r * step);
        s = fft_sin_small((double)r * step);
    } else {
        c = fft_sin_small((double)(quarter - r) * step);
        s = fft_cos_small((double)(quarter - r) * step);
    }
    /* Rotating by a quarter turn maps (cos, sin) to (-sin, cos). */
    static const signed char rot[4][4] = {{1, 0, 0, 1}, {0, -1, 1, 0}, {-1, 0, 0, -1}, {0, 1, -1, 0}};
    const signed char *m = rot[quadrant];
    double cq = m[0] * c + m[1] * s;
    double sq = m[2] * c + m[3] * s;
    *re = cq;
    *im = -sq; /* forward transform: negative angle */
}

static void fft_build_tables(double *tab, uint32_t n)
{
    for (uint32_t s = 1; 4 * s <= n; s *= 4) {
        uint32_t quarter = n / 4;
        if (fft_table_expanded(s)) {
            /* Expanded: entry i of the point stream uses twiddle p = i / s. */
            for (uint32_t i = 0; i < quarter; i++)
                for (uint32_t k = 1; k <= 3; k++)
                    fft_twiddle(k * (i / s) * s % n, n, &tab[(2 * k - 2) * quarter + i],
                                &tab[(2 * k - 1) * quarter + i]);
        } else {
            for (uint32_t p = 0; p < n / (4 * s); p++)
                for (uint32_t k = 1; k <= 3; k++)
                    fft_twiddle(k * p * s % n, n, &tab[FFT_TW_WIDE * p + 2 * k - 2],
                                &tab[FFT_TW_WIDE * p + 2 * k - 1]);
        }
        tab += fft_table_doubles(n, s);
    }
}

/* --- butterflies -------------------------------------------------------- */

static inline fft_vec fft_splat(double x)
{
    fft_vec v = {0};
    return v + x;
}

static inline struct fft_cvec fft_load(const double *re, const double *im)
{
    struct fft_cvec v = {*(const fft_vec *)re, *(const fft_vec *)im};
    return v;
}

static inline void fft_store(double *re, double *im, struct fft_cvec v)
{
    *(fft_vec *)re = v.re;
    *(fft_vec *)im = v.im;
}

static inline struct fft_cvec fft_cmul(struct fft_cvec a, struct fft_cvec w)
{
    struct fft_cvec r = {a.re * w.re - a.im * w.im, a.re * w.im + a.im * w.re};
    return r;
}

/* Radix-4 decimation-in-frequency butterfly on v[0..3] (inputs a quarter
 * transform apart), twiddles w[0..2] = w, w^2, w^3 applied to outputs 1..3. */
static inline void fft_radix4(struct fft_cvec v[4], const struct fft_cvec w[3])
{
    fft_vec apc_r = v[0].re + v[2].re, apc_i = v[0].im + v[2].im;
    fft_vec amc_r = v[0].re - v[2].re, amc_i = v[0].im - v[2].im;
    fft_vec bpd_r = v[1].re + v[3].re, bpd_i = v[1].im + v[3].im;
    fft_vec bmd_r = v[1].re - v[3].re, bmd_i = v[1].im - v[3].im;
    struct fft_cvec t1 = {amc_r + bmd_i, amc_i - bmd_r}; /* (a-c) - i(b-d) */
    struct fft_cvec t2 = {apc_r - bpd_r, apc_i - bpd_i};
    struct fft_cvec t3 = {amc_r - bmd_i, amc_i + bmd_r}; /* (a-c) + i(b-d) */
    v[0].re = apc_r + bpd_r;
    v[0].im = apc_i + bpd_i;
    v[1] = fft_cmul(t1, w[0]);
    v[2] = fft_cmul(t2, w[1]);
    v[3] = fft_cmul(t3, w[2]);
}

/* Load the four quarter streams at point i of split arrays (re, im). */
static inline void fft_load4(const double *re, const double *im, uint32_t i, uint32_t quarter,
                             struct fft_cvec v[4])
{
    for (int k = 0; k < 4; k++)
        v[k] = fft_load(re + i + k * quarter, im + i + k * quarter);
}

/* --- stages ------------------------------------------------------------- */

/* Stride s >= VL: for twiddle p, points q .. q+VL-1 of the group go to
 * y[q + s(4p + k)], contiguous. Twiddle k of group p is read at
 * tab + p * group_step + 2k * part_step, its imaginary part part_step
 * further: (s, n/4) for an expanded table, whose entry p * s is the
 * group's first lane, and (FFT_TW_WIDE, 1) for a wide one. */
static void fft_stage_wide(const double *xr, const double *xi, double *yr, double *yi,
                           const double *tab, uint32_t n, uint32_t s)
{
    uint32_t quarter = n / 4;
    size_t group_step = fft_table_expanded(s) ? s : FFT_TW_WIDE;
    size_t part_step = fft_table_expanded(s) ? quarter : 1;
    for (uint32_t p = 0; p < quarter / s; p++) {
        const double *t = tab + group_step * p;
        struct fft_cvec w[3];
        for (int k = 0; k < 3; k++) {
            w[k].re = fft_splat(t[2 * k * part_step]);
            w[k].im = fft_splat(t[(2 * k + 1) * part_step]);
        }
        for (uint32_t q = 0; q < s; q += FFT_VL) {
            struct fft_cvec v[4];
            fft_load4(xr, xi, p * s + q, quarter, v);
            fft_radix4(v, w);
            for (uint32_t k = 0; k < 4; k++) {
                size_t o = q + (size_t)s * (4 * p + k);
                fft_store(yr + o, yi + o, v[k]);
            }
        }
    }
}

#if FFT_VL > 1
/* Expanded twiddles of lanes i .. i+VL-1. */
static inline void fft_load_expanded(const double *tab, uint32_t i, uint32_t quarter,
                                     struct fft_cvec w[3])
{
    for (int k = 0; k < 3; k++)
        w[k] = fft_load(tab + (2 * k) * quarter + i, tab + (2 * k + 1) * quarter + i);
}

#define FFT_CAT_(a, b) a##b
#define FFT_CAT(a, b) FFT_CAT_(a, b)
/* Lane-wise interleave of two L-lane vectors: a0 b0 a1 b1 ... */
#define FFT_ZIP2 0, 2, 1, 3
#define FFT_ZIP4 0, 4, 1, 5, 2, 6, 3, 7
#define FFT_ZIP8 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15
#define FFT_ZIP16 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23, \
                  8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#define FFT_ZIP_VL FFT_CAT(FFT_ZIP, FFT_VL)
#define FFT_ZIP_2VL FFT_CAT(FFT_ZIP, FFT_CAT(FFT_TWICE_, FFT_VL))
#define FFT_TWICE_2 4
#define FFT_TWICE_4 8
#define FFT_TWICE_8 16
/* Even and odd lanes of two VL-lane vectors (split interleaved complex). */
#define FFT_EVEN_2 0, 2
#define FFT_ODD_2 1, 3
#define FFT_EVEN_4 0, 2, 4, 6
#define FFT_ODD_4 1, 3, 5, 7
#define FFT_EVEN_8 0, 2, 4, 6, 8, 10, 12, 14
#define FFT_ODD_8 1, 3, 5, 7, 9, 11, 13, 15

/* y[4i + k] = v[k][lane i]: a 4 x VL transpose by two rounds of zips. */
static inline void fft_store_transposed4(double *y, fft_vec v0, fft_vec v1, fft_vec v2,
                                         fft_vec v3)
{
    fft_vec2 p = __builtin_shufflevector(v0, v2, FFT_ZIP_VL);
    fft_vec2 q = __builtin_shufflevector(v1, v3, FFT_ZIP_VL);
    *(fft_vec4 *)y = __builtin_shufflevector(p, q, FFT_ZIP_2VL);
}

/* Stride 1: point i goes to y[4i + k]. */
static void fft_stage_first(const double *xr, const double *xi, double *yr, double *yi,
                            const double *tab, uint32_t n)
{
    uint32_t quarter = n / 4;
    for (uint32_t i = 0; i < quarter; i += FFT_VL) {
        struct fft_cvec v[4], w[3];
        fft_load4(xr, xi, i, quarter, v);
        fft_load_expanded(tab, i, quarter, w);
        fft_radix4(v, w);
        fft_store_transposed4(yr + 4 * i, v[0].re, v[1].re, v[2].re, v[3].re);
        fft_store_transposed4(yi + 4 * i, v[0].im, v[1].im, v[2].im, v[3].im);
    }
}

#if FFT_VL == 8
/* Stride 4 with 8 lanes: lanes 0-3 (group p) go to y[16p + 4k + 0..3],
 * lanes 4-7 (group p+1) to y[16p + 16 + 4k + 0..3]. */
static inline void fft_store_halves(double *y, fft_vec v0, fft_vec v1, fft_vec v2, fft_vec v3)
{
    fft_vec *out = (fft_vec *)y;
    out[0] = __builtin_shufflevector(v0, v1, 0, 1, 2, 3, 8, 9, 10, 11);
    out[1] = __builtin_shufflevector(v2, v3, 0, 1, 2, 3, 8, 9, 10, 11);
    out[2] = __builtin_shufflevector(v0, v1, 4, 5, 6, 7, 12, 13, 14, 15);
    out[3] = __builtin_shufflevector(v2, v3, 4, 5, 6, 7, 12, 13, 14, 15);
}

static void fft_stage_second(const double *xr, const double *xi, double *yr, double *yi,
                             const double *tab, uint32_t n)
{
    uint32_t quarter = n / 4;
    for (uint32_t i = 0; i < quarter; i += FFT_VL) {
        struct fft_cvec v[4], w[3];
        fft_load4(xr, xi, i, quarter, v);
        fft_load_expanded(tab, i, quarter, w);
        fft_radix4(v, w);
        fft_store_halves(yr + 4 * i, v[0].re, v[1].re, v[2].re, v[3].re);
        fft_store_halves(yi + 4 * i, v[0].im, v[1].im, v[2].im, v[3].im);
    }
}
#endif

/* Interleaved (re, im) pairs -> split arrays. */
static void fft_split(const double *x, double *re, double *im, uint32_t n)
{
    for (uint32_t i = 0; i < n; i += FFT_VL) {
        fft_vec lo = *(const fft_vec *)(x + 2 * i);
        fft_vec hi = *(const fft_vec *)(x + 2 * i + FFT_VL);
        *(fft_vec *)(re + i) = __builtin_shufflevector(lo, hi, FFT_CAT(FFT_EVEN_, FFT_VL));
        *(fft_vec *)(im + i) = __builtin_shufflevector(lo, hi, FFT_CAT(FFT_ODD_, FFT_VL));
    }
}

/* Split arrays -> interleaved (re, im) pairs. */
static void fft_join(const double *re, const double *im, double *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i += FFT_VL) {
        fft_vec r = *(const fft_vec *)(re + i), m = *(const fft_vec *)(im + i);
        *(fft_vec2 *)(x + 2 * i) = __builtin_shufflevector(r, m, FFT_ZIP_VL);
    }
}
#else
static void fft_split(const double *x, double *re, double *im, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        re[i] = x[2 * i];
        im[i] = x[2 * i + 1];
    }
}

static void fft_join(const double *re, const double *im, double *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        x[2 * i] = re[i];
        x[2 * i + 1] = im[i];
    }
}
#endif

/* Last stage of an odd log2(n): radix 2, stride n/2, no twiddles. */
static void fft_stage_radix2(const double *xr, const double *xi, double *yr, double *yi,
                             uint32_t n)
{
    uint32_t half = n / 2;
    for (uint32_t q = 0; q < half; q += FFT_VL) {
        struct fft_cvec a = fft_load(xr + q, xi + q);
        struct fft_cvec b = fft_load(xr + q + half, xi + q + half);
        struct fft_cvec sum = {a.re + b.re, a.im + b.im};
        struct fft_cvec diff = {a.re - b.re, a.im - b.im};
        fft_store(yr + q, yi + q, sum);
        fft_store(yr + q + half, yi + q + half, diff);
    }
}

/* The radix-4 stage for setup(): scalar, with contraction off so the
 * compiler never fuses a multiply and an add, whatever the target. IEEE
 * double adds and multiplies then round alike on every SSE2 or AVX target,
 * and setup() leaves the same input bits on each. */
static void fft_stage_exact(const double *xr, const double *xi, double *yr, double *yi,
                            const double *tab, uint32_t n, uint32_t s)
{
#pragma clang fp contract(off)
    uint32_t quarter = n / 4;
    size_t group_step = fft_table_expanded(s) ? s : FFT_TW_WIDE;
    size_t part_step = fft_table_expanded(s) ? quarter : 1;
    for (uint32_t p = 0; p < quarter / s; p++) {
        const double *t = tab + group_step * p;
        for (uint32_t q = 0; q < s; q++) {
            size_t i = (size_t)p * s + q;
            double ar = xr[i], ai = xi[i];
            double br = xr[i + quarter], bi = xi[i + quarter];
            double cr = xr[i + 2 * quarter], ci = xi[i + 2 * quarter];
            double dr = xr[i + 3 * quarter], di = xi[i + 3 * quarter];
            double apc_r = ar + cr, apc_i = ai + ci, amc_r = ar - cr, amc_i = ai - ci;
            double bpd_r = br + dr, bpd_i = bi + di, bmd_r = br - dr, bmd_i = bi - di;
            /* Outputs 1..3 before their twiddles, as in fft_radix4. */
            double tr[3] = {amc_r + bmd_i, apc_r - bpd_r, amc_r - bmd_i};
            double ti[3] = {amc_i - bmd_r, apc_i - bpd_i, amc_i + bmd_r};
            size_t o = q + (size_t)s * 4 * p;
            yr[o] = apc_r + bpd_r;
            yi[o] = apc_i + bpd_i;
            for (uint32_t k = 0; k < 3; k++) {
                double wr = t[2 * k * part_step], wi = t[(2 * k + 1) * part_step];
                o += s;
                yr[o] = tr[k] * wr - ti[k] * wi;
                yi[o] = tr[k] * wi + ti[k] * wr;
            }
        }
    }
}

/* in (interleaved) -> out (interleaved), through the work buffers; with
 * `exact`, by the unfused scalar stages (setup's transform). */
static void fft_transform(const struct fft_layout *l, const double *in, double *out, uint32_t n,
                          int exact)
{
    int cur = 0;
    const double *tab = l->tables;
    fft_split(in, l->work[0], l->work[0] + n, n);
    for (uint32_t s = 1; 4 * s <= n; s *= 4) {
        double *x = l->work[cur], *y = l->work[cur ^ 1];
        if (exact)
            fft_stage_exact(x, x + n, y, y + n, tab, n, s);
#if FFT_VL > 1
        else if (s == 1)
            fft_stage_first(x, x + n, y, y + n, tab, n);
#if FFT_VL == 8
        else if (s == 4)
            fft_stage_second(x, x + n, y, y + n, tab, n);
#endif
        else
#endif
            fft_stage_wide(x, x + n, y, y + n, tab, n, s);
        tab += fft_table_doubles(n, s);
        cur ^= 1;
    }
    if (fft_log2(n) & 1) {
        double *x = l->work[cur], *y = l->work[cur ^ 1];
        fft_stage_radix2(x, x + n, y, y + n, n);
        cur ^= 1;
    }
    fft_join(l->work[cur], l->work[cur] + n, out, n);
}

/* --- the benchmark ------------------------------------------------------ */

static void fft_setup(void *arena, uint32_t size, uint32_t seed)
{
    uint32_t n = fft_points(size);
    struct fft_layout l = fft_layout(arena, n);
    struct bench_rng rng;
    fft_build_tables(l.tables, n);
    /* conj(Y) into the input, then x = conj(FFT(conj(Y))) / n = IFFT(Y). */
    bench_rng_init(&rng, seed, FFT_STREAM_SPECTRUM);
    for (uint32_t i = 0; i < 2 * n; i++) {
        double v = bench_rng_range(&rng, -FFT_SPECTRUM_RANGE, FFT_SPECTRUM_RANGE);
        l.input[i] = (i & 1) ? -v : v;
    }
    fft_transform(&l, l.input, l.output, n, 1);
    double scale = 1.0 / (double)n;
    for (uint32_t i = 0; i < 2 * n; i++)
        l.input[i] = ((i & 1) ? -l.output[i] : l.output[i]) * scale;
    memset(l.output, 0, (size_t)n * FFT_COMPLEX_BYTES);
    /* What the transform left in the work buffers depends on the build. */
    memset(l.work[0], 0, 2 * fft_buffer_bytes(n));
}

static void fft_run(void *arena, uint32_t size)
{
    uint32_t n = fft_points(size);
    struct fft_layout l = fft_layout(arena, n);
    fft_transform(&l, l.input, l.output, n, 0);
}

static uint64_t fft_checksum(const void *arena, uint32_t size)
{
    uint32_t n = fft_points(size);
    const double *out = bench_at_const(arena, fft_buffer_bytes(n));
    uint64_t hash = BENCH_HASH_INIT;
    for (uint32_t i = 0; i < 2 * n; i++)
        hash = bench_hash_u32(hash, (uint32_t)(int32_t)bench_round(out[i]));
    return hash;
}

static uint64_t fft_work(uint32_t size)
{
    return fft_points(size);
}

static void fft_regions(uint32_t size, struct bench_region *input, struct bench_region *output)
{
    uint32_t n = fft_points(size);
    input->offset = 0;
    input->bytes = (size_t)n * FFT_COMPLEX_BYTES;
    output->offset = fft_buffer_bytes(n);
    output->bytes = (size_t)n * FFT_COMPLEX_BYTES;
}

const struct bench_desc BENCH_SYMBOL(fft_1d) = {
    .name = "fft_1d",
    .unit = "point",
    .default_size = 4096,
    .mem_bytes = fft_mem_bytes,
    .setup = fft_setup,
    .run = fft_run,
    .checksum = fft_checksum,
    .work = fft_work,
    .regions = fft_regions,
    .max_size = BENCH_MAX_SIZE,
};
