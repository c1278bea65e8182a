/* Variant dispatch. Every benchmark is linked once per instruction-set
 * level of the manifest's `variants` (variant_table.h): generic i686 and
 * the levels the build's CPU profile allows. Executing a variant on a CPU
 * without one of its extensions would raise #UD mid-benchmark (or silently
 * compute garbage where an encoding means something else), so only the
 * variants whose features CPUID reports and the OS has enabled (XCR0) are
 * candidates; generic always is. Which candidate runs is then decided per
 * benchmark by timing them on this CPU (select.c), not assumed from the
 * feature bits. */
#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "cpu.h"
#include "dispatch.h"
#include "exit.h"
#include "klib.h"
#include "mem.h"
#include "test_hooks.h"
#include "variant_table.h"

/* Runs once per benchmark at boot, outside what it times: small code
 * matters more than fast code here (the seed layout's kernel must fit below
 * 0x7C00). */
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

/* A benchmark as select.c measures it: its descriptor is the code. */
static const struct bench_desc *desc_of(const void *code)
{
    return code;
}

static size_t bench_mem_bytes(const void *code, uint32_t size)
{
    return desc_of(code)->mem_bytes(size);
}

/* Every candidate gets the benchmarks' common seed: their checksums must match. */
static void bench_setup(const void *code, void *arena, uint32_t size)
{
    desc_of(code)->setup(arena, size, BENCH_DEFAULT_SEED);
}

static void bench_run(const void *code, void *arena, uint32_t size)
{
    desc_of(code)->run(arena, size);
}

static uint64_t bench_checksum(const void *code, const void *arena, uint32_t size)
{
    return desc_of(code)->checksum(arena, size);
}

static uint64_t bench_work(const void *code, uint32_t size)
{
    return desc_of(code)->work(size);
}

static const struct select_workload bench_workload = {
    .mem_bytes = bench_mem_bytes,
    .setup = bench_setup,
    .run = bench_run,
    .checksum = bench_checksum,
    .work = bench_work,
    .agrees = NULL, /* equal checksums */
};

struct dispatch_entry {
    const struct bench_desc *desc; /* NULL until dispatch_select */
    struct select_result selection;
};

static struct dispatch_entry *dispatch_table;
static uint32_t usable_features;
static uint32_t eligible_levels;
static uint32_t missing_features;
static int forced_level = -1; /* FLUID_TEST_ONLY_VARIANT's level, when eligible */

static int level_index(const char *name)
{
    uint32_t l;

    for (l = 0; l < variant_level_count; l++)
        if (strcmp(variant_levels[l].name, name) == 0)
            return (int)l;
    return -1;
}

void dispatch_init(uint32_t usable)
{
    const char *only = test_hooks_only_variant();
    uint32_t l;

    if (variant_level_count == 0 || variant_level_count > VARIANT_MAX_LEVELS)
        panic("variant table has %u levels (1 to %u)", variant_level_count, VARIANT_MAX_LEVELS);
    if (variant_levels[0].features != 0)
        panic("variant table: level 0 (%s) needs features 0x%x; it must be the generic fallback",
              variant_levels[0].name, variant_levels[0].features);
    usable_features = usable;
    for (l = 0; l < variant_level_count; l++) {
        if (dispatch_runs(variant_levels[l].features))
            eligible_levels |= 1u << l;
        else
            missing_features |= variant_levels[l].features & ~usable;
    }
    if (only) {
        int wanted = level_index(only);

        if (wanted < 0)
            panic("FLUID_TEST_ONLY_VARIANT=%s: no such variant in the image", only);
        /* Like the old all-or-nothing dispatch: generic where it cannot run. */
        forced_level = (eligible_levels >> wanted) & 1 ? wanted : 0;
    }
    dispatch_table = kmalloc(bench_registry_count * sizeof(*dispatch_table));
    memset(dispatch_table, 0, bench_registry_count * sizeof(*dispatch_table));
}

int dispatch_runs(uint32_t features)
{
    return (features & ~usable_features) == 0;
}

uint32_t dispatch_missing(void)
{
    return missing_features;
}

uint32_t dispatch_eligible(void)
{
    return eligible_levels;
}

const char *dispatch_mode(void)
{
    if (forced_level >= 0)
        return "forced";
    return eligible_levels == 1 ? "generic" : "measured";
}

static const struct variant_row *row_of(const char *name)
{
    uint32_t r;

    for (r = 0; r < variant_row_count; r++)
        if (strcmp(variant_rows[r].name, name) == 0)
            return &variant_rows[r];
    return NULL;
}

static void add_candidate(struct select_result *s, const char *variant, const struct bench_desc *d)
{
    s->candidates[s->count].variant = variant;
    s->candidates[s->count].code = d;
    s->count++;
}

/* The candidates of one benchmark: its eligible variants, generic first.
 * A benchmark the table lacks has the registry's generic one only. */
static void candidates(const struct bench_entry *e, struct select_result *s)
{
    const struct variant_row *row = row_of(e->name);
    uint32_t l;

    if (!row) {
        if (!e->generic)
            check_failed("benchmark %s has no generic variant", e->name);
        add_candidate(s, variant_levels[0].name, e->generic);
        return;
    }
    for (l = 0; l < variant_level_count; l++) {
        if (!((eligible_levels >> l) & 1))
            continue;
        if (forced_level >= 0 && (int)l != forced_level)
            continue;
        add_candidate(s, variant_levels[l].name, row->descs[l]);
    }
}

void dispatch_select(uint32_t i, uint32_t size)
{
    struct dispatch_entry *d = &dispatch_table[i];

    d->selection.workload = &bench_workload;
    candidates(&bench_registry[i], &d->selection);
    select_measure(bench_registry[i].name, size, forced_level >= 0, &d->selection);
    d->desc = desc_of(d->selection.candidates[d->selection.chosen].code);
}

const struct bench_desc *dispatch_bench(uint32_t i)
{
    return i < bench_registry_count ? dispatch_table[i].desc : NULL;
}

const struct select_result *dispatch_selection(uint32_t i)
{
    return i < bench_registry_count ? &dispatch_table[i].selection : NULL;
}

#pragma clang attribute pop
