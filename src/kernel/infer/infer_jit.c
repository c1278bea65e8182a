/* The inference engine as a client of the kernel's JIT link (jitlink.h),
 * two functions of the boot choice's variant, each behind a slot the link
 * swaps between two calls:
 *
 * - its hot function, the strided matrix-vector product every product of
 *   a forward pass runs (forward.c's matvec_strided), through the
 *   variant's matvec_slot (infer.h);
 * - the forward pass, through the engine's kernels table (`m->kernels`,
 *   which may be switched at any time): here a copy of the variant's, whose
 *   `forward` is the slot.
 *
 * One call of the workload is one forward pass at a fixed position `pos`,
 * fed again with the token fed there before: it rewrites the caches' entry
 * at `pos` with what it held (attention reads positions 0..pos, all
 * written by the generation before), so the calls take real arguments (the
 * model's matrices, the attention's rows up to pos) and leave the state as
 * they found it; the next generation starts again from position 0 anyway.
 * Profiled calls alternate between pos - 1 and pos, so the profile shows
 * that the forward pass's token and position change (a patch specialised
 * for one position would leave the generation on the kernel's code). Old
 * and new code are compared by the bits of the logits: a patch that
 * changes one is reverted (checksum). Profiling puts a wrapper in the slot
 * that counts the function's calls and cycles and its integer arguments
 * (the profiler keeps argument positions 0 to FLUID_PROF_MAX_ARGS - 1: of
 * the product, `rows`; of the forward pass, token and position). */
#include <stddef.h>
#include <stdint.h>

#include "crc32.h"
#include "infer_jit.h"
#include "jitlink.h"
#include "mem.h"
#include "profile.h"

/* Nothing here is timed itself (the forward passes are): small code. */
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

enum { MATVEC_SLOT, FORWARD_SLOT, SLOTS }; /* the profiler's function ids, the HELLO slots */
#define MATVEC_ROWS_ARG 3 /* matvec_strided(out, w, x, rows, ...) */
#define FORWARD_TOKEN_ARG 1 /* forward(m, token, pos) */
#define FORWARD_POS_ARG 2

typedef void (*forward_fn)(struct infer *m, int32_t token, int32_t pos);

static struct {
    struct infer *m;
    struct infer_kernels kernels; /* the variant's; `forward` is a slot */
    int32_t tokens[2], pos;       /* the tokens fed at pos - 1 and pos */
    uint32_t profiled_calls;
    infer_matvec_fn matvec;       /* what the profiling wrappers call */
    forward_fn forward;
} engine;

/* The checksum of calls: the logits of each, chained. */
struct calls {
    uint64_t sum;
};

static void matvec_profiled(float *out, const float *w, const float *x, size_t rows, size_t cols,
                            size_t stride, int prefetch, const float *next)
{
    uint64_t start = fluid_prof_enter(MATVEC_SLOT);

    fluid_prof_value(MATVEC_SLOT, MATVEC_ROWS_ARG, rows);
    engine.matvec(out, w, x, rows, cols, stride, prefetch, next);
    fluid_prof_exit(MATVEC_SLOT, start);
}

static void forward_profiled(struct infer *m, int32_t token, int32_t pos)
{
    uint64_t start = fluid_prof_enter(FORWARD_SLOT);

    fluid_prof_value(FORWARD_SLOT, FORWARD_TOKEN_ARG, (uint32_t)token);
    fluid_prof_value(FORWARD_SLOT, FORWARD_POS_ARG, (uint32_t)pos);
    engine.forward(m, token, pos);
    fluid_prof_exit(FORWARD_SLOT, start);
}

static uintptr_t held(const struct jit_client *c)
{
    return c->slot == MATVEC_SLOT ? (uintptr_t)*engine.kernels.matvec_slot
                                  : (uintptr_t)engine.kernels.forward;
}

static void hold(const struct jit_client *c, uintptr_t code)
{
    if (c->slot == MATVEC_SLOT)
        *engine.kernels.matvec_slot = (infer_matvec_fn)code;
    else
        engine.kernels.forward = (forward_fn)code;
}

static void *setup(const struct jit_client *c)
{
    struct calls *k = kmalloc(sizeof(*k));

    (void)c;
    k->sum = 0;
    return k;
}

/* One forward pass at `pos`, fed `token`, with `code` in the slot, then the
 * slot as it was. */
static void forward_at(const struct jit_client *c, struct calls *k, uintptr_t code, int32_t token,
                       int32_t pos)
{
    uintptr_t was = held(c);
    const float *logits;

    hold(c, code);
    logits = infer_forward(engine.m, token, pos);
    hold(c, was);
    k->sum = (k->sum << 1 | k->sum >> 63) ^
             crc32(logits, (size_t)engine.m->config.vocab_size * sizeof(float));
}

static void call(const struct jit_client *c, void *work, uintptr_t code)
{
    forward_at(c, work, code, engine.tokens[1], engine.pos);
}

static void call_profiled(const struct jit_client *c, void *work)
{
    uint32_t back = engine.pos > 0 && (engine.profiled_calls++ & 1);

    engine.matvec = *engine.kernels.matvec_slot;
    engine.forward = engine.kernels.forward;
    forward_at(c, work, c->slot == MATVEC_SLOT ? (uintptr_t)matvec_profiled : (uintptr_t)forward_profiled,
               engine.tokens[1 - back], engine.pos - (int32_t)back);
}

static uint64_t checksum(const struct jit_client *c, void *work)
{
    (void)c;
    return ((struct calls *)work)->sum;
}

int infer_jit(struct infer *m, const char *variant, const int32_t tokens[2], int32_t pos, uint32_t usable)
{
    static const char *const names[SLOTS] = { "infer.matvec", "infer.forward" };
    struct jit_client clients[SLOTS];
    uintptr_t code[SLOTS];
    uint32_t i;

    engine.m = m;
    engine.kernels = *m->kernels;
    engine.tokens[0] = tokens[0];
    engine.tokens[1] = tokens[1];
    engine.pos = pos;
    m->kernels = &engine.kernels;
    for (i = 0; i < SLOTS; i++) {
        clients[i] = (struct jit_client){
            .slot = i,
            .name = names[i],
            .variant = variant,
            .size = (uint32_t)m->config.dim,
            .held = held,
            .hold = hold,
            .setup = setup,
            .release = kfree,
            .call = call,
            .call_profiled = call_profiled,
            .checksum = checksum,
        };
        code[i] = clients[i].boot = held(&clients[i]);
    }
    if (!jitlink_open || !jitlink_open(usable, code, SLOTS))
        return 0;
    for (i = 0; i < SLOTS; i++)
        jitlink_tune(&clients[i]);
    return 1;
}

void infer_jit_end(void)
{
    jitlink_close();
}

#pragma clang attribute pop
