/* Float math for the freestanding runtime (kmath.h): exp in float,
 * inline-able for vector loops; log, sin, cos and pow through double
 * precision, rounded once to float at the end.
 *
 * No 64-bit division and no conversion between 64-bit integers and floating
 * point anywhere: on i386 those are libgcc calls the kernel does not have. */
#include "kmath.h"

union kmath_f32 {
    float f;
    uint32_t u;
};

union kmath_f64 {
    double d;
    uint64_t u;
};

#define LN2_HI 6.93147180369123816490e-01 /* ln 2, high 32 bits: n * LN2_HI exact for |n| < 2^21 */
#define LN2_LO 1.90821492927058770002e-10 /* ln 2 - LN2_HI */
#define LOG2E 1.44269504088896338700e+00
#define SQRT2 1.41421356237309504880
#define PIO2 1.57079632679489655800e+00
#define TWO_OVER_PI 6.36619772367581382433e-01
/* pi/2 in three 33-bit parts (fdlibm): k * part is exact for |k| < 2^20. */
#define PIO2_1 1.57079632673412561417e+00
#define PIO2_2 6.07710050630396597660e-11
#define PIO2_3 2.02226624871116645580e-21
#define CODY_WAITE_LIMIT 1048576.0f /* 2^20: above, Payne-Hanek */
#define EXP_D_MAX 89.0              /* exp(89) overflows float */
#define EXP_D_MIN -104.0            /* exp(-104) rounds to float 0 */

static float nan_f(void)
{
    union kmath_f32 v;
    v.u = 0x7fc00000u;
    return v.f;
}

static int sign_bit(float x)
{
    union kmath_f32 v = {x};
    return (int)(v.u >> 31);
}

float kexpf(float x)
{
    return kexpf_inline(x);
}

float ksqrtf(float x)
{
    return ksqrtf_inline(x);
}

/* Round a double of magnitude below 2^30 to the nearest int (ties away). */
static int32_t round_i32(double x)
{
    return (int32_t)(x >= 0.0 ? x + 0.5 : x - 0.5);
}

/* ln x for a finite x > 0 (subnormals included), to about 1e-16 relative. */
static double log_d(double x)
{
    union kmath_f64 v = {x};
    int32_t e = (int32_t)(v.u >> 52) & 0x7ff;
    if (e == 0) { /* subnormal: scale into the normal range first */
        v.d = x * 18014398509481984.0; /* 2^54 */
        e = ((int32_t)(v.u >> 52) & 0x7ff) - 54;
    }
    e -= 1023;
    v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* m in [1, 2) */
    double m = v.d;
    if (m > SQRT2) {
        m *= 0.5;
        e += 1;
    }
    /* ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716: the odd
     * series to s^21 (next term below 1e-18 relative). */
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = 1.0 / 21.0;
    p = p * s2 + 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    double fe = (double)e;
    return fe * LN2_HI + (fe * LN2_LO + 2.0 * s * p);
}

/* e^t rounded to float, for any t (NaN excepted). */
static float exp_d(double t)
{
    if (t > EXP_D_MAX)
        return 1e30f * 1e30f; /* +inf */
    if (t < EXP_D_MIN)
        return 0.0f;
    int32_t k = round_i32(t * LOG2E);
    double fk = (double)k;
    double r = (t - fk * LN2_HI) - fk * LN2_LO; /* |r| <= 0.347 */
    /* Taylor to degree 12 (remainder below 4e-16 relative). */
    double p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    union kmath_f64 scale;
    scale.u = (uint64_t)(uint32_t)(k + 1023) << 52; /* 2^k, k in [-151, 129]: normal */
    return (float)(p * scale.d);
}

float klogf(float x)
{
    if (x != x)
        return x;
    if (x < 0.0f)
        return nan_f();
    if (x == 0.0f)
        return -1.0f / (x * x); /* -inf */
    if (x > 3.40282347e38f)
        return x; /* +inf */
    return (float)log_d((double)x);
}

/* --- sin and cos -------------------------------------------------------- */

/* 2/pi in binary, most significant bit first (2/pi = 0.101000101111...). */
static const uint32_t two_over_pi_bits[] = {
    0xA2F9836Eu, 0x4E441529u, 0xFC2757D1u, 0xF534DDC0u, 0xDB629599u,
    0x3C439041u, 0xFE5163ABu, 0xDEBBC561u, 0xB7246E3Au,
};

/* Bits b_pos .. b_pos+31 of 2/pi = sum b_i 2^-i (i >= 1), b_pos the most
 * significant; bits of index <= 0 are zero (pos >= -31). */
static uint32_t two_over_pi_word(int32_t pos)
{
    int32_t first = pos - 1; /* zero-based index of b_pos in the table */
    if (first < 0)
        return two_over_pi_bits[0] >> (uint32_t)(-first);
    uint32_t w = (uint32_t)first / 32u, s = (uint32_t)first % 32u;
    uint64_t two = ((uint64_t)two_over_pi_bits[w] << 32) | two_over_pi_bits[w + 1];
    return (uint32_t)(two >> (32u - s));
}

static double u64_to_double(uint64_t v)
{
    return (double)(uint32_t)(v >> 32) * 4294967296.0 + (double)(uint32_t)v;
}

/* x - q pi/2 for a finite float x >= 2^20 (Payne-Hanek): x = m 2^e with a
 * 24-bit integer m, so x 2/pi mod 4 only needs the 96 bits of 2/pi from
 * b_(e-1) on (the earlier ones add multiples of 4, the later ones less than
 * 2^-70). Returns r in [-pi/4, pi/4] and the quadrant q mod 4. */
