/* Boot-time self-test of the heap (mem.c). */
#ifndef FLUID_MEM_SELFTEST_H
#define FLUID_MEM_SELFTEST_H

/* Exercises kmalloc/kfree/krealloc/kmalloc_aligned and coalescing on the
 * live heap; prints "mem selftest: ok" or ends the kernel with EXIT_CHECK.
 * Leaves the heap as it found it. */
void mem_selftest(void);

#endif
