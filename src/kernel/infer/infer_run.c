/* The inference workload: text generation by the engine of src/infer/ on
 * the model the boot modules hold. The modules are the build's files as
 * stage 2 loaded them (CRC-checked), but their content is the user's: the
 * engine checks the checkpoint and the tokenizer completely before it
 * reads through them, and every failure is a panic naming the module, its
 * file and the engine's check, never a read past a buffer or a hang.
 *
 * Generation is the native runner's (src/infer/native/infer_main.c): the
 * prompt is encoded (BOS first) and fed position by position, then the
 * settings' `tokens` are sampled (temperature 0: greedy), each fed back
 * but the last. Time is the TSC's over the forward passes and the
 * sampling; printing the text and keeping the logits for FLUID-LOGITS is
 * timed apart and left out, so the serial line's speed costs the figures
 * nothing. */
#include <stddef.h>
#include <stdint.h>

#include "console.h"
#include "exit.h"
#include "infer.h"
#include "infer_jit.h"
#include "infer_run.h"
#include "infer_select.h"
#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "module.h"
#include "protocol.h"
#include "timer.h"

#define MILLI 1000ull
#define ASCII_SPACE 0x20
#define ASCII_DEL 0x7f

/* The `infer` module, checked, its strings NUL-terminated copies. */
struct settings {
    uint32_t tokens;
    float temperature, topp;
    uint64_t seed;
    char *model, *tokenizer; /* the files' project-relative paths */
    const char *prompt;      /* inside the module, not NUL-terminated */
    size_t prompt_bytes;
};

/* What one run produced. */
struct generation {
    int32_t *prompt, *out;
    size_t n_prompt, n, forwards;
    uint64_t cycles;
    /* The first `kept` positions' logits and the tokens fed there, for
     * FLUID-LOGITS: printed after the text, which stays in one piece. */
    float *logits;
    int32_t *fed;
    size_t kept;
};

static const struct boot_module *require(const char *name)
{
    const struct boot_module *m = module_find(name);

    if (!m)
        panic("infer: no boot module '%s' (workload=infer needs the modules '%s', '%s' and '%s': "
              "the manifest's image.modules)", name, INFER_MODULE_MODEL, INFER_MODULE_TOKENIZER,
              INFER_MODULE_SETTINGS);
    return m;
}

static const void *module_bytes(const struct boot_module *m)
{
    return (const void *)(uintptr_t)m->addr;
}

/* A NUL-terminated copy of `len` bytes at `p`, which must hold no NUL. */
static char *string_field(const char *what, const char *p, size_t len)
{
    char *s = kmalloc(len + 1);

    memcpy(s, p, len);
    s[len] = '\0';
    if (strlen(s) != len)
        panic("infer: module '%s': its %s holds a NUL byte", INFER_MODULE_SETTINGS, what);
    return s;
}

/* The settings module, every field checked against the spec's ranges. */
static void read_settings(struct settings *s)
{
    const struct boot_module *m = require(INFER_MODULE_SETTINGS);
    const struct infer_settings *h = module_bytes(m);
    const char *strings = (const char *)h + INFER_SETTINGS_SIZE;
    uint64_t need;

    if (m->bytes < INFER_SETTINGS_SIZE)
        panic("infer: module '%s' has %u bytes, shorter than its %u-byte header", INFER_MODULE_SETTINGS,
              m->bytes, INFER_SETTINGS_SIZE);
    if (memcmp(h->magic, INFER_SETTINGS_MAGIC, INFER_SETTINGS_MAGIC_LEN) != 0 ||
        h->version != INFER_SETTINGS_VERSION || h->header_size != INFER_SETTINGS_SIZE)
        panic("infer: module '%s' is not version %u inference settings (magic, version or header size)",
              INFER_MODULE_SETTINGS, INFER_SETTINGS_VERSION);
    need = (uint64_t)INFER_SETTINGS_SIZE + h->model_bytes + h->tokenizer_bytes + h->prompt_bytes;
    if (need != m->bytes)
        panic("infer: module '%s' has %u bytes, its header's lengths need %llu", INFER_MODULE_SETTINGS,
              m->bytes, (unsigned long long)need);
    if (h->tokens < 1 || h->tokens > INFER_SETTINGS_MAX_TOKENS || h->model_bytes < 1 ||
        h->model_bytes > INFER_SETTINGS_MAX_PATH || h->tokenizer_bytes < 1 ||
        h->tokenizer_bytes > INFER_SETTINGS_MAX_PATH || h->prompt_bytes > INFER_SETTINGS_MAX_PROMPT)
        panic("infer: module '%s': tokens %u, path lengths %u and %u, prompt %u bytes: out of range",
              INFER_MODULE_SETTINGS, h->tokens, h->model_bytes, h->tokenizer_bytes, h->prompt_bytes);
    s->tokens = h->tokens;
    s->temperature = h->temperature;
    s->topp = h->topp;
    s->seed = h->seed;
    s->model = string_field("checkpoint path", strings, h->model_bytes);
    s->tokenizer = string_field("tokenizer path", strings + h->model_bytes, h->tokenizer_bytes);
    s->prompt = strings + h->model_bytes + h->tokenizer_bytes;
    s->prompt_bytes = h->prompt_bytes;
}

