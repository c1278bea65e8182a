/* What the native inference runner needs beyond src/bench/native/sys.h:
 * whole files into memory (through lseek) and the thread's CPU time
 * (infer_sys.c). */
#ifndef FLUID_INFER_NATIVE_SYS_H
#define FLUID_INFER_NATIVE_SYS_H

#include <stddef.h>
#include <stdint.h>

/* Fresh zeroed anonymous memory on a 2 MiB boundary, with transparent huge
 * pages asked for (madvise): a model streamed from memory at every token
 * then needs one TLB entry per 2 MiB instead of per 4 KiB (about 1.3x
 * faster on the 61 MB model here). The pages skipped to reach the boundary
 * are never touched, so never backed; a kernel without THP ignores the
 * advice. 0 if the memory cannot be mapped. */
void *map_huge(size_t bytes);

/* Reads the file at `path` into memory from map_huge, its first byte at
 * offset `pad` from a 2 MiB boundary (so that a chosen part of it lands on
 * an aligned address). Returns 0 and sets *data (the first byte) and
 * *bytes, or a negative errno (-EFBIG: the file does not fit the address
 * space). */
long file_read_all(const char *path, size_t pad, const uint8_t **data, size_t *bytes);

/* CPU time this thread has run, in nanoseconds (CLOCK_THREAD_CPUTIME_ID),
 * or 0 if it cannot be read: unlike the monotonic clock, it does not count
 * the time other processes had the CPU. */
uint64_t thread_cpu_ns(void);

#endif
