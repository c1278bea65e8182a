/* The boot command line. Under QEMU a run profile's `cmdline` arrives as a
 * fw_cfg file; without the device (real hardware) every option keeps its
 * default, so the kernel boots the same way it did before it had one.
 * Words are separated by spaces; each is `key=value` with a key and values
 * of the spec's CMDLINE_OPTIONS (the qemu plugin checks a profile's words
 * against the same list when the manifest loads). A word the kernel cannot
 * take is a panic naming it: a run never goes on with settings it did not
 * ask for. */
#include <stddef.h>
#include <stdint.h>

#include "cmdline.h"
#include "exit.h"
#include "fwcfg.h"
#include "klib.h"

/* One option: where it goes and what it takes. */
struct option {
    const char *name;
    size_t offset;               /* of its field in struct cmdline */
    const char *const *values;   /* a choice: the names of its values, by value; NULL: an integer */
    uint32_t count;              /* a choice: how many values; an integer: its maximum */
};

#define VALUE_NAME(constant, name) [constant] = name,
#define CHOICE_VALUES(field, name, def, VALUES) static const char *const field##_values[] = {VALUES(VALUE_NAME)};
#define NO_VALUES(field, name, def, max)
CMDLINE_OPTIONS(CHOICE_VALUES, NO_VALUES)

#define CHOICE(field, name, def, VALUES) \
    {name, offsetof(struct cmdline, field), field##_values, sizeof(field##_values) / sizeof(field##_values[0])},
#define NUMBER(field, name, def, max) {name, offsetof(struct cmdline, field), NULL, max},
static const struct option options[] = {CMDLINE_OPTIONS(CHOICE, NUMBER)};
#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

#define DEFAULT(field, name, def, more) .field = def,
static struct cmdline current = {CMDLINE_OPTIONS(DEFAULT, DEFAULT)};

static char text[CMDLINE_MAX_BYTES + 1];

/* Words are at most the whole line; printed with %s from this copy. */
static char word[CMDLINE_MAX_BYTES + 1];

static const struct option *option_named(const char *key, size_t len)
{
    uint32_t i;

    for (i = 0; i < OPTION_COUNT; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, key, len) == 0)
            return &options[i];
    return NULL;
}

/* "workload, infer_logits": every option's name. */
static void option_names(char *out, size_t size)
{
    size_t at = 0;
    uint32_t i;

    out[0] = '\0';
    for (i = 0; i < OPTION_COUNT && at < size; i++)
        at += ksnprintf(out + at, size - at, "%s%s", i ? ", " : "", options[i].name);
}

/* "bench or infer", "an integer from 0 to 64": what `o` takes. */
static void expected(const struct option *o, char *out, size_t size)
{
    size_t at = 0;
    uint32_t i;

    if (!o->values) {
        ksnprintf(out, size, "an integer from 0 to %u", o->count);
        return;
    }
    out[0] = '\0';
    for (i = 0; i < o->count && at < size; i++)
        at += ksnprintf(out + at, size - at, "%s%s", i == 0 ? "" : i + 1 < o->count ? ", " : " or ",
                        o->values[i]);
}

/* The value of `value` (NUL-terminated) for `o`, or -1 if it takes no such. */
static int64_t value_of(const struct option *o, const char *value)
{
    uint64_t n = 0;
    uint32_t i;

    if (o->values) {
        for (i = 0; i < o->count; i++)
            if (strcmp(o->values[i], value) == 0)
                return i;
        return -1;
    }
    if (value[0] == '\0')
        return -1;
    for (; *value; value++) {
        if (*value < '0' || *value > '9')
            return -1;
        n = n * 10 + (uint64_t)(*value - '0');
        if (n > o->count) /* past the maximum already: no overflow either */
            return -1;
    }
    return (int64_t)n;
}

/* One `key=value` word of `len` bytes at `w`. */
static void take_word(const char *w, size_t len)
{
    const struct option *o;
    const char *eq;
    char want[CMDLINE_MAX_BYTES];
    int64_t v;

    memcpy(word, w, len);
    word[len] = '\0';
    eq = word;
    while (*eq && *eq != '=')
        eq++;
    if (*eq != '=')
        panic("cmdline: '%s' is not key=value", word);
    o = option_named(word, (size_t)(eq - word));
    if (!o) {
        word[eq - word] = '\0';
        option_names(want, sizeof(want));
        panic("cmdline: unknown option '%s' (the options are %s)", word, want);
    }
    v = value_of(o, eq + 1);
    if (v < 0) {
        expected(o, want, sizeof(want));
        panic("cmdline: %s: expected %s", word, want);
    }
    *(uint32_t *)((char *)&current + o->offset) = (uint32_t)v;
}

static void parse(const char *s)
{
    while (*s) {
        size_t len = 0;

        while (*s == ' ')
            s++;
        while (s[len] && s[len] != ' ')
            len++;
        if (len)
            take_word(s, len);
        s += len;
    }
}

void cmdline_init(void)
{
    struct fwcfg_file f;

    if (!fwcfg_find(CMDLINE_FWCFG_FILE, &f))
        return;
    if (f.bytes > CMDLINE_MAX_BYTES)
        panic("cmdline: fw_cfg file %s has %u bytes, more than the %u a command line may have",
              CMDLINE_FWCFG_FILE, f.bytes, CMDLINE_MAX_BYTES);
    fwcfg_read(&f, text, f.bytes);
    text[f.bytes] = '\0';
    if (strlen(text) != f.bytes)
        panic("cmdline: fw_cfg file %s holds a NUL byte", CMDLINE_FWCFG_FILE);
    parse(text);
}

const struct cmdline *cmdline_options(void)
{
    return &current;
}

const char *cmdline_text(void)
{
    return text;
}
