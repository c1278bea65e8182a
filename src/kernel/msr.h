/* Model-specific registers. RDMSR/WRMSR fault (#GP) on an MSR the CPU does
 * not implement, so callers only touch MSRs that CPUID says exist. */
#ifndef FLUID_MSR_H
#define FLUID_MSR_H

#include <stdint.h>

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;

    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

#endif
