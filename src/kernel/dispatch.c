/* Variant dispatch. Every benchmark is linked twice: a generic build that
 * runs on any i686, and a tuned build that may use any instruction of the
 * build machine's profile. Executing the tuned code on a CPU without one
 * of those extensions would raise #UD mid-benchmark (or silently compute
 * garbage where an encoding means something else), so the choice is made
 * once, up front, from the CPU's actual features: a conservative fallback
 * that keeps one image portable across machines. */
#include <stdint.h>

#include "bench.h"
#include "dispatch.h"
#include "mem.h"

static const struct bench_desc **dispatch_table;
static uint32_t missing_features;

void dispatch_init(uint32_t required, uint32_t usable)
{
    uint32_t i;

    missing_features = required & ~usable;
    dispatch_table = kmalloc(bench_registry_count * sizeof(*dispatch_table));
    for (i = 0; i < bench_registry_count; i++) {
        const struct bench_entry *e = &bench_registry[i];

        dispatch_table[i] = (missing_features == 0 && e->tuned) ? e->tuned : e->generic;
    }
}

uint32_t dispatch_missing(void)
{
    return missing_features;
}

int dispatch_is_tuned(void)
{
    return missing_features == 0;
}

const char *dispatch_variant_name(void)
{
    return dispatch_is_tuned() ? "tuned" : "generic";
}

const struct bench_desc *dispatch_bench(uint32_t i)
{
    return i < bench_registry_count ? dispatch_table[i] : NULL;
}
