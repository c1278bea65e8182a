/* Portable freestanding C library (see klib.h). Byte loops keep every
 * routine correct for any alignment and any target; the kernel never copies
 * enough memory for this to matter. The build compiles this file with
 * -ffreestanding -fno-builtin, which also stops the optimiser from turning
 * these loops back into calls to themselves. */
#include "klib.h"

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d == s || n == 0)
        return dst;
    if ((uintptr_t)d < (uintptr_t)s) {
        while (n--)
            *d++ = *s++;
    } else {
        /* Destination above source: copy from the end so overlapping
         * bytes are read before they are overwritten. */
        d += n;
        s += n;
        while (n--)
            *--d = *--s;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;

    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a;
    const unsigned char *y = b;

    for (; n; n--, x++, y++) {
        if (*x != *y)
            return *x < *y ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b || *a == '\0')
            return (unsigned char)*a - (unsigned char)*b;
    }
    return 0;
}

size_t kutoa(uint64_t value, unsigned base, char *buf)
{
    static const char digits[] = "0123456789abcdef";
    char rev[KUTOA_BUF_LEN];
    size_t n = 0;
    size_t i;

    if (base < 2 || base > 16)
        base = 10;
    do {
        /* Values that fit in 32 bits take the cheap 32-bit division: on a
         * 32-bit CPU a 64-bit one is a software routine. */
        if (value <= UINT32_MAX) {
            uint32_t v = (uint32_t)value;
            rev[n++] = digits[v % base];
            value = v / base;
        } else {
            rev[n++] = digits[value % base];
            value /= base;
        }
    } while (value);
    for (i = 0; i < n; i++)
        buf[i] = rev[n - 1 - i];
    buf[n] = '\0';
    return n;
}

uint64_t kmuldiv64(uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t low32 = UINT32_MAX;
    uint64_t p0, p1, p2, p3, mid, lo, hi, q, r;
    int bit;

    if (c == 0)
        return UINT64_MAX;

    /* 128-bit product hi:lo from four 32x32->64 partial products. */
    p0 = (a & low32) * (b & low32);
    p1 = (a & low32) * (b >> 32);
    p2 = (a >> 32) * (b & low32);
    p3 = (a >> 32) * (b >> 32);
    mid = (p0 >> 32) + (p1 & low32) + (p2 & low32);
    lo = (mid << 32) | (p0 & low32);
    hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);

    if (hi == 0)
        return lo / c;
    if (hi >= c)
        return UINT64_MAX; /* quotient needs more than 64 bits */

    /* Restoring long division of hi:lo by c, one quotient bit per step.
     * The remainder stays below c; `carry` catches the bit shifted out of
     * it when c is above 2^63, where 2r + 1 no longer fits in 64 bits. */
    q = 0;
    r = hi;
    for (bit = 63; bit >= 0; bit--) {
        uint64_t carry = r >> 63;

        r = (r << 1) | ((lo >> bit) & 1);
        q <<= 1;
        if (carry || r >= c) {
            r -= c;
            q |= 1;
        }
    }
    return q;
}
