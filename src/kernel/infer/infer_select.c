/* The inference engine as select.c measures it. A candidate is one
 * variant of the forward pass (infer_variants.h) on the model being run;
 * its arena holds its own engine state (struct infer, then the engine's
 * arena) set up from the same checkpoint and tokenizer; a run of size n
 * feeds the first n positions, and a run at the same size always leaves
 * the same logits, so candidates are compared by their logits (within
 * INFER_SELECT_TOLERANCE), not by an exact checksum: x87 and SSE code
 * round differently. Size 1 (one forward pass) is already long enough to
 * time under an emulator, so the selection stays a few forward passes per
 * candidate (select.h: its time budget). */
#include <stddef.h>
#include <stdint.h>

#include "dispatch.h"
#include "exit.h"
#include "infer_select.h"
#include "select.h"

/* Runs once per boot, outside what it times: small code over fast code. */
#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define FNV_OFFSET 0xcbf29ce484222325ull /* FNV-1a, 64-bit */
#define FNV_PRIME 0x100000001b3ull

struct candidate {
    const struct infer_variant *variant;
    const struct infer_inputs *in;
};

/* The engine's state at the start of a candidate's arena, its arena after. */
#define STATE_BYTES ((sizeof(struct infer) + INFER_ARENA_ALIGN - 1) & ~(size_t)(INFER_ARENA_ALIGN - 1))

static struct candidate candidates[SELECT_MAX_CANDIDATES];

static const struct candidate *candidate_of(const void *code)
{
    return code;
}

static size_t engine_bytes(const struct infer_inputs *in)
{
    struct infer_config c;

    if (infer_read_config(in->checkpoint, in->checkpoint_bytes, &c) != INFER_OK)
        panic("infer: the checkpoint changed after it was checked");
    return infer_mem_bytes(&c);
}

static size_t candidate_bytes(const void *code, uint32_t size)
{
    (void)size;
    return STATE_BYTES + engine_bytes(candidate_of(code)->in);
}

static void candidate_setup(const void *code, void *arena, uint32_t size)
{
    const struct candidate *c = candidate_of(code);
    const struct infer_inputs *in = c->in;
    size_t bytes = engine_bytes(in);
    int status;

    (void)size;
    status = infer_init(arena, in->checkpoint, in->checkpoint_bytes, in->tokenizer, in->tokenizer_bytes,
                        (char *)arena + STATE_BYTES, bytes, c->variant->kernels);
    if (status != INFER_OK)
        panic("infer: variant %s: %s (%s)", c->variant->name, infer_status_message(status),
              infer_status_name(status));
}

/* Positions 0 to size - 1, fed the inputs' tokens (again from the first
 * past their end). */
static void candidate_run(const void *code, void *arena, uint32_t size)
{
    const struct infer_inputs *in = candidate_of(code)->in;
    uint32_t pos;

    for (pos = 0; pos < size; pos++)
        infer_forward(arena, in->tokens[pos % in->n_tokens], (int32_t)pos);
}

/* FNV-1a of the last position's logits: shown, never compared. */
static uint64_t candidate_checksum(const void *code, const void *arena, uint32_t size)
{
    const struct infer *m = arena;
    const uint8_t *p = (const uint8_t *)m->logits;
    size_t i, n = (size_t)m->config.vocab_size * sizeof(float);
    uint64_t h = FNV_OFFSET;

    (void)code;
    (void)size;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

static uint64_t candidate_work(const void *code, uint32_t size)
{
    (void)code;
    return size; /* forward passes */
}

static float magnitude(float v)
{
    return v < 0.0f ? -v : v;
}

static int logits_agree(const void *reference, const void *arena, uint32_t size)
{
    const struct infer *want = reference, *got = arena;
    int32_t i, n = want->config.vocab_size;
    float scale = 1.0f;

    (void)size;
    for (i = 0; i < n; i++)
        if (magnitude(want->logits[i]) > scale)
            scale = magnitude(want->logits[i]);
    for (i = 0; i < n; i++)
        /* Negated: a NaN fails. */
        if (!(magnitude(got->logits[i] - want->logits[i]) <= INFER_SELECT_TOLERANCE * scale))
            return 0;
    return 1;
}

static const struct select_workload infer_workload = {
    .mem_bytes = candidate_bytes,
    .setup = candidate_setup,
    .run = candidate_run,
    .checksum = candidate_checksum,
    .work = candidate_work,
    .agrees = logits_agree,
    .compares = "logits",
};

const struct infer_variant *infer_select(const struct infer_inputs *in, uint32_t positions,
                                         struct select_result *r)
{
    uint32_t v;

    if (infer_variant_count == 0 || infer_variant_count > SELECT_MAX_CANDIDATES ||
        infer_variants[0].features != 0)
        panic("infer: the variant table has %u levels, the first needing features 0x%x; it needs 1 to %u, "
              "generic first", infer_variant_count, infer_variant_count ? infer_variants[0].features : 0,
              SELECT_MAX_CANDIDATES);
    if (in->n_tokens == 0 || positions == 0)
        panic("infer: nothing to measure the variants with (%u tokens, %u positions)", in->n_tokens,
              positions);
    r->workload = &infer_workload;
    r->count = 0;
    for (v = 0; v < infer_variant_count; v++) {
        if (!dispatch_runs(infer_variants[v].features))
            continue;
        candidates[r->count].variant = &infer_variants[v];
        candidates[r->count].in = in;
        r->candidates[r->count].variant = infer_variants[v].name;
        r->candidates[r->count].code = &candidates[r->count];
        r->count++;
    }
    select_measure("inference", positions, 0, r);
    return candidate_of(r->candidates[r->chosen].code)->variant;
}

#pragma clang attribute pop
