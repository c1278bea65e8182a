/* printf engine. Formatting is separated from output through a `sink`, so
 * the same code prints to the console and into buffers (panic messages). */
#include <stdint.h>

#include "console.h"
#include "klib.h"
#include "kprintf.h"

struct sink {
    void (*put)(struct sink *sink, char c);
    unsigned targets; /* console sink: CONSOLE_* bits */
    char *buf;        /* buffer sink */
    size_t size;
    size_t len;       /* characters produced so far (both sinks) */
};

/* Argument size given by the length modifier. */
enum length_modifier { LEN_INT, LEN_LONG, LEN_LONG_LONG, LEN_SIZE };

/* One parsed conversion specification. */
struct spec {
    int left;       /* '-' flag */
    char pad;       /* ' ' or '0' */
    unsigned width;
    enum length_modifier length;
};

#define HEX_BASE 16
#define DEC_BASE 10
#define POINTER_DIGITS (sizeof(void *) * 2)

static void emit(struct sink *s, char c)
{
    s->put(s, c);
    s->len++;
}

static void console_put(struct sink *s, char c)
{
    console_putc(s->targets, c);
}

static void buffer_put(struct sink *s, char c)
{
    if (s->len + 1 < s->size)
        s->buf[s->len] = c;
}

static void emit_repeat(struct sink *s, char c, unsigned n)
{
    while (n--)
        emit(s, c);
}

/* Emits `prefix` ("-", "0x" or "") and `body` padded to the spec's width:
 * zero padding goes between prefix and digits, space padding outside. */
static void emit_field(struct sink *s, const struct spec *sp,
                       const char *prefix, const char *body)
{
    size_t len = strlen(prefix) + strlen(body);
    unsigned fill = sp->width > len ? (unsigned)(sp->width - len) : 0;

    if (!sp->left && sp->pad == ' ')
        emit_repeat(s, ' ', fill);
    while (*prefix)
        emit(s, *prefix++);
    if (!sp->left && sp->pad == '0')
        emit_repeat(s, '0', fill);
    while (*body)
        emit(s, *body++);
    if (sp->left)
        emit_repeat(s, ' ', fill);
}

static void upcase(char *p)
{
    for (; *p; p++) {
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    }
}

static uint64_t take_unsigned(const struct spec *sp, va_list *ap)
{
    switch (sp->length) {
    case LEN_LONG:
        return va_arg(*ap, unsigned long);
    case LEN_LONG_LONG:
        return va_arg(*ap, unsigned long long);
    case LEN_SIZE:
        return va_arg(*ap, size_t);
    default:
        return va_arg(*ap, unsigned int);
    }
}

static int64_t take_signed(const struct spec *sp, va_list *ap)
{
    switch (sp->length) {
    case LEN_LONG:
        return va_arg(*ap, long);
    case LEN_LONG_LONG:
        return va_arg(*ap, long long);
    case LEN_SIZE:
        return (int64_t)va_arg(*ap, size_t);
    default:
        return va_arg(*ap, int);
    }
}

/* Parses flags, width and length after '%'; returns a pointer to the
 * conversion character. */
static const char *parse_spec(const char *p, struct spec *sp)
{
    sp->left = 0;
    sp->pad = ' ';
    sp->width = 0;
    sp->length = LEN_INT;
    for (;; p++) {
        if (*p == '-')
            sp->left = 1;
        else if (*p == '0')
            sp->pad = '0';
        else
            break;
    }
    while (*p >= '0' && *p <= '9')
        sp->width = sp->width * DEC_BASE + (unsigned)(*p++ - '0');
    if (*p == 'z') {
        sp->length = LEN_SIZE;
        p++;
    } else if (*p == 'l') {
        sp->length = LEN_LONG;
        if (*++p == 'l') {
            sp->length = LEN_LONG_LONG;
            p++;
        }
    }
    return p;
}

static void convert(struct sink *s, struct spec *sp, char conv, va_list *ap)
{
    char digits[KUTOA_BUF_LEN];
    char one[2] = { 0, 0 };
    const char *str;
    int64_t v;

    switch (conv) {
    case 'd':
    case 'i':
        v = take_signed(sp, ap);
        kutoa(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, DEC_BASE, digits);
        emit_field(s, sp, v < 0 ? "-" : "", digits);
        break;
    case 'u':
        kutoa(take_unsigned(sp, ap), DEC_BASE, digits);
        emit_field(s, sp, "", digits);
        break;
    case 'x':
    case 'X':
        kutoa(take_unsigned(sp, ap), HEX_BASE, digits);
        if (conv == 'X')
            upcase(digits);
        emit_field(s, sp, "", digits);
        break;
    case 'p':
        /* Full-width address, so columns of pointers line up. */
        kutoa((uintptr_t)va_arg(*ap, void *), HEX_BASE, digits);
        sp->pad = '0';
        sp->width = POINTER_DIGITS + 2;
        emit_field(s, sp, "0x", digits);
        break;
    case 'c':
        one[0] = (char)va_arg(*ap, int);
        emit_field(s, sp, "", one);
        break;
    case 's':
        str = va_arg(*ap, const char *);
        sp->pad = ' ';
        emit_field(s, sp, "", str ? str : "(null)");
        break;
    case '%':
        emit(s, '%');
        break;
    default:
        /* Unknown conversion: show it verbatim rather than guess. */
        emit(s, '%');
        emit(s, conv);
        break;
    }
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
    va_list args;
    struct spec sp;

    /* A local copy, so the conversion functions can share it through a
     * pointer (va_list may be an array type, whose address cannot be
     * taken portably when it is a parameter). */
    va_copy(args, ap);
    while (*fmt) {
        if (*fmt != '%') {
            emit(s, *fmt++);
            continue;
        }
        fmt = parse_spec(fmt + 1, &sp);
        if (*fmt == '\0')
            break;
        convert(s, &sp, *fmt++, &args);
    }
    va_end(args);
}

void kvprintf_to(unsigned targets, const char *fmt, va_list ap)
{
    struct sink s = { .put = console_put, .targets = targets };

    format(&s, fmt, ap);
}

void kprintf_to(unsigned targets, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kvprintf_to(targets, fmt, ap);
    va_end(ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kvprintf_to(CONSOLE_ALL, fmt, ap);
    va_end(ap);
}

size_t kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { .put = buffer_put, .buf = buf, .size = size };

    format(&s, fmt, ap);
    if (size > 0)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return s.len;
}

size_t ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