__attribute__((noreturn)) static void refuse(const char *module, const char *path, int status,
                                             const char *detail)
{
    panic("infer: module '%s' (%s): %s (%s)%s", module, path, infer_status_message(status),
          infer_status_name(status), detail);
}

/* The checkpoint and the tokenizer, checked as infer_init will, with the
 * figures in the message. */
static void check_model(const struct settings *s, struct infer_inputs *in, struct infer_config *config)
{
    const struct boot_module *ck = require(INFER_MODULE_MODEL), *tok = require(INFER_MODULE_TOKENIZER);
    char detail[128] = "";
    uint32_t count;
    int status;

    in->checkpoint = module_bytes(ck);
    in->checkpoint_bytes = ck->bytes;
    in->tokenizer = module_bytes(tok);
    in->tokenizer_bytes = tok->bytes;
    status = infer_read_config(in->checkpoint, in->checkpoint_bytes, config);
    if (status == INFER_ERR_TRUNCATED || status == INFER_ERR_SIZE_MISMATCH) {
        struct infer_config header;

        infer_read_header(in->checkpoint, &header);
        ksnprintf(detail, sizeof(detail), ": %u bytes, its header's sizes need %llu", ck->bytes,
                  (unsigned long long)infer_checkpoint_bytes(&header));
    }
    if (status != INFER_OK)
        refuse(INFER_MODULE_MODEL, s->model, status, detail);
    status = infer_tokenizer_tokens(in->tokenizer, in->tokenizer_bytes, &count);
    if (status != INFER_OK)
        refuse(INFER_MODULE_TOKENIZER, s->tokenizer, status, "");
    if (count != (uint32_t)config->vocab_size) {
        ksnprintf(detail, sizeof(detail), ": %u tokens, the checkpoint's vocab_size is %d", count,
                  config->vocab_size);
        refuse(INFER_MODULE_TOKENIZER, s->tokenizer, INFER_ERR_VOCAB_MISMATCH, detail);
    }
}

/* A piece of text on screen and serial, as llama2.c prints it: a single
 * byte that is a control character (other than a newline or a tab) is
 * left out, so the model cannot steer the terminal. */
static void print_piece(const struct infer *m, int32_t prev, int32_t token)
{
    size_t len, i;
    const uint8_t *p = infer_decode(m, prev, token, &len);

    if (len == 1 && (p[0] < ASCII_SPACE || p[0] == ASCII_DEL) && p[0] != '\n' && p[0] != '\t')
        return;
    for (i = 0; i < len; i++)
        console_putc(CONSOLE_ALL, (char)p[i]);
}

/* FLUID-LOGITS: the exact bits of every logit of each kept position. */
static void print_logits(const struct infer *m, const struct generation *g)
{
    size_t vocab = (size_t)m->config.vocab_size, pos, i;

    for (pos = 0; pos < g->kept; pos++) {
        kprintf_to(CONSOLE_SERIAL, "FLUID-LOGITS {\"pos\":%u,\"token\":%d,\"bits\":\"", (uint32_t)pos,
                   g->fed[pos]);
        for (i = 0; i < vocab; i++) {
            union {
                float f;
                uint32_t u;
            } v = {g->logits[pos * vocab + i]};

            kprintf_to(CONSOLE_SERIAL, "%08x", v.u);
        }
        kprintf_to(CONSOLE_SERIAL, "\"}\n");
    }
}

