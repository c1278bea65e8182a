/* The time-stamp counter: constant-rate reference cycles on this machine's
 * CPUs (CPUID "constant_tsc"), the unit of the `cycles` field. */
#ifndef FLUID_NATIVE_TSC_H
#define FLUID_NATIVE_TSC_H

#include <stdint.h>

static inline uint64_t tsc_read(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#endif
