/* The forward pass, built once per variant (-DFLUID_VARIANT_SUFFIX=_generic
 * and _tuned; infer.h): RMSNorm, rotary position embedding, grouped-query
 * attention over the key/value cache, SwiGLU feed-forward, classifier.
 *
 * Every reduction is written out (struct row_sums below): 4 vectors of
 * LANES partial sums, element j to vector (j / LANES) mod 4, lane j mod
 * LANES, added in a fixed pairwise tree, the products past the last whole
 * vector summed in order and added last. Explicit vector types make clang
 * use whatever width the variant's -march gives (16 floats: one AVX-512
 * register, two AVX ones, four SSE ones; x87 keeps them scalar) without
 * -ffast-math, and the summation order is the same on every variant and
 * architecture: only the contraction of a multiply and an add into an FMA,
 * where the target has one, and x87's wider intermediates differ between
 * builds. The other loops (softmax, SiLU, RoPE, the attention scores) are
 * element-wise and vectorise as they are. */
#include "infer.h"
#include "kmath.h"

#define LANES 16 /* floats per vector */
#define GROUP (4 * LANES) /* a row's products go to 4 vectors of partial sums in turn */
#define RMS_EPS 1e-5f

/* The lanes as one vector value: SSE, AVX or AVX-512 registers, or x87
 * scalars, as the variant's target has. Used inside this file only (never
 * passed to a function that is not inlined), so no ABI depends on it. */
typedef float vlanes __attribute__((vector_size(LANES * sizeof(float))));
typedef float vhalf __attribute__((vector_size(LANES / 2 * sizeof(float))));
typedef float vquarter __attribute__((vector_size(LANES / 4 * sizeof(float))));
typedef float veighth __attribute__((vector_size(LANES / 8 * sizeof(float))));
typedef int32_t vmask __attribute__((vector_size(LANES * sizeof(int32_t))));

/* Software prefetch PREFETCH_BYTES ahead into the outer caches (prefetcht2
 * on x86; nothing where the target has no prefetch instruction, as i686
 * without SSE), one per GROUP floats (4 cache lines): the hardware
 * prefetchers fetch the lines in between, and the loads issued 16 KiB ahead
 * keep more misses in flight. Measured on this machine kind: a 61 MB sweep
 * at about 1.6x the rate without, a 512 MB one at 1.3x (README
 * "Inference"); one prefetch per line is slower than none. A prefetch never
 * faults, so addresses past the matrix are harmless; the address is
 * computed as an integer. */
#define PREFETCH_BYTES 16384
#define CLASSIFIER_BLOCK_BYTES (1u << 20) /* rows read forwards in a backward classifier pass */
#define PREFETCH_AT(p, ahead) __builtin_prefetch((const void *)((uintptr_t)(p) + (uintptr_t)(ahead)), 0, 1)
#define PREFETCH(p) PREFETCH_AT(p, PREFETCH_BYTES)

/* LANES floats from p, any alignment. (Macros and pointers, not vector
 * arguments: a vector passed by value would depend on the target's ABI.) */
#define LOAD(p)                                   \
    __extension__({                               \
        vlanes load_;                             \
        __builtin_memcpy(&load_, (p), sizeof load_); \
        load_;                                    \
    })

/* a[0] + ... + a[LANES-1] as a fixed pairwise tree: lane k + a[k + 8], then
 * + [k + 4], [k + 2], [k + 1]. */
static inline __attribute__((always_inline)) float add_lanes(const vlanes *a)
{
    vhalf h = __builtin_shufflevector(*a, *a, 0, 1, 2, 3, 4, 5, 6, 7) +
              __builtin_shufflevector(*a, *a, 8, 9, 10, 11, 12, 13, 14, 15);
    vquarter q = __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
    veighth e = __builtin_shufflevector(q, q, 0, 1) + __builtin_shufflevector(q, q, 2, 3);
    return e[0] + e[1];
}

/* The partial sums of one row: element j goes to vector (j / LANES) mod 4,
 * lane j mod LANES, up to the last multiple of LANES; then the vectors are
 * added as (a0 + a1) + (a2 + a3), the lanes by add_lanes, and the remaining
 * products, summed in order, last. (Zero-padding the last vector instead,
 * element by element, was measured slower: the attention's rows are short
 * and end in one at every position.) */
struct row_sums {
    vlanes a0, a1, a2, a3;
};

#define ROW_STEP(r, w, j)                                   \
    do {                                                    \
        (r).a0 += LOAD((w) + (j)) * LOAD(x + (j));          \
        (r).a1 += LOAD((w) + (j) + 16) * LOAD(x + (j) + 16); \
        (r).a2 += LOAD((w) + (j) + 32) * LOAD(x + (j) + 32); \
        (r).a3 += LOAD((w) + (j) + 48) * LOAD(x + (j) + 48); \
    } while (0)

