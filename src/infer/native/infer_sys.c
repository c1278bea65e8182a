/* System calls of the native inference runner beyond sys.c (infer_sys.h).
 * A file's size comes from lseek to the end: on i386 through the 32-bit
 * lseek, so a file of 2 GiB or more fails with -EOVERFLOW, as it would not
 * fit the address space anyway. */
#include "infer_sys.h"

#include "sys.h"

#define MADV_HUGEPAGE 14
#define HUGE_PAGE_BYTES (2u << 20)
#define SEEK_SET 0
#define SEEK_END 2
#define E_FBIG 27
#define E_IO 5

#define CLOCK_THREAD_CPUTIME_ID 3
#define NS_PER_SECOND 1000000000ull

#if defined(__x86_64__)
#define NR_LSEEK 8
#define NR_MADVISE 28
#define NR_CLOCK_GETTIME 228
#elif defined(__i386__)
#define NR_LSEEK 19
#define NR_MADVISE 219
#define NR_CLOCK_GETTIME 403 /* clock_gettime64: 64-bit seconds on i386 too */
#else
#error "the native inference runner supports i386 and x86-64 Linux only"
#endif

static long sys_lseek(int fd, long offset, int whence)
{
    return sys_call3(NR_LSEEK, fd, offset, whence);
}

void *map_huge(size_t bytes)
{
    if (bytes > (size_t)-1 - HUGE_PAGE_BYTES)
        return 0;
    uint8_t *map = sys_map_anon(bytes + HUGE_PAGE_BYTES);
    if (!map)
        return 0;
    map += (HUGE_PAGE_BYTES - (uintptr_t)map % HUGE_PAGE_BYTES) % HUGE_PAGE_BYTES;
    sys_call3(NR_MADVISE, (long)map, (long)bytes, MADV_HUGEPAGE);
    return map;
}

long file_read_all(const char *path, size_t pad, const uint8_t **data, size_t *bytes)
{
    long fd = sys_open(path, SYS_O_RDONLY, 0);
    if (fd < 0)
        return fd;
    long size = sys_lseek((int)fd, 0, SEEK_END);
    long err = size < 0 ? size : sys_lseek((int)fd, 0, SEEK_SET);
    if (err < 0) {
        sys_close((int)fd);
        return err;
    }
    size_t total = (size_t)size;
    if (total > (size_t)-1 - pad - 2 * HUGE_PAGE_BYTES) {
        sys_close((int)fd);
        return -E_FBIG;
    }
    uint8_t *map = map_huge(total + pad + 1); /* +1: a zero-length file still maps */
    if (!map) {
        sys_close((int)fd);
        return -E_FBIG;
    }
    uint8_t *p = map + pad;
    size_t got = 0;
    long n = 1;
    while (got < total && (n = sys_read((int)fd, p + got, total - got)) > 0)
        got += (size_t)n;
    sys_close((int)fd);
    if (n < 0)
        return n;
    if (got != total)
        return -E_IO; /* the file shrank while read */
    *data = p;
    *bytes = total;
    return 0;
}

uint64_t thread_cpu_ns(void)
{
    int64_t ts[2]; /* struct __kernel_timespec */
    if (sys_call3(NR_CLOCK_GETTIME, CLOCK_THREAD_CPUTIME_ID, (long)ts, 0) != 0)
        return 0;
    return (uint64_t)ts[0] * NS_PER_SECOND + (uint64_t)ts[1];
}
