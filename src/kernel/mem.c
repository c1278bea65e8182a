/* First-fit heap with an address-ordered free list.
 *
 * Every block, free or used, starts with a header giving its size. Free
 * blocks are chained in address order, which makes coalescing a matter of
 * comparing a freed block with its two list neighbours: if they touch, they
 * merge. So memory freed in any order returns to the large runs it came
 * from, and fragmentation stays bounded by what is actually in use.
 *
 * Portable C (no hardware access): the kernel gives it the E820 regions, a
 * host test can give it an array. */
#include <stddef.h>
#include <stdint.h>

#include "exit.h"
#include "klib.h"
#include "mem.h"

/* Distinct values so a stray pointer or a double free is caught instead
 * of silently corrupting the list. */
#define MEM_MAGIC_FREE 0x46524545u /* "FREE" */
#define MEM_MAGIC_USED 0x55534544u /* "USED" */

struct mem_block {
    size_t size;            /* whole block in bytes, header included */
    uint32_t magic;         /* MEM_MAGIC_FREE or MEM_MAGIC_USED */
    struct mem_block *next; /* free blocks only: next free block by address */
};

/* The header is padded to the granule so payloads stay aligned. */
#define MEM_HEADER ALIGN_UP(sizeof(struct mem_block), MEM_GRANULE)
/* Smallest block worth keeping: a header and one granule of payload. */
#define MEM_MIN_BLOCK (MEM_HEADER + MEM_GRANULE)

static struct mem_block *free_list;
static size_t managed_bytes;

static uintptr_t block_end(const struct mem_block *b)
{
    return (uintptr_t)b + b->size;
}

static void *payload(struct mem_block *b)
{
    return (unsigned char *)b + MEM_HEADER;
}

static struct mem_block *header_of(void *p, const char *who)
{
    struct mem_block *b = (struct mem_block *)((unsigned char *)p - MEM_HEADER);

    if (b->magic != MEM_MAGIC_USED)
        panic("%s(%p): not an allocated block (double free or corruption)", who, p);
    return b;
}

static struct mem_block *make_block(uintptr_t at, size_t size, uint32_t magic)
{
    struct mem_block *b = (struct mem_block *)at;

    b->size = size;
    b->magic = magic;
    b->next = NULL;
    return b;
}

/* Links `b` into the address-ordered free list and merges it with the
 * neighbours it touches. */
static void free_list_insert(struct mem_block *b)
{
    struct mem_block *prev = NULL;
    struct mem_block *cur = free_list;

    while (cur && (uintptr_t)cur < (uintptr_t)b) {
        prev = cur;
        cur = cur->next;
    }
    if ((prev && block_end(prev) > (uintptr_t)b) ||
        (cur && block_end(b) > (uintptr_t)cur))
        panic("heap corrupted: block %p overlaps a free block", (void *)b);

    b->magic = MEM_MAGIC_FREE;
    b->next = cur;
    if (prev)
        prev->next = b;
    else
        free_list = b;

    if (cur && block_end(b) == (uintptr_t)cur) {
        b->size += cur->size;
        b->next = cur->next;
    }
    if (prev && block_end(prev) == (uintptr_t)b) {
        prev->size += b->size;
        prev->next = b->next;
    }
}

static void free_list_remove(struct mem_block *b)
{
    struct mem_block **link = &free_list;

    while (*link != b)
        link = &(*link)->next;
    *link = b->next;
}

/* Gives the tail of used block `b` beyond `keep` bytes back to the free
 * list, if the tail is big enough to be a block of its own. */
static void trim_tail(struct mem_block *b, size_t keep)
{
    if (b->size - keep < MEM_MIN_BLOCK)
        return;
    free_list_insert(make_block((uintptr_t)b + keep, b->size - keep, MEM_MAGIC_FREE));
    b->size = keep;
}

/* Where in free block `f` a block whose payload is `align`-aligned would
 * start, or 0 if `need` bytes do not fit. A gap left in front must be a
 * whole block (it goes back to the free list) or nothing. */
