/* The kernel heap: a first-fit allocator over the memory regions it is
 * given. It knows nothing about where regions come from (e820.c feeds it
 * the BIOS memory map), so it also runs in a host test program. */
#ifndef FLUID_MEM_H
#define FLUID_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Every block payload is aligned to this; kmalloc_aligned can ask more. */
#define MEM_GRANULE 16

/* `x` rounded up or down to a multiple of `a`, a power of two. */
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~(uintptr_t)((a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~(uintptr_t)((a) - 1))

/* Hands [base, base + len) to the allocator. Regions must not overlap
 * each other; adjacent ones merge. Pieces too small to hold a block are
 * ignored. */
void mem_add_region(uintptr_t base, size_t len);

/* Allocation panics with "out of memory: ..." naming the request instead
 * of returning NULL, so callers need no error path. */
void *kmalloc(size_t size);
void *kmalloc_aligned(size_t size, size_t align); /* align: power of two */
void kfree(void *p);                              /* NULL is ignored */

/* Resizes keeping the contents up to the smaller size: in place when the
 * block shrinks or the block after it is free, else by moving (which keeps
 * only MEM_GRANULE alignment). NULL p: kmalloc; size 0: kfree, NULL. */
void *krealloc(void *p, size_t size);

struct mem_stats {
    size_t managed_bytes; /* everything handed in with mem_add_region */
    size_t free_bytes;    /* in free blocks, headers included */
    size_t free_blocks;   /* 1 when all free memory is one run */
    size_t largest_free;  /* biggest free block, header included */
};

void mem_get_stats(struct mem_stats *st);

#endif
