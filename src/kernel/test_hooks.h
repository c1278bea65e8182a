/* Deliberate failures for tests, compiled in only on request:
 *   -DFLUID_TEST_FAULT=1  executes UD2 (Invalid Opcode, vector 6)
 *   -DFLUID_TEST_FAULT=2  divides by zero (Divide Error, vector 0)
 *   -DFLUID_TEST_OOM=1    asks the heap for more than it manages
 * They prove that the exception handler and the out-of-memory panic
 * report what they should. A normal build compiles none of this. */
#ifndef FLUID_TEST_HOOKS_H
#define FLUID_TEST_HOOKS_H

/* Runs the requested failure; returns only when none was requested. */
void test_hooks_run(void);

#endif