static uintptr_t fit_in(const struct mem_block *f, size_t need, size_t align)
{
    uintptr_t start = ALIGN_UP((uintptr_t)f + MEM_HEADER, align) - MEM_HEADER;

    if (start != (uintptr_t)f && start - (uintptr_t)f < MEM_MIN_BLOCK)
        start = ALIGN_UP((uintptr_t)f + MEM_MIN_BLOCK + MEM_HEADER, align) - MEM_HEADER;
    if (start < (uintptr_t)f || start > block_end(f) || block_end(f) - start < need)
        return 0;
    return start;
}

/* Block size (header included) for a request, or 0 if it overflows. */
static size_t block_size_for(size_t size)
{
    if (size > SIZE_MAX - MEM_HEADER - MEM_GRANULE)
        return 0;
    if (size == 0)
        size = 1;
    return ALIGN_UP(size, MEM_GRANULE) + MEM_HEADER;
}

void mem_add_region(uintptr_t base, size_t len)
{
    uintptr_t start = ALIGN_UP(base, MEM_GRANULE);
    uintptr_t end = len > UINTPTR_MAX - base ? UINTPTR_MAX : base + len;

    end = ALIGN_DOWN(end, MEM_GRANULE);
    if (start == 0) /* never hand out an address that reads as NULL */
        start = MEM_GRANULE;
    if (end <= start || end - start < MEM_MIN_BLOCK)
        return;
    managed_bytes += end - start;
    free_list_insert(make_block(start, end - start, MEM_MAGIC_FREE));
}

void *kmalloc_aligned(size_t size, size_t align)
{
    size_t need = block_size_for(size);
    struct mem_block *f;
    uintptr_t start = 0;
    size_t front, avail;
    struct mem_block *b;

    if (align == 0 || (align & (align - 1)) != 0)
        panic("kmalloc_aligned(%zu, %zu): alignment is not a power of two", size, align);
    if (align < MEM_GRANULE)
        align = MEM_GRANULE;

    for (f = need ? free_list : NULL; f; f = f->next) {
        start = fit_in(f, need, align);
        if (start)
            break;
    }
    if (!f)
        panic("out of memory: kmalloc(%zu bytes, align %zu)", size, align);

    /* Carve [start, start + need) out of f; the front gap stays free,
     * a tail large enough becomes a new free block. Unlink f before its
     * header can be overwritten by the new block's. */
    front = start - (uintptr_t)f;
    avail = f->size - front;
    if (front)
        f->size = front;
    else
        free_list_remove(f);
    b = make_block(start, avail, MEM_MAGIC_USED);
    trim_tail(b, need);
    return payload(b);
}

void *kmalloc(size_t size)
{
    return kmalloc_aligned(size, MEM_GRANULE);
}

void kfree(void *p)
{
    if (p)
        free_list_insert(header_of(p, "kfree"));
}

/* Grows used block `b` in place to `need` bytes by absorbing the free
 * block right after it; returns 0 if that block is absent or too small. */
static int grow_in_place(struct mem_block *b, size_t need)
{
    struct mem_block *next = free_list;

    while (next && (uintptr_t)next < block_end(b))
        next = next->next;
    if (!next || (uintptr_t)next != block_end(b) || b->size + next->size < need)
        return 0;
    free_list_remove(next);
    b->size += next->size;
    trim_tail(b, need);
    return 1;
}

void *krealloc(void *p, size_t size)
{
    struct mem_block *b;
    size_t need;
    void *q;

    if (!p)
        return kmalloc(size);
    if (size == 0) {
        kfree(p);
        return NULL;
    }
    b = header_of(p, "krealloc");
    need = block_size_for(size);
    if (need == 0)
        panic("out of memory: krealloc(%zu bytes)", size);
    if (need <= b->size) {
        trim_tail(b, need);
        return p;
    }
    if (grow_in_place(b, need))
        return p;
    q = kmalloc(size);
    memcpy(q, p, b->size - MEM_HEADER);
    kfree(p);
    return q;
}

void mem_get_stats(struct mem_stats *st)
{
    const struct mem_block *f;

    memset(st, 0, sizeof(*st));
    st->managed_bytes = managed_bytes;
    for (f = free_list; f; f = f->next) {
        st->free_bytes += f->size;
        st->free_blocks++;
        if (f->size > st->largest_free)
            st->largest_free = f->size;
    }
}