static double reduce_large(float x, uint32_t *q)
{
    union kmath_f32 v = {x};
    int32_t e = (int32_t)((v.u >> 23) & 0xff) - 127 - 23;
    uint32_t m = (v.u & 0x7fffffu) | 0x800000u;
    int32_t start = e - 1;
    uint32_t w2 = two_over_pi_word(start), w1 = two_over_pi_word(start + 32),
             w0 = two_over_pi_word(start + 64);
    /* P = m * W mod 2^96, W = w2:w1:w0; x 2/pi mod 4 = P / 2^94. */
    uint64_t p0 = (uint64_t)m * w0;
    uint64_t p1 = (uint64_t)m * w1 + (p0 >> 32);
    uint64_t p2 = (uint64_t)m * w2 + (p1 >> 32);
    uint32_t hi = (uint32_t)p2, mid = (uint32_t)p1, lo = (uint32_t)p0;
    uint32_t quadrant = hi >> 30;
    /* The 94 fraction bits: the top 64 in f, the last 30 in tail. */
    uint64_t f = ((uint64_t)(hi & 0x3fffffffu) << 34) | ((uint64_t)mid << 2) | (lo >> 30);
    uint32_t tail = lo & 0x3fffffffu;
    double frac;
    if (f >> 63) { /* fraction >= 1/2: the next quadrant, r negative */
        quadrant += 1;
        frac = -(u64_to_double(~f) * 5.42101086242752217004e-20 /* 2^-64 */
                 + (double)(0x40000000u - tail) * 5.04870979341447555636e-29 /* 2^-94 */);
    } else {
        frac = u64_to_double(f) * 5.42101086242752217004e-20 + (double)tail * 5.04870979341447555636e-29;
    }
    *q = quadrant & 3u;
    return frac * PIO2;
}

/* x - q pi/2 with |result| <= pi/4 (plus rounding), for finite x. */
static double reduce(float x, uint32_t *q)
{
    float ax = x < 0.0f ? -x : x;
    if (ax >= CODY_WAITE_LIMIT) {
        double r = reduce_large(ax, q);
        if (x < 0.0f) { /* reduce(-x) = -(reduce(x)), quadrant -q */
            r = -r;
            *q = (4u - *q) & 3u;
        }
        return r;
    }
    double xd = (double)x;
    int32_t k = round_i32(xd * TWO_OVER_PI);
    double fk = (double)k;
    *q = (uint32_t)k & 3u;
    return ((xd - fk * PIO2_1) - fk * PIO2_2) - fk * PIO2_3;
}

/* sin r and cos r for |r| <= pi/4 + tiny: Taylor series (remainders below
 * 1e-16). */
static double sin_poly(double r)
{
    double r2 = r * r;
    double p = -1.0 / 1307674368000.0;
    p = p * r2 + 1.0 / 6227020800.0;
    p = p * r2 - 1.0 / 39916800.0;
    p = p * r2 + 1.0 / 362880.0;
    p = p * r2 - 1.0 / 5040.0;
    p = p * r2 + 1.0 / 120.0;
    p = p * r2 - 1.0 / 6.0;
    return r + r * r2 * p;
}

static double cos_poly(double r)
{
    double r2 = r * r;
    double p = 1.0 / 20922789888000.0;
    p = p * r2 - 1.0 / 87178291200.0;
    p = p * r2 + 1.0 / 479001600.0;
    p = p * r2 - 1.0 / 3628800.0;
    p = p * r2 + 1.0 / 40320.0;
    p = p * r2 - 1.0 / 720.0;
    p = p * r2 + 1.0 / 24.0;
    p = p * r2 - 0.5;
    return 1.0 + r2 * p;
}

/* sin (want_cos 0) or cos (1) of x. */
static float sincos_f(float x, uint32_t want_cos)
{
    if (x != x)
        return x;
    if (x - x != 0.0f)
        return nan_f(); /* inf */
    uint32_t q;
    double r = reduce(x, &q);
    q = (q + want_cos) & 3u; /* cos x = sin(x + pi/2) */
    double v = (q & 1u) ? cos_poly(r) : sin_poly(r);
    return (float)((q & 2u) ? -v : v);
}

float ksinf(float x)
{
    if (x == 0.0f)
        return x; /* keeps the sign of -0 */
    return sincos_f(x, 0);
}

float kcosf(float x)
{
    return sincos_f(x, 1);
}

/* --- pow ---------------------------------------------------------------- */

/* y's kind: 0 not an integer, 1 odd integer, 2 even integer (y finite). */
static int integer_kind(float y)
{
    float ay = y < 0.0f ? -y : y;
    if (ay >= 16777216.0f) /* 2^24: every float is an even integer */
        return 2;
    int32_t i = (int32_t)ay;
    if ((float)i != ay)
        return 0;
    return (i & 1) ? 1 : 2;
}

float kpowf(float x, float y)
{
    const float inf = 1e30f * 1e30f;
    if (y == 0.0f || x == 1.0f)
        return 1.0f;
    if (x != x || y != y)
        return x + y; /* NaN */
    float ax = x < 0.0f ? -x : x;
    float ay = y < 0.0f ? -y : y;
    if (ay == inf) {
        if (ax == 1.0f)
            return 1.0f; /* (-1)^inf */
        return (ax > 1.0f) == (y > 0.0f) ? inf : 0.0f;
    }
    int kind = integer_kind(y);
    /* negative x (-0 included) to an odd integer power keeps its sign */
    float sign = (sign_bit(x) && kind == 1) ? -1.0f : 1.0f;
    if (x == 0.0f)
        return y > 0.0f ? sign * 0.0f : sign * inf;
    if (x < 0.0f && kind == 0)
        return nan_f();
    if (ax == inf)
        return sign * (y > 0.0f ? inf : 0.0f);
    return sign * exp_d((double)y * log_d((double)ax));
}
