/* Which compiled variant of each benchmark runs: the eligible ones by
 * feature bits, then the fastest of those by measurement (select.c). */
#ifndef FLUID_DISPATCH_H
#define FLUID_DISPATCH_H

#include <stdint.h>

#include "bench.h"
#include "select.h"

/* `usable`: the CPU_FEAT_* features this CPU has with their register state
 * enabled (fpu_init). A variant is eligible when it needs nothing else;
 * generic always is. Allocates the table: call after the heap is up. */
void dispatch_init(uint32_t usable);

/* Whether this CPU runs code needing the CPU_FEAT_* `features` (CPUID
 * reports them and their register state is enabled): the one rule for
 * every variant table (variant_table.h, infer_variants.h). */
int dispatch_runs(uint32_t features);

/* CPU_FEAT_* bits some variant built into the image needs and this CPU
 * lacks (those variants are never run). */
uint32_t dispatch_missing(void);

/* Bit i set: variant_levels[i] is eligible on this CPU. */
uint32_t dispatch_eligible(void);

/* The FLUID-BOOT `variant`: "measured" (each benchmark runs the fastest of
 * several eligible variants), "generic" (this CPU runs only the generic
 * variant) or "forced" (a test build restricted the candidates). */
const char *dispatch_mode(void);

/* Chooses the variant of bench_registry[i] for a run at `size`: measures
 * the eligible candidates (select_measure). Call before dispatch_bench(i). */
void dispatch_select(uint32_t i, uint32_t size);

/* Descriptor to run for bench_registry[i], and how it was chosen. */
const struct bench_desc *dispatch_bench(uint32_t i);
const struct select_result *dispatch_selection(uint32_t i);

#endif