static inline __attribute__((always_inline)) void row_start(struct row_sums *r)
{
    vlanes zero = {0};
    r->a0 = r->a1 = r->a2 = r->a3 = zero;
}

/* Columns from `from` (a multiple of GROUP: fewer than GROUP are left, so at
 * most three whole vectors, to a0, a1, a2) to the end of the row. */
static inline __attribute__((always_inline)) float row_finish(struct row_sums *r, const float *restrict w,
                                                              const float *restrict x, size_t from,
                                                              size_t cols)
{
    size_t j = from, body = cols - cols % LANES;
    if (j < body) {
        r->a0 += LOAD(w + j) * LOAD(x + j);
        j += LANES;
    }
    if (j < body) {
        r->a1 += LOAD(w + j) * LOAD(x + j);
        j += LANES;
    }
    if (j < body) {
        r->a2 += LOAD(w + j) * LOAD(x + j);
        j += LANES;
    }
    float tail = 0.0f;
    for (; j < cols; j++)
        tail += w[j] * x[j];
    vlanes sum = (r->a0 + r->a1) + (r->a2 + r->a3);
    return add_lanes(&sum) + tail;
}

/* out[i] = sum_j w[i * stride + j] x[j], i < rows, j < cols. One row at a
 * time: the weights are then one sequential stream, which the prefetchers
 * follow best (two rows at a time, two interleaved streams, ran at a third
 * of the rate on this machine kind), and the 4 vectors of partial sums give
 * the FMA units independent chains.
 *
 * prefetch: the rows are a stream from memory (0: data already in the
 * caches); `next` (may be 0): the matrix read after this one, where the
 * prefetches that pass this matrix's end go.
 *
 * Not inlined: one copy per variant instead of one per call site (the
 * kernel links five variants: 49 KB less), the same speed (a call per
 * matrix, not per row; README "Inference"), and the hot function as a
 * function of its own. */
static __attribute__((noinline)) void matvec_strided(float *restrict out, const float *restrict w,
                                                     const float *restrict x, size_t rows, size_t cols,
                                                     size_t stride, int prefetch, const float *next)
{
    size_t groups = cols - cols % GROUP;
    uintptr_t end = (uintptr_t)(w + rows * stride);
    uintptr_t shift = next ? (uintptr_t)next - end : 0; /* wraps: an offset */
    for (size_t i = 0; i < rows; i++) {
        const float *w0 = w + i * stride;
        struct row_sums r0;
        row_start(&r0);
        for (size_t j = 0; j < groups; j += GROUP) {
            if (prefetch) {
                uintptr_t at = (uintptr_t)(w0 + j) + PREFETCH_BYTES;
                PREFETCH_AT(at >= end ? at + shift : at, 0);
            }
            ROW_STEP(r0, w0, j);
        }
        out[i] = row_finish(&r0, w0, x, groups, cols);
    }
}

/* The kernel's build (-DINFER_MATVEC_SLOT, the manifest's infer_ir): every
 * product below finds matvec_strided in a slot, a load and an indirect call
 * per matrix, not per row (nothing measurable), so that code built for
 * this very CPU can take its place between two calls (infer.h). Elsewhere
 * a direct call: the user-space JIT's tier 2 inlines the product into the
 * forward pass it specialises, and shares no mutable state between tiers. */
#ifdef INFER_MATVEC_SLOT
static infer_matvec_fn matvec_slot = matvec_strided;
#define MATVEC_STRIDED matvec_slot
#define MATVEC_SLOT_ADDR (&matvec_slot)
#else
#define MATVEC_STRIDED matvec_strided
#define MATVEC_SLOT_ADDR 0
#endif

/* A weight matrix (contiguous rows): a stream from memory when the model is
 * larger than the caches (prefetching costs little when it is not), then
 * the matrix `next`. */
static void matvec_then(float *out, const float *w, const float *x, size_t rows, size_t cols,
                        const float *next)
{
    MATVEC_STRIDED(out, w, x, rows, cols, cols, 1, next);
}

static void matvec(float *out, const float *w, const float *x, size_t rows, size_t cols)
{
    matvec_then(out, w, x, rows, cols, 0);
}

static float sum_squares(const float *restrict x, size_t n)
{
    float out;
    MATVEC_STRIDED(&out, x, x, 1, n, n, 0, 0);
    return out;
}

/* The sum of p[0..n-1] (softmax; the native runner's bandwidth probe):
 * 4 vectors of partial sums over whole groups, then the rest in order. */
