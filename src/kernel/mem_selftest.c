/* Heap self-test: runs on the real heap at boot, before the benchmarks
 * depend on it. Every check compares against what this allocator promises
 * (first fit, address-ordered coalescing), not just "did not crash". */
#include <stddef.h>
#include <stdint.h>

#include "exit.h"
#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "mem_selftest.h"

#define SELFTEST_BLOCKS 16
#define SELFTEST_MAX_ALIGN 4096
#define SELFTEST_SMALL 64
#define SELFTEST_MEDIUM 1000
#define SELFTEST_LARGE 4096

#define EXPECT(cond, what)                            \
    do {                                              \
        if (!(cond))                                  \
            check_failed("mem selftest: %s", (what)); \
    } while (0)

static void fill(void *p, size_t n, uint8_t seed)
{
    uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i);
}

static int intact(const void *p, size_t n, uint8_t seed)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        if (b[i] != (uint8_t)(seed + i))
            return 0;
    }
    return 1;
}

/* Blocks of varied sizes must not overlap (each keeps its pattern while
 * the others are written), and freeing them in a scrambled order must
 * coalesce the heap back to its starting shape. */
static void test_alloc_free(const struct mem_stats *before)
{
    void *blocks[SELFTEST_BLOCKS];
    struct mem_stats after;
    size_t i;

    for (i = 0; i < SELFTEST_BLOCKS; i++) {
        blocks[i] = kmalloc(SELFTEST_SMALL * (i + 1));
        EXPECT(((uintptr_t)blocks[i] & (MEM_GRANULE - 1)) == 0, "kmalloc alignment");
        fill(blocks[i], SELFTEST_SMALL * (i + 1), (uint8_t)i);
    }
    for (i = 0; i < SELFTEST_BLOCKS; i++)
        EXPECT(intact(blocks[i], SELFTEST_SMALL * (i + 1), (uint8_t)i), "blocks overlap");
    /* Odd indexes, then even ones: every free of the second pass merges
     * with free neighbours on both sides. */
    for (i = 1; i < SELFTEST_BLOCKS; i += 2)
        kfree(blocks[i]);
    for (i = 0; i < SELFTEST_BLOCKS; i += 2)
        kfree(blocks[i]);
    mem_get_stats(&after);
    EXPECT(after.free_bytes == before->free_bytes, "free bytes not restored");
    EXPECT(after.free_blocks == before->free_blocks, "free blocks did not coalesce");
}

/* Three neighbours freed outer-first: the middle free must join all three,
 * so a request of their combined size fits exactly where the first was. */
static void test_coalescing(void)
{
    uint8_t *a = kmalloc(SELFTEST_MEDIUM);
    uint8_t *b = kmalloc(SELFTEST_MEDIUM);
    uint8_t *c = kmalloc(SELFTEST_MEDIUM);
    uint8_t *all;

    EXPECT((uintptr_t)a < (uintptr_t)b && (uintptr_t)b < (uintptr_t)c,
           "first fit should allocate upward");
    kfree(a);
    kfree(c);
    kfree(b);
    all = kmalloc((size_t)((uintptr_t)c - (uintptr_t)a) + SELFTEST_MEDIUM);
    EXPECT(all == a, "freed neighbours did not merge");
    kfree(all);
}

static void test_aligned(void)
{
    size_t align;

    for (align = 1; align <= SELFTEST_MAX_ALIGN; align <<= 1) {
        uint8_t *p = kmalloc_aligned(SELFTEST_SMALL + align, align);

        EXPECT(((uintptr_t)p & (align - 1)) == 0, "kmalloc_aligned alignment");
        fill(p, SELFTEST_SMALL + align, (uint8_t)align);
        EXPECT(intact(p, SELFTEST_SMALL + align, (uint8_t)align), "aligned block");
        kfree(p);
    }
}

static void test_realloc(void)
{
    uint8_t *a = kmalloc(SELFTEST_SMALL);
    uint8_t *b = kmalloc(SELFTEST_SMALL);
    uint8_t *c = kmalloc(SELFTEST_SMALL);
    uint8_t *p;

    fill(a, SELFTEST_SMALL, 0xA5);
    /* With b freed, a can grow into it without moving. */
    kfree(b);
    p = krealloc(a, 2 * SELFTEST_SMALL);
    EXPECT(p == a, "krealloc did not grow in place");
    EXPECT(intact(p, SELFTEST_SMALL, 0xA5), "krealloc lost data (in place)");
    /* c blocks further growth: it must move and keep the contents. */
    p = krealloc(p, SELFTEST_LARGE);
    EXPECT(p != a, "krealloc grew over a used block");
    EXPECT(intact(p, SELFTEST_SMALL, 0xA5), "krealloc lost data (moved)");
    p = krealloc(p, SELFTEST_SMALL / 2);
    EXPECT(intact(p, SELFTEST_SMALL / 2, 0xA5), "krealloc lost data (shrunk)");
    EXPECT(krealloc(p, 0) == NULL, "krealloc(p, 0) should free");
    kfree(c);

    p = krealloc(NULL, SELFTEST_SMALL);
    EXPECT(p != NULL, "krealloc(NULL) should allocate");
    kfree(p);
    kfree(NULL);
    p = kmalloc(0);
    EXPECT(p != NULL, "kmalloc(0) should return a block");
    kfree(p);
}

void mem_selftest(void)
{
    struct mem_stats before, after;

    mem_get_stats(&before);
    EXPECT(before.free_bytes > 0, "no memory to test");
    test_alloc_free(&before);
    test_coalescing();
    test_aligned();
    test_realloc();
    mem_get_stats(&after);
    EXPECT(after.free_bytes == before.free_bytes, "heap leaked");
    EXPECT(after.free_blocks == before.free_blocks, "heap left fragmented");
    kprintf("mem selftest: ok\n");
}
