/* Deliberate failures for tests, compiled in only on request:
 *   -DFLUID_TEST_FAULT=1  executes UD2 (Invalid Opcode, vector 6)
 *   -DFLUID_TEST_FAULT=2  divides by zero (Divide Error, vector 0)
 *   -DFLUID_TEST_OOM=1    asks the heap for more than it manages
 *   -DFLUID_TEST_BENCH_SIZE=N  runs every benchmark at size N, past the
 *                         manifest's checks of the size
 *   -DFLUID_TEST_ONLY_VARIANT=<level>  makes that variant the only candidate
 *                         of every benchmark (generic where this CPU cannot
 *                         run it): `tuned` is the all-or-nothing dispatch of
 *                         old, each level alone is its single-variant figure
 *   -DFLUID_TEST_SLOW_VARIANT=<level>  follows every timed trial run of that
 *                         variant with a busy loop 30 times as long
 *   -DFLUID_TEST_BAD_VARIANT=<level>  alters that variant's trial checksum,
 *                         as miscompiled code would
 *   -DFLUID_TEST_FIND_MODULE=<name>  prints what module_find returns for that
 *                         boot module and for its name without the last letter
 * They prove that the exception handler, the out-of-memory panic, the
 * benchmark arena check, the variant selection (select.c: measured, not
 * assumed; a disagreeing variant dropped) and the boot-module lookup report
 * what they should. A normal build compiles none of this. */
#ifndef FLUID_TEST_HOOKS_H
#define FLUID_TEST_HOOKS_H

#include <stdint.h>

/* Runs the requested failure; returns only when none was requested. */
void test_hooks_run(void);

/* The size a benchmark runs at: `size`, or FLUID_TEST_BENCH_SIZE. */
uint32_t test_hooks_bench_size(uint32_t size);

/* FLUID_TEST_ONLY_VARIANT as a string, or NULL. */
const char *test_hooks_only_variant(void);

/* Whether FLUID_TEST_SLOW_VARIANT names `variant`. */
int test_hooks_slow_variant(const char *variant);

/* Spins for 30 times `cycles` TSC cycles (test_hooks.c: TEST_SLOW_FACTOR). */
void test_hooks_burn(uint64_t cycles);

/* `checksum`, altered when FLUID_TEST_BAD_VARIANT names `variant`. */
uint64_t test_hooks_variant_checksum(const char *variant, uint64_t checksum);

#endif
