/* Test-only failure triggers (see test_hooks.h). */
#include <stddef.h>
#include <stdint.h>

#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "module.h"
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
#define TEST_MODULE_BYTES_SHOWN 8 /* of a module FLUID_TEST_FIND_MODULE names */

#define TEST_FAULT_INVALID_OPCODE 1
#define TEST_FAULT_DIVIDE_ERROR 2

/* Volatile operands: the compiler must load them at run time, so it can
 * neither fold the division nor drop it as undefined behaviour. */
static volatile uint32_t test_dividend = 1;
static volatile uint32_t test_divisor;
static volatile uint32_t test_quotient;

#ifdef FLUID_TEST_FIND_MODULE
/* Prints what module_find returns for `name`: its entry and first bytes, as
 * the kernel reads them at its address, or none. */
static void report_module(const char *name)
{
    const struct boot_module *m = module_find(name);
    const uint8_t *bytes;
    uint32_t i;

    if (!m) {
        kprintf("test: module_find(%s): none\n", name);
        return;
    }
    kprintf("test: module_find(%s): %u bytes at 0x%08x, first bytes", name, m->bytes, m->addr);
    bytes = (const uint8_t *)(uintptr_t)m->addr;
    for (i = 0; i < m->bytes && i < TEST_MODULE_BYTES_SHOWN; i++)
        kprintf(" %02x", bytes[i]);
    kprintf("\n");
}

/* The module FLUID_TEST_FIND_MODULE names, then its name without the last
 * character: a prefix must not match. */
static void find_modules(void)
{
    char prefix[MODULE_NAME_LEN];
    size_t len = strlen(TEST_STRING(FLUID_TEST_FIND_MODULE));

    report_module(TEST_STRING(FLUID_TEST_FIND_MODULE));
    if (len == 0 || len >= sizeof(prefix))
        return;
    memcpy(prefix, TEST_STRING(FLUID_TEST_FIND_MODULE), len - 1);
    prefix[len - 1] = '\0';
    report_module(prefix);
}
#endif

void test_hooks_run(void)
{
#ifdef FLUID_TEST_FIND_MODULE
    find_modules();
#endif
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
