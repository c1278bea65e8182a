/* Functions the JIT tests call directly through their thunks. */
#include <stdint.h>

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

/* A serial multiply chain: its cost grows with n and dominates the
 * profile; noinline keeps a real call to it in twice(). */
__attribute__((noinline)) uint64_t heavy(uint32_t n)
{
    uint64_t h = FNV_OFFSET;

    for (uint32_t i = 0; i < n; i++)
        h = (h ^ i) * FNV_PRIME;
    return h;
}

/* Next to no work: its share of the cycles stays tiny. */
__attribute__((noinline)) uint64_t light(uint32_t n)
{
    return (uint64_t)n * 3u;
}

/* A caller of heavy: its calls go through heavy's slot. */
uint64_t twice(uint32_t n)
{
    return heavy(n) ^ heavy(n + 1);
}

/* Position-weighted sum: the result depends on n, so a specialised clone
 * used for another n would give a wrong sum. */
uint64_t weighted(const uint32_t *a, uint32_t n)
{
    uint64_t s = 0;

    for (uint32_t i = 0; i < n; i++)
        s += (uint64_t)a[i] * (i + 1);
    return s;
}

/* Returns a double: compiled for a CPU profile without SSE, code
 * generation fails (the x86-64 ABI returns doubles in SSE registers). */
double mean(const double *a, uint32_t n)
{
    double s = 0.0;

    for (uint32_t i = 0; i < n; i++)
        s += a[i];
    return n ? s / n : 0.0;
}
