/* Text output and argument parsing without libc: a bounded line buffer,
 * integer and fixed-point formatting, decimal parsing. */
#ifndef FLUID_NATIVE_TEXT_H
#define FLUID_NATIVE_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct text {
    char *buf;
    size_t cap; /* bytes of buf; appends past it are dropped */
    size_t len;
};

void text_char(struct text *t, char c);
void text_str(struct text *t, const char *s);
void text_u64(struct text *t, uint64_t value);
/* "0x" and 16 lowercase hex digits. */
void text_hex64(struct text *t, uint64_t value);
/* Whole-string unsigned decimal; returns 0 on success. */
int text_parse_u32(const char *s, uint32_t *out);

#endif
