/* Performance-monitoring counters: instructions retired and unhalted core
 * cycles, counted in ring 0, where the CPU exposes them (real hardware, or
 * KVM with -cpu host; QEMU's TCG has none, and the counts are then absent). */
#ifndef FLUID_PMU_H
#define FLUID_PMU_H

#include <stdint.h>

#include "cpu.h"

struct pmu_counts {
    uint64_t instructions;
    uint64_t cycles;
};

/* Detects and starts the counters; returns 1 when they run. */
int pmu_init(const struct cpu_info *ci);

/* 1 once pmu_init() has started the counters. */
int pmu_available(void);

/* Current counter values (zeros when unavailable). */
void pmu_read(struct pmu_counts *out);

#endif
