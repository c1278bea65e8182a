/* 64-bit division for a 32-bit CPU. i386 has no instruction dividing a
 * 64-bit number by a 64-bit number, so LLVM lowers every `uint64_t / x` and
 * `% x` to calls to these libgcc/compiler-rt routines; a freestanding kernel
 * links no runtime library, so it provides them itself (for its own code and
 * for the benchmarks linked into it); the i386 native runner links this file
 * too. The code below only shifts, compares and subtracts 64-bit values,
 * which the compiler does inline, so it never calls itself. */
#include <stdint.h>

uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);

/* A hardware DIV by zero raises #DE (Divide Error); the software routine
 * does the same with a real 32-bit DIV, so both fail identically. */
static uint32_t divide_error(void)
{
    volatile uint32_t zero = 0;

    return 1u / zero;
}

static uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *rem)
{
    uint64_t q = 0;
    int shift;

    if (d == 0)
        return divide_error();
    if ((n >> 32) == 0 && (d >> 32) == 0) {
        /* Both fit in 32 bits: one native DIV does it. */
        *rem = (uint32_t)n % (uint32_t)d;
        return (uint32_t)n / (uint32_t)d;
    }
    if (d > n) {
        *rem = n;
        return 0;
    }
    /* Align the divisor's top bit with the dividend's, then produce one
     * quotient bit per step (schoolbook binary long division). */
    shift = __builtin_clzll(d) - __builtin_clzll(n);
    d <<= shift;
    for (; shift >= 0; shift--) {
        q <<= 1;
        if (n >= d) {
            n -= d;
            q |= 1;
        }
        d >>= 1;
    }
    *rem = n;
    return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
    uint64_t rem;

    return udivmod64(n, d, &rem);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t rem = 0;

    udivmod64(n, d, &rem);
    return rem;
}

static uint64_t magnitude(int64_t v)
{
    return v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
}

/* C99 division truncates toward zero: the quotient is negative when the
 * signs differ, and the remainder takes the sign of the dividend. */
int64_t __divdi3(int64_t n, int64_t d)
{
    uint64_t rem;
    uint64_t q = udivmod64(magnitude(n), magnitude(d), &rem);

    return (int64_t)((n < 0) != (d < 0) ? 0 - q : q);
}

int64_t __moddi3(int64_t n, int64_t d)
{
    uint64_t rem = 0;

    udivmod64(magnitude(n), magnitude(d), &rem);
    return (int64_t)(n < 0 ? 0 - rem : rem);
}
