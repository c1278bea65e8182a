/* The variant table: every benchmark compiled once per instruction-set
 * level of the manifest's `variants` section that the build's CPU profile
 * allows. The build generates it (plugins/fluidos/variants.py writes
 * build/gen/<target>.c); the kernel measures the levels this CPU can run
 * and dispatches each benchmark to its fastest (select.c, dispatch.c). */
#ifndef FLUID_VARIANT_TABLE_H
#define FLUID_VARIANT_TABLE_H

#include <stdint.h>

#include "bench.h"

/* Levels a table may hold (the plugin's MAX_LEVELS). */
#define VARIANT_MAX_LEVELS 16

struct variant_level {
    const char *name;  /* "avx2": the FLUID-BENCH `variant` */
    uint32_t features; /* CPU_FEAT_* bits its code may execute; 0: any i686 */
};

struct variant_row {
    const char *name;                      /* benchmark, as in bench_registry */
    const struct bench_desc *const *descs; /* one per level, in variant_levels order */
};

/* variant_levels[0] is `generic` (features 0): the fallback every CPU runs. */
extern const struct variant_level variant_levels[];
extern const uint32_t variant_level_count;
extern const struct variant_row variant_rows[];
extern const uint32_t variant_row_count;

#endif
