/* The freestanding C library: the handful of string and memory routines the
 * kernel, the benchmarks and the compiler itself (which may emit calls to
 * memcpy/memset/memmove/memcmp) rely on.
 *
 * Like everything in src/runtime/, klib.c is shared: the same portable C
 * builds into the kernel (i686), the native benchmark runners (x86-64 and
 * i386 Linux) and the user-space JIT's module, so it has no inline assembly
 * and no i386 assumptions. */
#ifndef FLUID_KLIB_H
#define FLUID_KLIB_H

#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Longest output of kutoa: 64 binary digits plus the terminating NUL. */
#define KUTOA_BUF_LEN 65

/* Writes `value` in `base` (2..16, lower-case digits) to `buf`, which must
 * hold KUTOA_BUF_LEN bytes, NUL-terminates it and returns the digit count. */
size_t kutoa(uint64_t value, unsigned base, char *buf);

/* floor(a * b / c) without overflowing the 128-bit product; returns
 * UINT64_MAX when c is 0 or the quotient does not fit in 64 bits. */
uint64_t kmuldiv64(uint64_t a, uint64_t b, uint64_t c);

#endif
