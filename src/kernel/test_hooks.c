/* Test-only failure triggers (see test_hooks.h). */
#include <stddef.h>
#include <stdint.h>

#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "test_hooks.h"
#include "timer.h"

#ifndef FLUID_TEST_FAULT
#define FLUID_TEST_FAULT 0
#endif
#ifndef FLUID_TEST_OOM
#define FLUID_TEST_OOM 0
#endif
#ifndef FLUID_TEST_BENCH_SIZE
#define FLUID_TEST_BENCH_SIZE 0 /* 0: the registry's size */
#endif

/* Variant names arrive as bare words (-DFLUID_TEST_SLOW_VARIANT=avx2). */
#define TEST_STRING_(x) #x
#define TEST_STRING(x) TEST_STRING_(x)
#define TEST_SLOW_FACTOR 30u /* a slowed run takes 1 + 30 times as long */
#define TEST_BAD_CHECKSUM 0x0123456789abcdefull /* XORed into a bad variant's checksum */

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

const char *test_hooks_only_variant(void)
{
#ifdef FLUID_TEST_ONLY_VARIANT
    return TEST_STRING(FLUID_TEST_ONLY_VARIANT);
#else
    return NULL;
#endif
}

int test_hooks_slow_variant(const char *variant)
{
#ifdef FLUID_TEST_SLOW_VARIANT
    return strcmp(variant, TEST_STRING(FLUID_TEST_SLOW_VARIANT)) == 0;
#else
    (void)variant;
    return 0;
#endif
}

void test_hooks_burn(uint64_t cycles)
{
    uint64_t end = rdtsc() + cycles * TEST_SLOW_FACTOR;

    while (rdtsc() < end)
        __asm__ volatile("rep; nop"); /* PAUSE */
}

uint64_t test_hooks_variant_checksum(const char *variant, uint64_t checksum)
{
#ifdef FLUID_TEST_BAD_VARIANT
    if (strcmp(variant, TEST_STRING(FLUID_TEST_BAD_VARIANT)) == 0)
        return checksum ^ TEST_BAD_CHECKSUM;
#else
    (void)variant;
#endif
    return checksum;
}
