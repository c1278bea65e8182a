/* The inference engine's variant table: the forward pass (src/infer/
 * forward.c) compiled once per instruction-set level of the manifest's
 * `variants` section that the build's CPU profile allows, like the
 * benchmarks (variant_table.h). The build generates it
 * (plugins/fluidos/variants.py with `table: infer` writes
 * build/gen/<target>.c); the inference workload measures the levels this
 * CPU can run and generates with the fastest (infer/infer_select.c). */
#ifndef FLUID_INFER_VARIANTS_H
#define FLUID_INFER_VARIANTS_H

#include <stdint.h>

#include "infer.h"

struct infer_variant {
    const char *name;                     /* "avx2": the FLUID-INFER `variant` */
    uint32_t features;                    /* CPU_FEAT_* bits its code may execute; 0: any i686 */
    const struct infer_kernels *kernels;  /* infer_kernels_<name> */
};

/* infer_variants[0] is `generic` (features 0): the fallback every CPU runs. */
extern const struct infer_variant infer_variants[];
extern const uint32_t infer_variant_count;

#endif
