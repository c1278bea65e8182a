/* Formatted output for the kernel: a small printf supporting
 * %s %c %d %i %u %x %X %p %% with the length modifiers l, ll and z, a field
 * width, and the '0' (zero pad) and '-' (left justify) flags. */
#ifndef FLUID_KPRINTF_H
#define FLUID_KPRINTF_H

#include <stdarg.h>
#include <stddef.h>

#define KPRINTF_FORMAT(fmt_index, first_arg) \
    __attribute__((format(printf, fmt_index, first_arg)))

/* To the screen and the serial port. */
void kprintf(const char *fmt, ...) KPRINTF_FORMAT(1, 2);

/* To the CONSOLE_* targets given: CONSOLE_SERIAL for machine-readable
 * lines that would only clutter the screen. */
void kprintf_to(unsigned targets, const char *fmt, ...) KPRINTF_FORMAT(2, 3);
void kvprintf_to(unsigned targets, const char *fmt, va_list ap);

/* Into `buf` (always NUL-terminated when size > 0, truncated if needed);
 * returns the length the full output would have had. */
size_t ksnprintf(char *buf, size_t size, const char *fmt, ...)
    KPRINTF_FORMAT(3, 4);
size_t kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
