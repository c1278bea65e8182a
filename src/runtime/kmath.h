/* Float math the freestanding runtime otherwise lacks: exp, log, sqrt,
 * sin, cos and pow on single precision, for the inference engine
 * (src/infer/) and anything else in the kernel, the native runners or the
 * JIT module that needs them.
 *
 * Like the rest of src/runtime/, portable C: no inline assembly, no libm, no
 * builtin the compiler would turn into a libm call (the square root is the
 * llvm.sqrt intrinsic: sqrtss, or fsqrt on x87). It builds for i686 without
 * SSE (x87, where intermediate results carry extra precision) as for x86-64.
 *
 * Accuracy (measured by tests/test_infer.py against numpy's float64 results
 * rounded to float, on the x86-64 and the x87 i386 builds), in units in the
 * last place of the float result:
 *   kexpf   <= 2 ulp where the result is normal (|x| <= 87.3); subnormal
 *           results to within one subnormal step; +inf from 88.73, 0 below
 *           -103.98; NaN stays NaN.
 *   klogf   <= 1 ulp for x > 0 (subnormals included); -inf at 0, NaN below.
 *   ksqrtf  correctly rounded (the hardware's square root).
 *   ksinf, kcosf  <= 1 ulp for every finite x (full argument reduction:
 *           Cody-Waite below 2^20, Payne-Hanek above); NaN for inf or NaN.
 *   kpowf   <= 1 ulp for x > 0 with a finite result; the IEEE special
 *           cases for zero, negative, infinite and NaN operands.
 * The functions computed in double internally (log, sin, cos, pow) round
 * once to float at the end. */
#ifndef FLUID_KMATH_H
#define FLUID_KMATH_H

#include <stdint.h>

float kexpf(float x);
float klogf(float x);
float ksqrtf(float x);
float ksinf(float x);
float kcosf(float x);
float kpowf(float x, float y);

/* kexpf's code, inline, for hot loops (softmax, SiLU): branch-free, so a
 * loop applying it vectorises on targets with SIMD. kexpf is this function. */
static inline float kexpf_inline(float x)
{
    union {
        uint32_t u;
        float f;
    } s1, s2;
    /* Below -104 the result rounds to 0, above 89 to +inf; NaN passes both. */
    x = x < -104.0f ? -104.0f : x;
    x = x > 89.0f ? 89.0f : x;
    float t = x * 1.44269504088896341f; /* x / ln 2 */
    t = t == t ? t : 0.0f;              /* NaN: any n will do, r stays NaN */
    /* n = floor(t + 0.5) (t > -151 here, so the sum is positive and the
     * conversion truncates it down); |x - n ln2| <= ln2 / 2 (+ rounding). */
    int32_t n = (int32_t)(t + 256.5f) - 256;
    float fn = (float)n;
    float r = x - fn * 0.693145751953125f; /* ln2's high 15 bits: exact for |n| < 512 */
    r = r - fn * 1.42860682030941723212e-6f; /* ln2 - the above */
    /* exp(r), |r| <= 0.347: Taylor to degree 7 (remainder < 6e-9 relative). */
    float p = 1.98412698412698413e-4f;
    p = p * r + 1.38888888888888889e-3f;
    p = p * r + 8.33333333333333333e-3f;
    p = p * r + 4.16666666666666667e-2f;
    p = p * r + 1.66666666666666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* times 2^n, n in [-150, 129], as two normal powers of two so that
     * subnormal and overflowing results round once, in the last product. */
    int32_t n1 = n / 2;
    int32_t n2 = n - n1;
    s1.u = (uint32_t)(n1 + 127) << 23;
    s2.u = (uint32_t)(n2 + 127) << 23;
    return p * s1.f * s2.f;
}

/* The correctly rounded square root (llvm.sqrt: no errno, no libm call). */
static inline float ksqrtf_inline(float x)
{
    return __builtin_elementwise_sqrt(x);
}

#endif