/* Encodes the prompt into g->prompt (BOS first); the whole run must fit
 * the model's positions. Room for the first `logits` positions' logits. */
static void encode(const struct infer *m, const struct settings *s, uint32_t logits, struct generation *g)
{
    size_t room = 2 * (s->prompt_bytes + 3); /* infer_encode's scratch included */
    int status;

    g->prompt = kmalloc(room * sizeof(int32_t));
    g->out = kmalloc(s->tokens * sizeof(int32_t));
    g->logits = kmalloc((size_t)logits * (size_t)m->config.vocab_size * sizeof(float));
    g->fed = kmalloc(logits * sizeof(int32_t));
    g->kept = 0;
    status = infer_encode(m, s->prompt, s->prompt_bytes, 1, 0, g->prompt, room, &g->n_prompt);
    if (status != INFER_OK)
        panic("infer: the prompt of module '%s': %s (%s)", INFER_MODULE_SETTINGS, infer_status_message(status),
              infer_status_name(status));
    if ((uint64_t)g->n_prompt + s->tokens - 1 > (uint64_t)m->config.seq_len)
        panic("infer: the prompt's %u tokens and %u steps need %u positions, the model (%s) has seq_len %d",
              (uint32_t)g->n_prompt, s->tokens, (uint32_t)(g->n_prompt + s->tokens - 1), s->model,
              m->config.seq_len);
}

/* Feeds the prompt and samples s->tokens tokens, printing as it goes. */
static void generate(struct infer *m, const struct settings *s, uint32_t logits, struct generation *g)
{
    struct infer_sampler sampler;
    uint64_t start, out_cycles = 0, t0;
    int32_t token = g->prompt[0];
    size_t pos, vocab = (size_t)m->config.vocab_size;

    if (infer_sampler_init(&sampler, s->temperature, s->topp, s->seed) != INFER_OK)
        panic("infer: module '%s': temperature or top-p out of range", INFER_MODULE_SETTINGS);
    for (pos = 1; pos < g->n_prompt; pos++)
        print_piece(m, g->prompt[pos - 1], g->prompt[pos]);
    g->n = 0;
    g->forwards = 0;
    start = rdtsc();
    for (pos = 0; g->n < s->tokens; pos++) {
        float *l = (float *)infer_forward(m, token, (int32_t)pos);
        int32_t next;

        if (!l)
            panic("infer: token %d or position %u out of range", token, (uint32_t)pos);
        g->forwards++;
        if (pos < logits) {
            t0 = rdtsc();
            memcpy(g->logits + pos * vocab, l, vocab * sizeof(float));
            g->fed[g->kept++] = token;
            out_cycles += rdtsc() - t0;
        }
        if (pos + 1 < g->n_prompt) {
            next = g->prompt[pos + 1];
        } else {
            next = infer_sample(m, &sampler, l);
            g->out[g->n++] = next;
            t0 = rdtsc();
            print_piece(m, token, next);
            out_cycles += rdtsc() - t0;
        }
        token = next;
    }
    g->cycles = rdtsc() - start - out_cycles;
    kprintf("\n");
    print_logits(m, g);
}

/* The token position `pos` was fed: a prompt token, or a generated one fed
 * back. */
static int32_t fed_at(const struct generation *g, size_t pos)
{
    return pos < g->n_prompt ? g->prompt[pos] : g->out[pos - g->n_prompt];
}

static void print_ids(const int32_t *ids, size_t n)
{
    size_t i;

    kprintf_to(CONSOLE_SERIAL, "[");
    for (i = 0; i < n; i++)
        kprintf_to(CONSOLE_SERIAL, "%s%d", i ? "," : "", ids[i]);
    kprintf_to(CONSOLE_SERIAL, "]");
}

/* Forward passes per second, times 1000. */
static uint64_t rate_milli(const struct generation *g)
{
    return g->cycles ? kmuldiv64((uint64_t)g->forwards * MILLI, tsc_hz(), g->cycles) : 0;
}

