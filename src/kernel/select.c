/* Variant selection by measurement. Feature bits say which variants a CPU
 * can run, not which is fastest: under an emulator (QEMU TCG) or on a CPU
 * whose wide vectors are slow, code for a newer instruction set can be
 * slower than generic code. So, like Linux choosing its RAID-6 and XOR
 * routines at boot (raid6_select_algo, calibrate_xor_blocks) or FFTW's
 * planner, the kernel times every variant the CPU can run, on the CPU
 * itself, and keeps the fastest, per workload: each benchmark, and the
 * inference engine's forward pass (struct select_workload).
 *
 * For one workload (sizes never above the real run's):
 *   1. Probe size. The reference (generic) runs at a size doing
 *      1/SELECT_PROBE_DIVISOR of the real run's work, grown until a run
 *      takes a measurable time; from its cycles per unit of work comes the
 *      probe size, where it takes about SELECT_PROBE_RUN_US.
 *   2. Probe. Every candidate is set up at the probe size (its own code,
 *      same seed), run once untimed (caches, and under TCG the translation
 *      of its code), checksummed, and timed once: its speed.
 *   3. Trial size: where the fastest candidate takes about
 *      SELECT_TRIAL_RUN_US, as large as the time allows, because a tiny
 *      problem favours different code than the real one (loop overheads,
 *      packing, remainders); capped where the reference would take more
 *      than SELECT_TRIAL_REF_MAX_US. Close to the probe size, the probe's
 *      arenas are kept; otherwise every candidate is set up, run untimed
 *      and checksummed again at the trial size.
 *   4. Trial. Rounds of timed runs, one run of each candidate per round,
 *      so a disturbance (a busy host under an emulator, an SMI) slows all
 *      alike; after the first round a candidate more than
 *      SELECT_PRUNE_FACTOR times slower than the best is not run again.
 *      Rounds stop once the timed runs have taken SELECT_TRIAL_BUDGET_US
 *      per candidate (at least SELECT_MIN_RUNS, at most SELECT_MAX_RUNS).
 *      A candidate's figure is its fastest run at the trial size.
 *   5. A candidate whose result disagrees with the reference's (at either
 *      size: another checksum, or what the workload's own comparison
 *      refuses) is dropped and reported: all variants are the same C and
 *      must compute the same result. The fastest remaining candidate wins
 *      (the earlier, more conservative one on a tie); the reference always
 *      remains. */
#include <stdint.h>

#include "console.h"
#include "exit.h"
#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "select.h"
#include "test_hooks.h"
#include "timer.h"

/* Runs once per workload at boot, outside what it times: small code
 * matters more than fast code here (the seed layout's kernel must fit below
 * 0x7C00). */
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define ARENA_ALIGN 64            /* select.h: arenas are 64-byte aligned */
#define SELECT_PROBE_DIVISOR 64u  /* the first probe does this fraction of the real run's work */
#define SELECT_PROBE_ROUNDS 3u    /* reference probes at growing sizes, at most */
#define SELECT_PROBE_MIN_SHARE 8u /* a probe run shorter than 1/8 of the target is grown */
#define SELECT_KEEP_PROBE 5u      /* a trial size within 5/4 of the probe's keeps the probe's arenas */
#define US_PER_S 1000000u

struct arenas {
    void *p[SELECT_MAX_CANDIDATES];
    uint32_t size;
};

static uint64_t us_to_cycles(uint32_t us)
{
    return kmuldiv64(tsc_hz(), us, US_PER_S);
}

/* Candidate `c`'s work at `size`. */
static uint64_t work_of(const struct select_result *r, const struct select_candidate *c, uint32_t size)
{
    return r->workload->work(c->code, size);
}

/* The largest size in [1, limit] whose run does at most `work` units
 * (work() does not shrink as the size grows); 1 if none. */
