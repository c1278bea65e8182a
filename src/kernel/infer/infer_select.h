/* Which compiled variant of the inference engine's forward pass runs:
 * measured on this CPU like a benchmark's (select.c). */
#ifndef FLUID_INFER_SELECT_H
#define FLUID_INFER_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "infer_variants.h"
#include "select.h"

/* Two variants' logits agree when no logit differs by more than this times
 * the reference's largest magnitude (at least 1). The generic variant is
 * x87 code (80-bit intermediates), the others SSE/AVX (float32, fused
 * multiply-adds): the same sums in the same order (forward.c) differ only
 * in rounding, about 1e-6 of the largest logit; a miscompiled variant is
 * far off. The same bound as the tests' against their float64 reference. */
#define INFER_SELECT_TOLERANCE 1e-4f

/* The model the candidates run: checked files (infer_init succeeds with
 * them) and the tokens fed at positions 0, 1, ... (the prompt's). */
struct infer_inputs {
    const void *checkpoint;
    size_t checkpoint_bytes;
    const void *tokenizer;
    size_t tokenizer_bytes;
    const int32_t *tokens;
    uint32_t n_tokens;
};

/* Measures every variant of infer_variants this CPU runs (dispatch_runs):
 * runs of forward passes at positions 0 to n - 1 (n at most `positions`,
 * the generation's), generic's logits the reference the others must agree
 * with. Fills *r and returns the fastest agreeing variant. */
const struct infer_variant *infer_select(const struct infer_inputs *in, uint32_t positions,
                                         struct select_result *r);

#endif