static void report(const struct infer *m, const struct settings *s, const struct generation *g,
                   size_t arena_bytes, const struct select_result *r, const char *phase)
{
    const struct infer_config *c = &m->config;
    uint64_t milli = rate_milli(g);

    kprintf("infer: %u tokens, %u forward passes in %llu us: %llu.%03llu tok/s (%s, %s)\n", (uint32_t)g->n,
            (uint32_t)g->forwards, (unsigned long long)tsc_cycles_to_us(g->cycles),
            (unsigned long long)(milli / MILLI), (unsigned long long)(milli % MILLI), m->kernels->variant,
            phase);
    kprintf_to(CONSOLE_SERIAL, "FLUID-INFER {\"model\":");
    console_write_json_string(CONSOLE_SERIAL, s->model);
    kprintf_to(CONSOLE_SERIAL, ",\"tokenizer\":");
    console_write_json_string(CONSOLE_SERIAL, s->tokenizer);
    kprintf_to(CONSOLE_SERIAL, ",\"arch\":\"i386\",\"variant\":");
    console_write_json_string(CONSOLE_SERIAL, m->kernels->variant);
    kprintf_to(CONSOLE_SERIAL, ",\"phase\":\"%s\",\"prompt_tokens\":", phase);
    print_ids(g->prompt, g->n_prompt);
    kprintf_to(CONSOLE_SERIAL, ",\"tokens\":");
    print_ids(g->out, g->n);
    kprintf_to(CONSOLE_SERIAL,
               ",\"n\":%u,\"steps\":%u,\"seed\":%llu,\"forwards\":%u,\"ns\":%llu,\"tok_per_s\":%llu.%03llu,"
               "\"dim\":%d,\"n_layers\":%d,\"vocab_size\":%d,\"seq_len\":%d,\"arena_bytes\":%u,\"cycles\":%llu",
               (uint32_t)g->n, s->tokens, (unsigned long long)s->seed, (uint32_t)g->forwards,
               (unsigned long long)tsc_cycles_to_ns(g->cycles), (unsigned long long)(milli / MILLI),
               (unsigned long long)(milli % MILLI), c->dim, c->n_layers, c->vocab_size, c->seq_len,
               (uint32_t)arena_bytes, (unsigned long long)g->cycles);
    select_print_fields(r);
    kprintf_to(CONSOLE_SERIAL, "}\n");
}

void infer_run(uint32_t logits, uint32_t usable)
{
    static struct infer model;
    static struct select_result selection;
    struct settings s;
    struct infer_inputs in;
    struct infer_config config;
    struct generation g;
    const struct infer_variant *chosen;
    size_t arena_bytes, last;
    int32_t tokens[2];
    void *arena;
    int status;

    read_settings(&s);
    check_model(&s, &in, &config);
    arena_bytes = infer_mem_bytes(&config);
    arena = kmalloc_aligned(arena_bytes, INFER_ARENA_ALIGN);
    /* The tokenizer comes with the model: the generic kernels until the
     * variant is chosen (the kernels may be switched at any time). */
    status = infer_init(&model, in.checkpoint, in.checkpoint_bytes, in.tokenizer, in.tokenizer_bytes, arena,
                        arena_bytes, infer_variants[0].kernels);
    if (status != INFER_OK)
        refuse(INFER_MODULE_MODEL, s.model, status, "");
    encode(&model, &s, logits, &g);
    in.tokens = g.prompt;
    in.n_tokens = (uint32_t)g.n_prompt;
    chosen = infer_select(&in, (uint32_t)(g.n_prompt + s.tokens - 1), &selection);
    model.kernels = chosen->kernels;
    kprintf("infer: %s, %u prompt tokens, %u to generate, variant %s (%s)\n", s.model, (uint32_t)g.n_prompt,
            s.tokens, chosen->name, select_how_name(selection.how));
    generate(&model, &s, logits, &g);
    report(&model, &s, &g, arena_bytes, &selection, "boot");
    last = g.forwards - 1;
    tokens[0] = fed_at(&g, last ? last - 1 : 0);
    tokens[1] = fed_at(&g, last);
    if (infer_jit(&model, chosen->name, tokens, (int32_t)last, usable)) {
        g.kept = 0;
        generate(&model, &s, 0, &g);
        report(&model, &s, &g, arena_bytes, &selection, "jit");
        infer_jit_end();
    }
}
