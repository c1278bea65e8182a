/* Profiler runtime (see profile.h). Portable C for i386 and x86-64: it only
 * adds, subtracts and compares 64-bit values, so on i386 it needs none of
 * the 64-bit division helpers, and its profiling entry points never call
 * another function, so an instrumented memset or memcpy can never re-enter
 * them. */
#include "profile.h"

struct fluid_prof_fn fluid_prof_table[FLUID_PROF_MAX_FUNCS];
const uint32_t fluid_prof_record_size = sizeof(struct fluid_prof_fn);

/* Cycles spent in profiled callees of each open call, innermost last. */
static uint64_t fluid_prof_child_cycles[FLUID_PROF_MAX_DEPTH];
/* Open calls; may exceed FLUID_PROF_MAX_DEPTH, see profile.h. */
static uint32_t fluid_prof_depth;

/* RDTSC counts at a constant rate on every CPU the project targets
 * (invariant TSC), so differences are comparable across calls. It is not
 * serialising: an out-of-order core may read it a few dozen cycles early or
 * late, far below the length of the calls worth profiling. */
static inline __attribute__((always_inline)) uint64_t fluid_prof_rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

uint64_t fluid_prof_now(void)
{
    return fluid_prof_rdtsc();
}

uint64_t fluid_prof_enter(uint32_t id)
{
    uint64_t now = fluid_prof_rdtsc();

    if (id < FLUID_PROF_MAX_FUNCS && fluid_prof_table[id].first_tsc == 0)
        fluid_prof_table[id].first_tsc = now;
    if (fluid_prof_depth < FLUID_PROF_MAX_DEPTH)
        fluid_prof_child_cycles[fluid_prof_depth] = 0;
    fluid_prof_depth++;
    return now;
}

void fluid_prof_exit(uint32_t id, uint64_t start)
{
    uint64_t elapsed = fluid_prof_rdtsc() - start;
    uint64_t child = 0;
    struct fluid_prof_fn *fn;

    /* An exit without an enter (a caller bug) must not wrap the depth. */
    if (fluid_prof_depth == 0)
        return;
    fluid_prof_depth--;
    if (fluid_prof_depth < FLUID_PROF_MAX_DEPTH)
        child = fluid_prof_child_cycles[fluid_prof_depth];
    /* The whole call counts as callee time of the call that made it. */
    if (fluid_prof_depth > 0 && fluid_prof_depth <= FLUID_PROF_MAX_DEPTH)
        fluid_prof_child_cycles[fluid_prof_depth - 1] += elapsed;
    if (id >= FLUID_PROF_MAX_FUNCS)
        return;
    fn = &fluid_prof_table[id];
    fn->calls++;
    fn->cycles += elapsed;
    fn->self_cycles += child < elapsed ? elapsed - child : 0;
}

void fluid_prof_value(uint32_t id, uint32_t arg, uint64_t value)
{
    struct fluid_prof_arg *a;

    if (id >= FLUID_PROF_MAX_FUNCS || arg >= FLUID_PROF_MAX_ARGS)
        return;
    a = &fluid_prof_table[id].args[arg];
    if (a->seen != 0 && a->value != value)
        a->changes++;
    a->value = value;
    a->seen++;
}

void fluid_prof_guard_miss(uint32_t id)
{
    if (id < FLUID_PROF_MAX_FUNCS)
        fluid_prof_table[id].guard_misses++;
}

uint64_t fluid_prof_time_runs(fluid_prof_run_fn run, void *arena, uint32_t size, uint32_t count,
                              uint64_t *ticks)
{
    uint64_t first = fluid_prof_rdtsc(), start = first, end;
    uint32_t i;

    for (i = 0; i < count; i++) {
        run(arena, size);
        end = fluid_prof_rdtsc();
        if (ticks)
            ticks[i] = end - start;
        start = end;
    }
    return start - first;
}
