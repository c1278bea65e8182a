/* The inference engine as a client of the kernel's JIT link (jitlink.h):
 * its hot function, the strided matrix-vector product every product of a
 * forward pass runs (forward.c's matvec_strided of the boot choice's
 * variant), is called through the variant's slot (infer.h: matvec_slot),
 * which the link swaps between two calls.
 *
 * One call of the workload is one forward pass at a fixed position `pos`,
 * fed again with the token fed there before: it rewrites the caches' entry
 * at `pos` with what it held (attention reads positions 0..pos, all
 * written by the generation before), so the calls take real arguments (the
 * model's matrices, the attention's rows up to pos) and leave the state as
 * they found it; the next generation starts again from position 0 anyway.
 * Old and new code are compared by the bits of the logits: a patch that
 * changes one is reverted (checksum). Profiling puts a wrapper in the slot
 * that counts every product's calls and cycles and its row count (the
 * profiler keeps the argument positions 0 to FLUID_PROF_MAX_ARGS - 1: the
 * pointers, then `rows`). */
#include <stddef.h>
#include <stdint.h>

#include "crc32.h"
#include "infer_jit.h"
#include "jitlink.h"
#include "mem.h"
#include "profile.h"

/* Nothing here is timed itself (the forward passes are): small code. */
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define MATVEC_SLOT 0 /* the profiler's function id and the HELLO slot */
#define ROWS_ARG 3    /* matvec_strided(out, w, x, rows, ...) */
#define FUNCTION "infer.matvec"

static struct {
    struct infer *m;
    int32_t token, pos;
    infer_matvec_fn profiled; /* what the profiling wrapper calls */
} engine;

/* The checksum of calls: the logits of each, chained. */
struct calls {
    uint64_t sum;
};

static void matvec_profiled(float *out, const float *w, const float *x, size_t rows, size_t cols,
                            size_t stride, int prefetch, const float *next)
{
    uint64_t start = fluid_prof_enter(MATVEC_SLOT);

    fluid_prof_value(MATVEC_SLOT, ROWS_ARG, rows);
    engine.profiled(out, w, x, rows, cols, stride, prefetch, next);
    fluid_prof_exit(MATVEC_SLOT, start);
}

static uintptr_t held(const struct jit_client *c)
{
    (void)c;
    return (uintptr_t)*engine.m->kernels->matvec_slot;
}

static void hold(const struct jit_client *c, uintptr_t code)
{
    (void)c;
    *engine.m->kernels->matvec_slot = (infer_matvec_fn)code;
}

static void *setup(const struct jit_client *c)
{
    struct calls *k = kmalloc(sizeof(*k));

    (void)c;
    k->sum = 0;
    return k;
}

/* One forward pass at the fixed position with `code` in the slot, then
 * the slot as it was. */
static void call(const struct jit_client *c, void *work, uintptr_t code)
{
    struct calls *k = work;
    uintptr_t was = held(c);
    const float *logits;

    hold(c, code);
    logits = infer_forward(engine.m, engine.token, engine.pos);
    hold(c, was);
    k->sum = (k->sum << 1 | k->sum >> 63) ^
             crc32(logits, (size_t)engine.m->config.vocab_size * sizeof(float));
}

static void call_profiled(const struct jit_client *c, void *work)
{
    engine.profiled = (infer_matvec_fn)held(c);
    call(c, work, (uintptr_t)matvec_profiled);
}

static uint64_t checksum(const struct jit_client *c, void *work)
{
    (void)c;
    return ((struct calls *)work)->sum;
}

int infer_jit(struct infer *m, const char *variant, int32_t token, int32_t pos, uint32_t usable)
{
    struct jit_client client = {
        .slot = MATVEC_SLOT,
        .name = FUNCTION,
        .variant = variant,
        .size = (uint32_t)m->config.dim,
        .boot = (uintptr_t)*m->kernels->matvec_slot,
        .held = held,
        .hold = hold,
        .setup = setup,
        .release = kfree,
        .call = call,
        .call_profiled = call_profiled,
        .checksum = checksum,
    };

    if (!jitlink_open || !jitlink_open(usable, &client.boot, 1))
        return 0;
    engine.m = m;
    engine.token = token;
    engine.pos = pos;
    jitlink_tune(&client);
    jitlink_close();
    return 1;
}

#pragma clang attribute pop
