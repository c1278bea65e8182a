/* Variant selection by measurement: which compiled variant of a workload
 * (a benchmark, the inference engine's forward pass) is fastest on the CPU
 * the kernel runs on, found by timing each candidate (select.c). */
#ifndef FLUID_SELECT_H
#define FLUID_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "variant_table.h"

#define SELECT_MAX_CANDIDATES VARIANT_MAX_LEVELS

/* The time budget of one candidate's timed trial runs, in microseconds of
 * TSC time: the candidates run in rounds, one run each, until the timed
 * runs have taken this long per candidate (at least SELECT_MIN_RUNS rounds,
 * at most SELECT_MAX_RUNS; a candidate more than SELECT_PRUNE_FACTOR times
 * slower than the best after a round is not run again). */
#define SELECT_TRIAL_BUDGET_US 3000u
#define SELECT_MIN_RUNS 5u
#define SELECT_MAX_RUNS 64u
#define SELECT_PRUNE_FACTOR 2u
/* The probe size: where one run of the reference (generic) takes about
 * this long. Every candidate is timed once there. */
#define SELECT_PROBE_RUN_US 300u
/* The trial size: the largest size, up to the real run's, at which the
 * fastest candidate of the probe takes about SELECT_TRIAL_RUN_US, and the
 * reference at most SELECT_TRIAL_REF_MAX_US (it runs there at least once,
 * before it is pruned). */
#define SELECT_TRIAL_RUN_US 2000u
#define SELECT_TRIAL_REF_MAX_US 10000u
/* ...and where setting every candidate up again would take at most about
 * this long (estimated from the probe's setups); a trial size close to the
 * probe's keeps the probe's arenas. */
#define SELECT_RESETUP_MAX_US 20000u

/* What select_measure times: a workload whose candidates are the same
 * computation compiled for different instruction sets, as functions of a
 * problem size. `code` is a candidate's own (a benchmark's descriptor, the
 * engine's kernels); every arena is 64-byte aligned. work() must not
 * shrink as the size grows. */
struct select_workload {
    size_t (*mem_bytes)(const void *code, uint32_t size);
    void (*setup)(const void *code, void *arena, uint32_t size);
    void (*run)(const void *code, void *arena, uint32_t size);
    uint64_t (*checksum)(const void *code, const void *arena, uint32_t size);
    uint64_t (*work)(const void *code, uint32_t size); /* units of work of one run() */
    /* Whether a candidate's result in `arena` agrees with the reference's in
     * `reference`, both set up and run at `size` (once or more: a workload
     * giving it must give the same result after any number of runs); NULL:
     * when their checksums are equal. */
    int (*agrees)(const void *reference, const void *arena, uint32_t size);
    const char *compares; /* with agrees: what it compares ("logits"), a dropped candidate's reason */
};

struct select_candidate {
    const char *variant;           /* level name ("avx2") */
    const void *code;              /* its code, for the workload's functions */
    uint64_t cycles;               /* the fastest timed run at the trial size */
    uint64_t probe_cycles;         /* its timed run at the probe size */
    uint64_t checksum;             /* after setup and one run at the trial size */
    uint32_t runs;                 /* timed runs at the trial size */
    int dropped;                   /* its result disagrees with the reference's... */
    uint32_t bad_size;             /* ...at this size (`checksum` is the one it gave) */
};

enum select_how {
    SELECT_MEASURED, /* the fastest of several candidates that agree */
    SELECT_ONLY,     /* one candidate: the only variant this CPU runs */
    SELECT_FORCED,   /* one candidate, chosen by a test build (FLUID_TEST_ONLY_VARIANT) */
};

struct select_result {
    const struct select_workload *workload;
    uint32_t count;
    struct select_candidate candidates[SELECT_MAX_CANDIDATES];
    uint32_t chosen;     /* index into candidates */
    uint32_t trial_size; /* the size the candidates ran at */
    enum select_how how;
    uint64_t cycles;     /* TSC cycles the whole selection took */
};

/* Measures the candidates of r->workload the caller put in
 * r->candidates[0 .. r->count) for the workload `name`, whose real run is
 * at `size`: the first one is the reference whose result the others must
 * agree with (generic, unless the test build forced a single candidate),
 * and the fallback. Sets chosen, trial_size and how (SELECT_FORCED when
 * `forced`), prints one line per workload on serial, and one per dropped
 * candidate on screen and serial. */
void select_measure(const char *name, uint32_t size, int forced, struct select_result *r);

/* "measured", "only" or "forced": the FLUID-BENCH `chosen_by`. */
const char *select_how_name(enum select_how how);

/* The selection's fields of a FLUID-BENCH or FLUID-INFER line, on serial:
 * `,"candidates":[...],"chosen_by":..,"trial_size":..,"select_us":..` with
 * every candidate's fastest trial run, and `"dropped"` (with its checksum
 * when compared by checksum) where it disagreed. */
void select_print_fields(const struct select_result *r);

#endif
