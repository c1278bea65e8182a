/* Number formatting with 32-bit divisions only: i386 has no 64-bit divide
 * instruction and the runner links no compiler runtime (__udivdi3). */
#include "text.h"

#define DECIMAL_DIGITS_U64 20
#define LIMB_BITS 16
#define LIMB_MASK 0xffffu

void text_char(struct text *t, char c)
{
    if (t->len < t->cap)
        t->buf[t->len++] = c;
}

void text_str(struct text *t, const char *s)
{
    while (*s)
        text_char(t, *s++);
}

/* *value /= divisor, returns the remainder: long division over four 16-bit
 * limbs, so each step is a 32-by-32 division (divisor < 2^16). */
static uint32_t divmod_u64(uint64_t *value, uint32_t divisor)
{
    uint64_t quotient = 0;
    uint32_t rem = 0;
    for (int shift = 64 - LIMB_BITS; shift >= 0; shift -= LIMB_BITS) {
        uint32_t cur = (rem << LIMB_BITS) | (uint32_t)((*value >> shift) & LIMB_MASK);
        quotient |= (uint64_t)(cur / divisor) << shift;
        rem = cur % divisor;
    }
    *value = quotient;
    return rem;
}

void text_u64(struct text *t, uint64_t value)
{
    char digits[DECIMAL_DIGITS_U64];
    int n = 0;
    do
        digits[n++] = (char)('0' + divmod_u64(&value, 10));
    while (value != 0);
    while (n > 0)
        text_char(t, digits[--n]);
}

void text_hex64(struct text *t, uint64_t value)
{
    static const char hex[] = "0123456789abcdef";
    text_str(t, "0x");
    for (int shift = 60; shift >= 0; shift -= 4)
        text_char(t, hex[(value >> shift) & 0xf]);
}

int text_parse_u32(const char *s, uint32_t *out)
{
    uint64_t value = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        value = value * 10 + (uint64_t)(*s - '0');
        if (value > 0xffffffffu)
            return -1;
    }
    *out = (uint32_t)value;
    return 0;
}
