/* The generation loop (infer.h, infer_generate): prompt, forward passes,
 * sampling, in one call. It calls the forward pass through m->kernels
 * directly (infer_forward's checks are made once, before the loop), so a
 * variant switched in while it runs takes over at the next position. */
#include "infer.h"

/* Every prompt id in range and every position inside seq_len. */
static int check_run(const struct infer *m, const struct infer_run *r)
{
    size_t seq = (size_t)m->config.seq_len;
    if (r->steps > seq || r->n_prompt - 1 > seq - r->steps)
        return INFER_ERR_POSITION;
    for (size_t i = 0; i < r->n_prompt; i++)
        if (r->prompt[i] < 0 || r->prompt[i] >= m->config.vocab_size)
            return INFER_ERR_TOKEN;
    return INFER_OK;
}

int infer_generate(struct infer *m, struct infer_run *r)
{
    if (!m || !r || !r->prompt || r->n_prompt == 0 || r->steps == 0 || !r->sampler || !r->tokens ||
        (r->clock && !r->stamps))
        return INFER_ERR_ARGUMENT;
    int status = check_run(m, r);
    if (status != INFER_OK)
        return status;
    size_t vocab = (size_t)m->config.vocab_size;
    int32_t token = r->prompt[0];
    r->n = r->forwards = 0;
    for (size_t pos = 0; r->n < r->steps; pos++) {
        if (r->clock)
            r->stamps[pos] = r->clock();
        m->kernels->forward(m, token, (int32_t)pos);
        r->forwards++;
        float *logits = m->logits;
        if (r->logits) {
            float *out = r->logits + pos * vocab;
            for (size_t j = 0; j < vocab; j++)
                out[j] = logits[j];
        }
        if (pos + 1 < r->n_prompt) {
            token = r->prompt[pos + 1];
            continue;
        }
        token = infer_sample(m, r->sampler, logits); /* after the copy: it may overwrite them */
        r->tokens[r->n++] = token;
        if (r->stop && (token == INFER_TOKEN_BOS || token == INFER_TOKEN_EOS))
            break;
    }
    if (r->clock)
        r->stamps[r->forwards] = r->clock();
    return INFER_OK;
}