static uint32_t size_for_work(const struct select_result *r, const struct select_candidate *c, uint32_t limit,
                              uint64_t work)
{
    uint32_t lo = 1, hi = limit;

    if (work_of(r, c, limit) <= work)
        return limit;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;

        if (work_of(r, c, mid) <= work)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* The size, up to `limit`, at which `c` does `cycles` worth of work at the
 * rate it showed: `took` cycles for a run at `at`. */
static uint32_t size_for_cycles(const struct select_result *r, const struct select_candidate *c, uint32_t limit,
                                uint32_t at, uint64_t took, uint64_t cycles)
{
    uint64_t work = work_of(r, c, at) ? work_of(r, c, at) : 1;

    return size_for_work(r, c, limit, took ? kmuldiv64(work, cycles, took) : work * SELECT_PROBE_DIVISOR);
}

/* An arena for `c` at `size`, set up. */
static void *arena_for(const struct select_result *r, const struct select_candidate *c, uint32_t size)
{
    void *arena = kmalloc_aligned(r->workload->mem_bytes(c->code, size), ARENA_ALIGN);

    r->workload->setup(c->code, arena, size);
    return arena;
}

static void run_once(const struct select_result *r, const struct select_candidate *c, void *arena,
                     uint32_t size)
{
    r->workload->run(c->code, arena, size);
}

static uint64_t time_run(const struct select_result *r, struct select_candidate *c, void *arena, uint32_t size)
{
    uint64_t start = rdtsc();

    run_once(r, c, arena, size);
    if (test_hooks_slow_variant(c->variant))
        test_hooks_burn(rdtsc() - start);
    return rdtsc() - start;
}

static uint32_t fitting_size(const struct select_result *r, uint32_t size);
static uint64_t checksum_of(const struct select_result *r, const struct select_candidate *c, const void *arena,
                            uint32_t size);
static void agree(struct select_result *r, const struct arenas *a, uint32_t i, uint32_t size);

/* Whether `size` does at most SELECT_KEEP_PROBE / (SELECT_KEEP_PROBE - 1)
 * times the work of `than`. */
static int close_to(const struct select_result *r, uint32_t size, uint32_t than)
{
    const struct select_candidate *ref = &r->candidates[0];

    return work_of(r, ref, size) * (SELECT_KEEP_PROBE - 1) <= work_of(r, ref, than) * SELECT_KEEP_PROBE;
}

/* Step 1: the probe size, from runs of the reference (candidate 0). When
 * it is close to the last size tried, that size is the probe size and its
 * arena stays in a->p[0] (run once untimed, checksummed, timed once):
 * returns 1 then, 0 when a->p[0] is free. */
static int probe_size(struct select_result *r, uint32_t size, struct arenas *a)
{
    struct select_candidate *ref = &r->candidates[0];
    const uint64_t target = us_to_cycles(SELECT_PROBE_RUN_US);
    uint32_t probe = size_for_work(r, ref, size, work_of(r, ref, size) / SELECT_PROBE_DIVISOR);
    uint64_t cycles = 0, sum = 0, start;
    void *arena = NULL;
    unsigned round;

    for (round = 0; round < SELECT_PROBE_ROUNDS; round++) {
        kfree(arena);
        arena = arena_for(r, ref, probe);
        run_once(r, ref, arena, probe); /* untimed: caches, code translation */
        sum = checksum_of(r, ref, arena, probe);
        start = rdtsc();
        run_once(r, ref, arena, probe);
        cycles = rdtsc() - start;
        if (probe == size || cycles >= target / SELECT_PROBE_MIN_SHARE)
            break;
        probe = size_for_cycles(r, ref, size, probe, cycles, target); /* too short: aim at the target */
    }
    a->size = fitting_size(r, size_for_cycles(r, ref, size, probe, cycles, target));
    if (fitting_size(r, probe) == probe && close_to(r, a->size, probe) && close_to(r, probe, a->size)) {
        a->size = probe;
        a->p[0] = arena;
        ref->checksum = sum; /* after one run, as every other candidate's */
        ref->probe_cycles = cycles;
        return 1;
    }
    kfree(arena);
    return 0;
}

/* The largest size up to `size` at which the candidates' arenas, all live
 * at once, take at most half of the heap's largest free block. */
static uint32_t fitting_size(const struct select_result *r, uint32_t size)
{
    const struct select_candidate *ref = &r->candidates[0];
    struct mem_stats st;

    mem_get_stats(&st);
    while (size > 1 && (uint64_t)r->workload->mem_bytes(ref->code, size) * r->count > st.largest_free / 2)
        size = size_for_work(r, ref, size - 1, work_of(r, ref, size) / 2);
    return size;
}

static uint64_t checksum_of(const struct select_result *r, const struct select_candidate *c, const void *arena,
                            uint32_t size)
{
    return test_hooks_variant_checksum(c->variant, r->workload->checksum(c->code, arena, size));
}

/* Compares candidate i's result in a->p[i] at `size` with the reference's
 * (candidate 0, checked first, its arena a->p[0] still live): by the
 * workload's own comparison when it has one, else by checksum. A
 * difference drops it. */
static void agree(struct select_result *r, const struct arenas *a, uint32_t i, uint32_t size)
{
    struct select_candidate *c = &r->candidates[i];
    int same;

    if (c->dropped)
        return; /* keeps the checksum it was dropped for */
    c->checksum = checksum_of(r, c, a->p[i], size);
    if (i == 0)
        return;
    if (r->workload->agrees)
        same = r->workload->agrees(a->p[0], a->p[i], size);
    else
        same = c->checksum == r->candidates[0].checksum;
    if (!same) {
        c->dropped = 1;
        c->bad_size = size;
    }
}

/* Candidates `from` on set up at `size`; with `run`, also run once
 * untimed (caches, code translation) and compared. Returns the TSC cycles
 * the setups took. */
static uint64_t set_up(struct select_result *r, struct arenas *a, uint32_t size, int run, uint32_t from)
{
    uint64_t setup = 0;
    uint32_t i;

    a->size = size;
    for (i = from; i < r->count; i++) {
        struct select_candidate *c = &r->candidates[i];
        uint64_t start = rdtsc();

        a->p[i] = arena_for(r, c, size);
        setup += rdtsc() - start;
        if (run) {
            run_once(r, c, a->p[i], size);
            agree(r, a, i, size);
        }
    }
    return setup;
}

static void tear_down(const struct select_result *r, struct arenas *a)
{
    uint32_t i;

    for (i = r->count; i-- > 0;)
        kfree(a->p[i]);
}

/* The candidate with the fewest cycles among those not dropped (the first
 * on a tie): the reference unless another is faster. */
static uint32_t fastest(const struct select_result *r)
{
    uint32_t i, best = 0;

    for (i = 1; i < r->count; i++)
        if (!r->candidates[i].dropped && r->candidates[i].cycles < r->candidates[best].cycles)
            best = i;
    return best;
}

/* Step 4: rounds of timed runs at a->size; with `check`, each
 * candidate's checksum after its first run there (round 0 runs them all). */
static void trial(struct select_result *r, struct arenas *a, int check)
{
    const uint64_t budget = us_to_cycles(SELECT_TRIAL_BUDGET_US) * r->count;
    uint64_t probe_best = r->candidates[fastest(r)].probe_cycles;
    uint64_t spent = 0;
    uint32_t i, rounds;

    for (i = 0; i < r->count; i++) {
        r->candidates[i].cycles = UINT64_MAX;
        r->candidates[i].runs = 0;
    }
    for (rounds = 0; rounds < SELECT_MAX_RUNS && (rounds < SELECT_MIN_RUNS || spent < budget);
         rounds++) {
        uint64_t best = r->candidates[fastest(r)].cycles;

        for (i = 0; i < r->count; i++) {
            struct select_candidate *c = &r->candidates[i];
            uint64_t cycles;

            /* Far behind in the probe and in the trial, two separate runs:
             * more runs would not change the choice. */
            if (rounds > 0 && c->cycles / SELECT_PRUNE_FACTOR > best &&
                c->probe_cycles / SELECT_PRUNE_FACTOR > probe_best)
                continue;
            cycles = time_run(r, c, a->p[i], a->size);
            if (rounds == 0 && check)
                agree(r, a, i, a->size);
            spent += cycles;
            c->runs++;
            if (cycles < c->cycles)
                c->cycles = cycles;
        }
    }
}

const char *select_how_name(enum select_how how)
{
    switch (how) {
    case SELECT_MEASURED:
        return "measured";
    case SELECT_ONLY:
        return "only";
    case SELECT_FORCED:
        return "forced";
    }
    return "?";
}

void select_print_fields(const struct select_result *r)
{
    uint32_t i;

    kprintf_to(CONSOLE_SERIAL, ",\"candidates\":[");
    for (i = 0; i < r->count; i++) {
        const struct select_candidate *c = &r->candidates[i];

        kprintf_to(CONSOLE_SERIAL, "%s{\"variant\":", i ? "," : "");
        console_write_json_string(CONSOLE_SERIAL, c->variant);
        kprintf_to(CONSOLE_SERIAL, ",\"cycles\":%llu", (unsigned long long)c->cycles);
        if (c->dropped && r->workload->agrees)
            kprintf_to(CONSOLE_SERIAL, ",\"dropped\":\"%s\"", r->workload->compares);
        else if (c->dropped)
            kprintf_to(CONSOLE_SERIAL, ",\"dropped\":\"checksum\",\"checksum\":\"0x%016llx\"",
                       (unsigned long long)c->checksum);
        kprintf_to(CONSOLE_SERIAL, "}");
    }
    kprintf_to(CONSOLE_SERIAL, "],\"chosen_by\":\"%s\",\"trial_size\":%u,\"select_us\":%llu",
               select_how_name(r->how), r->trial_size, (unsigned long long)tsc_cycles_to_us(r->cycles));
}

/* One line per workload, on serial only: the screen keeps the boot summary
 * and the results (each `bench` line names the variant that ran). */
static void print_choice(const char *name, const struct select_result *r)
{
    uint32_t i;

    kprintf_to(CONSOLE_SERIAL, "select %-14s n=%-7u", name, r->trial_size);
    for (i = 0; i < r->count; i++) {
        const struct select_candidate *c = &r->candidates[i];

        kprintf_to(CONSOLE_SERIAL, " %s%s %llu%s", i == r->chosen ? "*" : "", c->variant,
                   (unsigned long long)c->cycles, c->dropped ? " (dropped)" : "");
    }
    kprintf_to(CONSOLE_SERIAL, " -> %s (%s, %llu us)\n", r->candidates[r->chosen].variant,
               select_how_name(r->how), (unsigned long long)tsc_cycles_to_us(r->cycles));
}

void select_measure(const char *name, uint32_t size, int forced, struct select_result *r)
{
    const uint64_t start = rdtsc();
    const struct select_candidate *ref = &r->candidates[0];
    struct arenas a;
    uint64_t setup;
    uint32_t i, probe, trial_at, cap, fast, kept;

    if (r->count == 0 || r->count > SELECT_MAX_CANDIDATES)
        panic("%s: %u variant candidates (1 to %u)", name, r->count, SELECT_MAX_CANDIDATES);
    for (i = 0; i < r->count; i++)
        r->candidates[i].dropped = 0;

    /* Steps 1 and 2: every candidate timed once at the probe size. */
    kept = probe_size(r, size, &a);
    probe = a.size;
    setup = set_up(r, &a, probe, 1, kept);
    for (i = kept; i < r->count; i++)
        r->candidates[i].probe_cycles = time_run(r, &r->candidates[i], a.p[i], probe);
    if (kept) /* the reference's setup was not timed: count it like the others' */
        setup += setup / (r->count > 1 ? r->count - 1 : 1);
    for (i = 0; i < r->count; i++)
        r->candidates[i].cycles = r->candidates[i].probe_cycles;
    fast = fastest(r);

    /* Step 3: the trial size. */
    trial_at = size_for_cycles(r, &r->candidates[fast], size, probe, r->candidates[fast].probe_cycles,
                               us_to_cycles(SELECT_TRIAL_RUN_US));
    cap = size_for_cycles(r, ref, size, probe, ref->probe_cycles, us_to_cycles(SELECT_TRIAL_REF_MAX_US));
    trial_at = trial_at < cap ? trial_at : cap;
    cap = size_for_cycles(r, ref, size, probe, setup, us_to_cycles(SELECT_RESETUP_MAX_US));
    trial_at = fitting_size(r, trial_at < cap ? trial_at : cap);
    if (!close_to(r, trial_at, probe)) {
        tear_down(r, &a);
        set_up(r, &a, trial_at, 0, 0);
        r->trial_size = trial_at;
        trial(r, &a, 1);
    } else {
        r->trial_size = probe;
        trial(r, &a, 0);
    }
    tear_down(r, &a);

    /* Step 5. */
    for (i = 1; i < r->count; i++) {
        const struct select_candidate *c = &r->candidates[i];

        if (c->dropped && r->workload->agrees)
            kprintf("select %s: variant %s disagreed with %s at n=%u: dropped\n", name, c->variant,
                    ref->variant, c->bad_size);
        else if (c->dropped)
            kprintf("select %s: variant %s gave checksum 0x%016llx at n=%u, %s another: dropped\n",
                    name, c->variant, (unsigned long long)c->checksum, c->bad_size, ref->variant);
    }
    r->chosen = fastest(r);
    r->how = forced ? SELECT_FORCED : r->count > 1 ? SELECT_MEASURED : SELECT_ONLY;
    r->cycles = rdtsc() - start;
    print_choice(name, r);
}

#pragma clang attribute pop
