/* Deliberate failures for tests, compiled in only on request:
 *   -DFLUID_TEST_FAULT=1  executes UD2 (Invalid Opcode, vector 6)
 *   -DFLUID_TEST_FAULT=2  divides by zero (Divide Error, vector 0)
 *   -DFLUID_TEST_OOM=1    asks the heap for more than it manages
 *   -DFLUID_TEST_BENCH_SIZE=N  runs every benchmark at size N, past the
 *                         manifest's checks of the size
 * They prove that the exception handler, the out-of-memory panic and the
 * benchmark arena check report what they should. A normal build compiles
 * none of this. */
#ifndef FLUID_TEST_HOOKS_H
#define FLUID_TEST_HOOKS_H

#include <stdint.h>

/* Runs the requested failure; returns only when none was requested. */
void test_hooks_run(void);

/* The size a benchmark runs at: `size`, or FLUID_TEST_BENCH_SIZE. */
uint32_t test_hooks_bench_size(uint32_t size);

#endif
