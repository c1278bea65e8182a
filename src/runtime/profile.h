/* The profiler runtime shared by the kernel, the native benchmark runners
 * and the user-space JIT (src/runtime/), so all measure functions the same
 * way: call counts and cycle totals read from the time-stamp counter, kept
 * in a fixed table (no allocation).
 *
 * Instrumented code brackets each call of function `id`:
 *
 *     uint64_t start = fluid_prof_enter(id);
 *     fluid_prof_value(id, 1, size);   (optional: integer argument 1)
 *     ... the call ...
 *     fluid_prof_exit(id, start);
 *
 * Calls must nest (exit in the reverse order of enter) and come from one
 * thread: a shadow stack of open calls gives each function its self time,
 * the cycles not spent in profiled callees.
 *
 * Every function of this runtime, static ones included, is named
 * fluid_prof_*: the JIT instruments every other function of its module and
 * must leave these alone, or enter would call itself.
 *
 * The record layout is shared with the JIT's Python mirror
 * (fluidjit/profiler.py): every field is a uint64_t, so the layout is
 * the same on i386 and x86-64, and fluid_prof_record_size lets the reader
 * check it. */
#ifndef FLUID_PROFILE_H
#define FLUID_PROFILE_H

#include <stdint.h>

/* Functions the table can hold; ids at or above it are ignored. */
#define FLUID_PROF_MAX_FUNCS 256
/* Integer arguments value-profiled per function: argument positions
 * 0 .. FLUID_PROF_MAX_ARGS-1. */
#define FLUID_PROF_MAX_ARGS 4
/* Open calls the shadow stack tracks; deeper calls still count, but their
 * self time then includes their callees. */
#define FLUID_PROF_MAX_DEPTH 64

/* Value profile of one integer argument. */
struct fluid_prof_arg {
    uint64_t seen;    /* calls that reported this argument */
    uint64_t value;   /* the value of the latest call */
    uint64_t changes; /* calls whose value differed from the call before */
};

struct fluid_prof_fn {
    uint64_t calls;        /* completed calls */
    uint64_t cycles;       /* TSC cycles inside the function, callees included */
    uint64_t self_cycles;  /* the same without the cycles of profiled callees */
    uint64_t first_tsc;    /* TSC of the first entry since it was last zeroed */
    uint64_t guard_misses; /* specialised code called with another value */
    struct fluid_prof_arg args[FLUID_PROF_MAX_ARGS];
};

extern struct fluid_prof_fn fluid_prof_table[FLUID_PROF_MAX_FUNCS];
extern const uint32_t fluid_prof_record_size;

/* The time-stamp counter (RDTSC). */
uint64_t fluid_prof_now(void);

/* Opens a call of function `id` and returns its start time. */
uint64_t fluid_prof_enter(uint32_t id);

/* Closes the innermost open call, of function `id`, begun at `start`. */
void fluid_prof_exit(uint32_t id, uint64_t start);

/* Records that this call of `id` passed `value` as integer argument `arg`. */
void fluid_prof_value(uint32_t id, uint32_t arg, uint64_t value);

/* Records that a specialised version of `id` saw another argument value and
 * fell back to its general code. */
void fluid_prof_guard_miss(uint32_t id);

/* A benchmark's run() (bench.h). */
typedef void (*fluid_prof_run_fn)(void *arena, uint32_t size);

/* Calls run(arena, size) `count` times back to back and returns the TSC
 * cycles of all calls; with `ticks`, each call's cycles also go to
 * ticks[i]. The kernel, the native runner and the JIT time their
 * benchmarks with it, so the loop around run() is the same C in all (a
 * loop in the JIT's Python would add a foreign call, about a microsecond,
 * to every measured run()). */
uint64_t fluid_prof_time_runs(fluid_prof_run_fn run, void *arena, uint32_t size, uint32_t count,
                              uint64_t *ticks);

#endif