static float stream_sum(const float *restrict p, size_t n)
{
    size_t groups = n - n % GROUP;
    vlanes a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (size_t j = 0; j < groups; j += GROUP) {
        PREFETCH(p + j);
        a0 += LOAD(p + j);
        a1 += LOAD(p + j + 16);
        a2 += LOAD(p + j + 32);
        a3 += LOAD(p + j + 48);
    }
    float tail = 0.0f;
    for (size_t j = groups; j < n; j++)
        tail += p[j];
    vlanes sum = (a0 + a1) + (a2 + a3);
    return add_lanes(&sum) + tail;
}

/* out = w * x / sqrt(mean(x^2) + eps); out may be x. */
static void rmsnorm(float *out, const float *x, const float *restrict w, size_t n)
{
    float ms = sum_squares(x, n) / (float)n + RMS_EPS;
    float inv = 1.0f / ksqrtf_inline(ms);
    for (size_t j = 0; j < n; j++)
        out[j] = w[j] * (inv * x[j]);
}

/* In place: v = exp(v - max v) / sum. */
static void softmax(float *restrict v, size_t n)
{
    size_t body = n - n % LANES;
    float max = v[0];
    if (body) {
        vlanes mx = LOAD(v);
        for (size_t j = LANES; j < body; j += LANES) {
            vlanes vj = LOAD(v + j);
            vmask take = vj > mx;
            mx = (vlanes)(((vmask)vj & take) | ((vmask)mx & ~take));
        }
        for (int k = 0; k < LANES; k++)
            max = mx[k] > max ? mx[k] : max;
    }
    for (size_t j = body; j < n; j++)
        max = v[j] > max ? v[j] : max;
    for (size_t j = 0; j < n; j++)
        v[j] = kexpf_inline(v[j] - max);
    float sum = stream_sum(v, n);
    for (size_t j = 0; j < n; j++)
        v[j] /= sum;
}

/* Rotate the pairs (2j, 2j+1) of every head of v (n floats) by angle j. */
static void rope(float *restrict v, size_t n, size_t head_size, const float *restrict cs,
                 const float *restrict sn)
{
    for (size_t h = 0; h < n; h += head_size)
        for (size_t j = 0; j < head_size / 2; j++) {
            float v0 = v[h + 2 * j], v1 = v[h + 2 * j + 1];
            v[h + 2 * j] = v0 * cs[j] - v1 * sn[j];
            v[h + 2 * j + 1] = v0 * sn[j] + v1 * cs[j];
        }
}

/* Attention of layer l at position pos: for each head, scores of its query
 * against the keys of positions 0..pos, softmax, and the weighted sum of the
 * values, into xb. Both caches are [kv head][i][position] within a layer,
 * so the scores (att[t] += q[i] K[i][t]) and the weighted sum (a matvec of
 * V's head_size rows against att) run along contiguous positions. */
static void attention(struct infer *m, size_t l, size_t pos)
{
    const struct infer_config *c = &m->config;
    size_t hs = (size_t)c->head_size, seq = (size_t)c->seq_len, n = pos + 1;
    size_t kv_mul = (size_t)(c->n_heads / c->n_kv_heads);
    size_t layer = l * (size_t)c->n_kv_heads * hs * seq;
    float scale = 1.0f / ksqrtf_inline((float)hs);
    for (size_t h = 0; h < (size_t)c->n_heads; h++) {
        const float *q = m->q + h * hs;
        const float *kt = m->key_cache + layer + (h / kv_mul) * hs * seq;
        const float *vt = m->value_cache + layer + (h / kv_mul) * hs * seq;
        float *restrict att = m->att + h * seq;
        for (size_t t = 0; t < n; t++)
            att[t] = 0.0f;
        size_t i = 0;
        for (; i + 4 <= hs; i += 4) {
            float q0 = q[i], q1 = q[i + 1], q2 = q[i + 2], q3 = q[i + 3];
            const float *restrict k0 = kt + i * seq, *restrict k1 = k0 + seq, *restrict k2 = k1 + seq,
                                  *restrict k3 = k2 + seq;
            for (size_t t = 0; t < n; t++)
                att[t] += ((q0 * k0[t] + q1 * k1[t]) + (q2 * k2[t] + q3 * k3[t]));
        }
        for (; i < hs; i++) {
            float qi = q[i];
            const float *restrict ki = kt + i * seq;
            for (size_t t = 0; t < n; t++)
                att[t] += qi * ki[t];
        }
        for (size_t t = 0; t < n; t++)
            att[t] *= scale;
        softmax(att, n);
        MATVEC_STRIDED(m->xb + h * hs, vt, att, hs, n, seq, 0, 0);
    }
}

