/* Choosing, once at boot, which compiled variant of each benchmark runs. */
#ifndef FLUID_DISPATCH_H
#define FLUID_DISPATCH_H

#include <stdint.h>

#include "bench.h"

/* `required`: the header's stamped cpu_features (what the tuned code was
 * compiled for). `usable`: the features this CPU has with their register
 * state enabled (fpu_init). Tuned variants are used only when nothing
 * required is missing. Allocates the table: call after the heap is up. */
void dispatch_init(uint32_t required, uint32_t usable);

/* CPU_FEAT_* bits the tuned code needs but this CPU lacks. */
uint32_t dispatch_missing(void);

int dispatch_is_tuned(void);
const char *dispatch_variant_name(void); /* "tuned" or "generic" */

/* Descriptor to run for bench_registry[i]. */
const struct bench_desc *dispatch_bench(uint32_t i);

#endif
