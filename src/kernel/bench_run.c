/* Benchmark runner. Each benchmark first gets its variant, the fastest of
 * those this CPU can run by measurement (dispatch_select, select.c), then
 * runs at its size. Timing uses the TSC, the finest clock the CPU has;
 * the kernel runs with interrupts off, so nothing else runs between the
 * two reads. A warm-up run first takes cache misses on the freshly set up
 * arena out of the measurement. */
#include <stdint.h>

#include "bench.h"
#include "bench_run.h"
#include "console.h"
#include "dispatch.h"
#include "exit.h"
#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "pmu.h"
#include "profile.h"
#include "test_hooks.h"
#include "timer.h"

/* Set-up and reporting around timed code that lives elsewhere
 * (fluid_prof_time_runs, the benchmarks): small code matters more than
 * fast code here (the seed layout's kernel must fit below 0x7C00). */
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define ARENA_ALIGN 64 /* bench.h: arenas are 64-byte aligned */
#define LABEL_LEN 64 /* "<unit>/s" labels */
#define MILLI 1000ull

struct bench_result {
    uint32_t size;
    uint32_t iterations;
    uint64_t cycles;
    uint64_t ns;
    uint64_t work;
    uint64_t throughput_milli;
    uint64_t checksum;
    struct pmu_counts pmu; /* over the timed runs; only when pmu_available() */
};

/* The arena `d` needs at `size`, or a panic naming the benchmark. Above
 * its max_size a benchmark's mem_bytes() wraps around the 32-bit size_t
 * and asks for a small arena that run() then writes far past; and an arena
 * larger than the heap's largest free block cannot be had at all. */
static size_t arena_bytes(const char *name, const struct bench_desc *d, uint32_t size)
{
    struct mem_stats st;
    size_t bytes;

    if (size > d->max_size)
        panic("benchmark %s: size %u is above its limit %u (BENCH_MAX_SIZE): its arena "
              "would not fit in 32 bits", name, size, d->max_size);
    bytes = d->mem_bytes(size);
    mem_get_stats(&st);
    if (bytes > st.largest_free)
        panic("benchmark %s: size %u needs a %zu-byte arena, more than the %zu bytes of "
              "the heap's largest free block", name, size, bytes, st.largest_free);
    return bytes;
}

static void measure(const char *name, const struct bench_desc *d, uint32_t size,
                    uint32_t iterations, struct bench_result *r)
{
    void *arena = kmalloc_aligned(arena_bytes(name, d, size), ARENA_ALIGN);
    struct pmu_counts before, after;

    d->setup(arena, size, BENCH_DEFAULT_SEED);
    d->run(arena, size);
    pmu_read(&before);
    r->cycles = fluid_prof_time_runs(d->run, arena, size, iterations, 0);
    pmu_read(&after);
    r->pmu.instructions = after.instructions - before.instructions;
    r->pmu.cycles = after.cycles - before.cycles;
    r->checksum = d->checksum(arena, size);
    kfree(arena);

    r->size = size;
    r->iterations = iterations;
    r->ns = tsc_cycles_to_ns(r->cycles);
    r->work = d->work(size) * iterations;
    /* work / (cycles / tsc_hz) * 1000, with a 128-bit intermediate. */
    r->throughput_milli = r->cycles ? kmuldiv64(r->work, tsc_hz() * MILLI, r->cycles) : 0;
}

/* "12.345 M" style rendering of a throughput for people. */
static void print_rate(uint64_t milli, const char *unit)
{
    static const char *const prefixes[] = { "", "k", "M", "G", "T" };
    const unsigned last = sizeof(prefixes) / sizeof(prefixes[0]) - 1;
    uint64_t scale = MILLI; /* milli-units per displayed unit */
    unsigned p = 0;

    while (p < last && milli / scale >= MILLI) {
        scale *= MILLI;
        p++;
    }
    kprintf("%llu.%03llu %s%s/s", (unsigned long long)(milli / scale),
            (unsigned long long)(milli % scale / (scale / MILLI)), prefixes[p], unit);
}

static void report(const char *name, const char *variant, const char *unit,
                   const struct bench_result *r, const struct select_result *s)
{
    char rate_unit[LABEL_LEN];

    kprintf_to(CONSOLE_SERIAL, "FLUID-BENCH {\"name\":");
    console_write_json_string(CONSOLE_SERIAL, name);
    kprintf_to(CONSOLE_SERIAL, ",\"variant\":");
    console_write_json_string(CONSOLE_SERIAL, variant);
    kprintf_to(CONSOLE_SERIAL,
               ",\"size\":%u,\"iterations\":%u,\"cycles\":%llu,\"ns\":%llu,"
               "\"work\":%llu,\"unit\":",
               r->size, r->iterations, (unsigned long long)r->cycles,
               (unsigned long long)r->ns, (unsigned long long)r->work);
    console_write_json_string(CONSOLE_SERIAL, unit);
    kprintf_to(CONSOLE_SERIAL, ",\"throughput_milli\":%llu,\"throughput_unit\":",
               (unsigned long long)r->throughput_milli);
    ksnprintf(rate_unit, sizeof(rate_unit), "%s/s", unit);
    console_write_json_string(CONSOLE_SERIAL, rate_unit);
    kprintf_to(CONSOLE_SERIAL, ",\"checksum\":\"0x%016llx\"", (unsigned long long)r->checksum);
    if (pmu_available())
        kprintf_to(CONSOLE_SERIAL, ",\"pmu_instructions\":%llu,\"pmu_cycles\":%llu",
                   (unsigned long long)r->pmu.instructions, (unsigned long long)r->pmu.cycles);
    select_print_fields(s);
    kprintf_to(CONSOLE_SERIAL, "}\n");

    kprintf("bench %-14s %-20s n=%-7u ", name, variant, r->size);
    print_rate(r->throughput_milli, unit);
    kprintf("\n");
}

static void run_entry(uint32_t i)
{
    const struct bench_entry *e = &bench_registry[i];
    const struct select_result *s;
    const struct bench_desc *d;
    struct bench_result r;
    uint32_t size, iterations;

    if (!e->generic)
        check_failed("benchmark %s has no generic variant", e->name);
    size = test_hooks_bench_size(e->size ? e->size : e->generic->default_size);
    /* At least one timed run, so there is something to divide by. */
    iterations = e->iterations ? e->iterations : 1;

    /* Checked before the trials too, which run at sizes up to this one. */
    arena_bytes(e->name, e->generic, size);
    dispatch_select(i, size);
    d = dispatch_bench(i);
    s = dispatch_selection(i);
    measure(e->name, d, size, iterations, &r);
    report(e->name, s->candidates[s->chosen].variant, d->unit, &r, s);
}

void bench_run_all(void)
{
    uint32_t i;

    for (i = 0; i < bench_registry_count; i++)
        run_entry(i);
}

#pragma clang attribute pop