static void forward(struct infer *m, int32_t token, int32_t pos_i)
{
    const struct infer_config *c = &m->config;
    size_t dim = (size_t)c->dim, hidden = (size_t)c->hidden_dim, kv_dim = (size_t)c->kv_dim;
    size_t hs = (size_t)c->head_size, seq = (size_t)c->seq_len, pos = (size_t)pos_i;
    float *x = m->x;

    const float *row = m->token_embedding + (size_t)token * dim;
    for (size_t j = 0; j < dim; j++)
        x[j] = row[j];
    for (size_t j = 0; j < hs / 2; j++) {
        float angle = (float)pos_i * m->rope_freq[j];
        m->rope_cos[j] = kcosf(angle);
        m->rope_sin[j] = ksinf(angle);
    }

    size_t vocab = (size_t)c->vocab_size, layers = (size_t)c->n_layers;
    /* The classifier, the largest matrix, is read forwards at even
     * positions and backwards, block by block, at odd ones: the rows read
     * last at one position are then the ones the caches still hold at the
     * start of the next (same logits either way). Within a block the rows
     * go forwards, the order the prefetchers follow. */
    size_t block = CLASSIFIER_BLOCK_BYTES / (dim * sizeof(float));
    block = block ? block : 1;
    int down = (int)(pos & 1);
    const float *classifier_start =
        down && vocab > block ? m->classifier + (vocab - block) * dim : m->classifier;
    for (size_t l = 0; l < layers; l++) {
        const float *wq = m->wq + l * dim * dim, *wk = m->wk + l * kv_dim * dim;
        const float *wv = m->wv + l * kv_dim * dim, *wo = m->wo + l * dim * dim;
        const float *w1 = m->w1 + l * hidden * dim, *w2 = m->w2 + l * dim * hidden;
        const float *w3 = m->w3 + l * hidden * dim;
        const float *after = l + 1 < layers ? wq + dim * dim : classifier_start;
        rmsnorm(m->xb, x, m->rms_att + l * dim, dim);
        matvec_then(m->q, wq, m->xb, dim, dim, wk);
        matvec_then(m->k, wk, m->xb, kv_dim, dim, wv);
        matvec_then(m->xb2, wv, m->xb, kv_dim, dim, wo); /* v, before xb2's own use */
        rope(m->q, dim, hs, m->rope_cos, m->rope_sin);
        rope(m->k, kv_dim, hs, m->rope_cos, m->rope_sin);
        /* Cache entry r of position pos (r = kv head * hs + i) at r * seq + pos. */
        float *kc = m->key_cache + l * kv_dim * seq, *vc = m->value_cache + l * kv_dim * seq;
        for (size_t r = 0; r < kv_dim; r++) {
            kc[r * seq + pos] = m->k[r];
            vc[r * seq + pos] = m->xb2[r];
        }
        attention(m, l, pos);
        matvec_then(m->xb2, wo, m->xb, dim, dim, w1);
        for (size_t j = 0; j < dim; j++)
            x[j] += m->xb2[j];

        rmsnorm(m->xb, x, m->rms_ffn + l * dim, dim);
        matvec_then(m->hb, w1, m->xb, hidden, dim, w3);
        matvec_then(m->hb2, w3, m->xb, hidden, dim, w2);
        float *restrict hb = m->hb;
        const float *restrict hb2 = m->hb2;
        for (size_t j = 0; j < hidden; j++) {
            float v = hb[j];
            hb[j] = v * (1.0f / (1.0f + kexpf_inline(-v))) * hb2[j]; /* SiLU(w1 x) * w3 x */
        }
        matvec_then(m->xb, w2, m->hb, dim, hidden, after);
        for (size_t j = 0; j < dim; j++)
            x[j] += m->xb[j];
    }
    rmsnorm(x, x, m->rms_final, dim);
    if (!down) {
        matvec_then(m->logits, m->classifier, x, vocab, dim, m->wq); /* then the next position's */
        return;
    }
    for (size_t hi = vocab; hi > 0;) {
        size_t lo = hi > block ? hi - block : 0;
        const float *next = lo ? m->classifier + (lo > block ? lo - block : 0) * dim : m->wq;
        matvec_then(m->logits + lo, m->classifier + lo * dim, x, hi - lo, dim, next);
        hi = lo;
    }
}

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

const struct infer_kernels INFER_VARIANT(infer_kernels) = {
    .variant = &STRINGIFY(FLUID_VARIANT_SUFFIX)[1], /* "_tuned" -> "tuned" */
    .forward = forward,
    .matvec = matvec,
    .stream_sum = stream_sum,
    .matvec_slot = MATVEC_SLOT_ADDR,
};
