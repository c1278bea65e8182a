/* Test-only failure triggers (see test_hooks.h). */
#include <stdint.h>

#include "kprintf.h"
#include "mem.h"
#include "test_hooks.h"

#ifndef FLUID_TEST_FAULT
#define FLUID_TEST_FAULT 0
#endif
#ifndef FLUID_TEST_OOM
#define FLUID_TEST_OOM 0
#endif
#ifndef FLUID_TEST_BENCH_SIZE
#define FLUID_TEST_BENCH_SIZE 0 /* 0: the registry's size */
#endif

#define TEST_FAULT_INVALID_OPCODE 1
#define TEST_FAULT_DIVIDE_ERROR 2

/* Volatile operands: the compiler must load them at run time, so it can
 * neither fold the division nor drop it as undefined behaviour. */
static volatile uint32_t test_dividend = 1;
static volatile uint32_t test_divisor;
static volatile uint32_t test_quotient;

void test_hooks_run(void)
{
    if (FLUID_TEST_FAULT == TEST_FAULT_INVALID_OPCODE) {
        kprintf("test: executing UD2\n");
        __asm__ volatile("ud2");
    }
    if (FLUID_TEST_FAULT == TEST_FAULT_DIVIDE_ERROR) {
        kprintf("test: dividing by zero\n");
        test_quotient = test_dividend / test_divisor;
    }
    if (FLUID_TEST_OOM) {
        struct mem_stats st;

        mem_get_stats(&st);
        kprintf("test: allocating more than the heap holds\n");
        kfree(kmalloc(st.managed_bytes + 1));
    }
}

uint32_t test_hooks_bench_size(uint32_t size)
{
    return FLUID_TEST_BENCH_SIZE ? (uint32_t)FLUID_TEST_BENCH_SIZE : size;
}
