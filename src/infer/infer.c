/* The inference engine's checks, layout, tokenizer and sampler (infer.h).
 * The forward pass is in forward.c, built once per variant. */
#include "infer.h"

#include "kmath.h"

#define TOKEN_RECORD_BYTES 8 /* float score, int32 length */
#define ROPE_BASE 10000.0f
#define MERGE_SCORE_FLOOR -1e10f /* as llama2.c: pairs scoring below never merge */

/* --- status ------------------------------------------------------------- */

static const char *const status_names[INFER_STATUS_COUNT] = {
    [INFER_OK] = "ok",
    [INFER_ERR_HEADER_TRUNCATED] = "header_truncated",
    [INFER_ERR_BAD_DIMENSION] = "bad_dimension",
    [INFER_ERR_BAD_HEADS] = "bad_heads",
    [INFER_ERR_TOO_LARGE] = "too_large",
    [INFER_ERR_TRUNCATED] = "truncated",
    [INFER_ERR_SIZE_MISMATCH] = "size_mismatch",
    [INFER_ERR_ALIGNMENT] = "alignment",
    [INFER_ERR_TOKENIZER_TRUNCATED] = "tokenizer_truncated",
    [INFER_ERR_TOKENIZER_BAD] = "tokenizer_bad",
    [INFER_ERR_VOCAB_MISMATCH] = "vocab_mismatch",
    [INFER_ERR_ARENA] = "arena",
    [INFER_ERR_TOKEN] = "token",
    [INFER_ERR_POSITION] = "position",
    [INFER_ERR_PROMPT] = "prompt",
    [INFER_ERR_ARGUMENT] = "argument",
};

static const char *const status_messages[INFER_STATUS_COUNT] = {
    [INFER_OK] = "no error",
    [INFER_ERR_HEADER_TRUNCATED] = "checkpoint shorter than its 28-byte header",
    [INFER_ERR_BAD_DIMENSION] = "a checkpoint header size is zero or negative",
    [INFER_ERR_BAD_HEADS] = "heads do not divide dim, kv heads do not divide heads, or the head size is odd",
    [INFER_ERR_TOO_LARGE] = "a checkpoint size is above the engine's limits or the address space",
    [INFER_ERR_TRUNCATED] = "checkpoint truncated: shorter than its header's sizes need",
    [INFER_ERR_SIZE_MISMATCH] = "checkpoint header sizes disagree with the file: it is longer than they need",
    [INFER_ERR_ALIGNMENT] = "checkpoint not 4-byte aligned or arena not 64-byte aligned",
    [INFER_ERR_TOKENIZER_TRUNCATED] = "tokenizer truncated: it ends inside its header or a token",
    [INFER_ERR_TOKENIZER_BAD] =
        "tokenizer max_token_length out of range, or a token length negative or above it",
    [INFER_ERR_VOCAB_MISMATCH] = "tokenizer token count differs from the checkpoint's vocab_size",
    [INFER_ERR_ARENA] = "arena smaller than infer_mem_bytes()",
    [INFER_ERR_TOKEN] = "token id out of range",
    [INFER_ERR_POSITION] = "position outside the sequence length",
    [INFER_ERR_PROMPT] = "encoded prompt longer than the token buffer",
    [INFER_ERR_ARGUMENT] = "invalid argument",
};

const char *infer_status_name(int status)
{
    return status >= 0 && status < INFER_STATUS_COUNT ? status_names[status] : "unknown";
}

const char *infer_status_message(int status)
{
    return status >= 0 && status < INFER_STATUS_COUNT ? status_messages[status] : "unknown status";
}

/* --- little-endian reads ------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float le_f32(const uint8_t *p)
{
    union {
        uint32_t u;
        float f;
    } v = {le32(p)};
    return v.f;
}

/* --- configuration ------------------------------------------------------ */

static int in_range(int32_t v)
{
    return v > 0 && v <= INFER_MAX_DIM;
}

/* Float counts of the checkpoint's sections (every factor <= 2^20, so each
 * product is below 2^60 and their sum below 2^63). */
static uint64_t weight_floats(const struct infer_config *c)
{
    uint64_t dim = (uint64_t)c->dim, hidden = (uint64_t)c->hidden_dim, layers = (uint64_t)c->n_layers;
    uint64_t vocab = (uint64_t)c->vocab_size, kv = (uint64_t)c->kv_dim;
    uint64_t n = vocab * dim;                    /* token embedding */
    n += layers * dim;                           /* rms_att */
    n += layers * dim * dim;                     /* wq */
    n += 2 * layers * kv * dim;                  /* wk, wv */
    n += layers * dim * dim;                     /* wo */
    n += layers * dim;                           /* rms_ffn */
    n += 3 * layers * hidden * dim;              /* w1, w2, w3 */
    n += dim;                                    /* rms_final */
    n += (uint64_t)c->seq_len * (uint64_t)c->head_size; /* two RoPE tables of seq_len * head_size / 2 */
    if (!c->shared_classifier)
        n += vocab * dim;
    return n;
}

static int check_dims(const struct infer_config *c)
{
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab_size <= 0 || c->seq_len <= 0)
        return INFER_ERR_BAD_DIMENSION;
    if (!in_range(c->dim) || !in_range(c->hidden_dim) || !in_range(c->n_layers) || !in_range(c->n_heads) ||
        !in_range(c->n_kv_heads) || !in_range(c->vocab_size) || c->seq_len > INFER_MAX_SEQ_LEN)
        return INFER_ERR_TOO_LARGE;
    if (c->dim % c->n_heads != 0 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0 ||
        (c->dim / c->n_heads) % 2 != 0)
        return INFER_ERR_BAD_HEADS;
    return INFER_OK;
}

uint64_t infer_checkpoint_bytes(const struct infer_config *config)
{
    struct infer_config c = *config;
    if (check_dims(&c) != INFER_OK)
        return UINT64_MAX;
    c.head_size = c.dim / c.n_heads;
    c.kv_dim = c.head_size * c.n_kv_heads;
    uint64_t floats = weight_floats(&c);
    if (floats > (UINT64_MAX - INFER_HEADER_BYTES) / 4)
        return UINT64_MAX;
    return INFER_HEADER_BYTES + 4 * floats;
}

void infer_read_header(const void *checkpoint, struct infer_config *config)
{
    const uint8_t *h = checkpoint;
    struct infer_config c = {0};
    c.dim = (int32_t)le32(h);
    c.hidden_dim = (int32_t)le32(h + 4);
    c.n_layers = (int32_t)le32(h + 8);
    c.n_heads = (int32_t)le32(h + 12);
    c.n_kv_heads = (int32_t)le32(h + 16);
    int32_t vocab = (int32_t)le32(h + 20);
    c.seq_len = (int32_t)le32(h + 24);
    c.shared_classifier = vocab > 0;
    /* INT32_MIN has no positive counterpart: report it as too large. */
    c.vocab_size = vocab == INT32_MIN ? INT32_MAX : (vocab < 0 ? -vocab : vocab);
    *config = c;
}

int infer_read_config(const void *checkpoint, size_t bytes, struct infer_config *config)
{
    if (!checkpoint || !config)
        return INFER_ERR_ARGUMENT;
    if (bytes < INFER_HEADER_BYTES)
        return INFER_ERR_HEADER_TRUNCATED;
    struct infer_config c;
    infer_read_header(checkpoint, &c);
    int status = check_dims(&c);
    if (status != INFER_OK)
        return status;
    c.head_size = c.dim / c.n_heads;
    c.kv_dim = c.head_size * c.n_kv_heads;
    uint64_t floats = weight_floats(&c); /* below 2^63, but four bytes each may not fit */
    if (floats > ((uint64_t)SIZE_MAX - INFER_HEADER_BYTES) / 4)
        return INFER_ERR_TOO_LARGE;
    uint64_t need = INFER_HEADER_BYTES + 4 * floats;
    if ((uint64_t)bytes < need)
        return INFER_ERR_TRUNCATED;
    if ((uint64_t)bytes > need)
        return INFER_ERR_SIZE_MISMATCH;
    *config = c;
    return INFER_OK;
}

/* --- arena layout ------------------------------------------------------- */

/* The arena's parts, in order, as byte counts (rounded up to the
 * alignment when laid out). */
enum {
    PART_X, PART_XB, PART_XB2, PART_HB, PART_HB2, PART_Q, PART_K, PART_ATT, PART_LOGITS,
    PART_KEY_CACHE, PART_VALUE_CACHE, PART_ROPE_FREQ, PART_ROPE_COS, PART_ROPE_SIN,
    PART_TOK_OFFSET, PART_TOK_LEN, PART_TOK_SCORE, PART_SORTED, PART_CANDIDATES, PART_COUNT
};

static void part_bytes(const struct infer_config *c, uint64_t *bytes)
{
    uint64_t f = sizeof(float), dim = (uint64_t)c->dim, hidden = (uint64_t)c->hidden_dim;
    uint64_t vocab = (uint64_t)c->vocab_size, seq = (uint64_t)c->seq_len;
    uint64_t cache = (uint64_t)c->n_layers * seq * (uint64_t)c->kv_dim * f;
    uint64_t half = (uint64_t)(c->head_size / 2) * f;
    bytes[PART_X] = bytes[PART_XB] = bytes[PART_XB2] = bytes[PART_Q] = dim * f;
    bytes[PART_HB] = bytes[PART_HB2] = hidden * f;
    bytes[PART_K] = (uint64_t)c->kv_dim * f;
    bytes[PART_ATT] = (uint64_t)c->n_heads * seq * f;
    bytes[PART_LOGITS] = bytes[PART_TOK_SCORE] = vocab * f;
    bytes[PART_KEY_CACHE] = bytes[PART_VALUE_CACHE] = cache;
    bytes[PART_ROPE_FREQ] = bytes[PART_ROPE_COS] = bytes[PART_ROPE_SIN] = half;
    bytes[PART_TOK_OFFSET] = bytes[PART_TOK_LEN] = bytes[PART_SORTED] = vocab * 4;
    bytes[PART_CANDIDATES] = vocab * sizeof(struct infer_prob);
}

static uint64_t align_up(uint64_t n)
{
    return (n + INFER_ARENA_ALIGN - 1) & ~(uint64_t)(INFER_ARENA_ALIGN - 1);
}

size_t infer_mem_bytes(const struct infer_config *config)
{
    if (!config || check_dims(config) != INFER_OK || config->head_size != config->dim / config->n_heads ||
        config->kv_dim != config->head_size * config->n_kv_heads)
        return 0;
    uint64_t bytes[PART_COUNT], total = 0;
    part_bytes(config, bytes);
    for (int i = 0; i < PART_COUNT; i++)
        total += align_up(bytes[i]); /* each below 2^62: no overflow */
    return total > (uint64_t)SIZE_MAX ? 0 : (size_t)total;
}

/* --- sorting (heap sort: no recursion, no allocation) ------------------- */

struct sorter {
    int (*less)(const void *ctx, size_t a, size_t b);
    void (*swap)(void *ctx, size_t a, size_t b);
    void *ctx;
};

static void sift_down(const struct sorter *s, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && s->less(s->ctx, child, child + 1))
            child++;
        if (!s->less(s->ctx, root, child))
            return;
        s->swap(s->ctx, root, child);
        root = child;
    }
}

static void heap_sort(const struct sorter *s, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(s, i, n);
    for (size_t end = n; end-- > 1;) {
        s->swap(s->ctx, 0, end);
        sift_down(s, 0, end);
    }
}

/* --- tokenizer ---------------------------------------------------------- */

int infer_tokenizer_tokens(const void *tokenizer, size_t bytes, uint32_t *count)
{
    if (!tokenizer || !count)
        return INFER_ERR_ARGUMENT;
    const uint8_t *p = tokenizer;
    if (bytes < 4)
        return INFER_ERR_TOKENIZER_TRUNCATED;
    if ((uint64_t)bytes > UINT32_MAX) /* token offsets are 32-bit */
        return INFER_ERR_TOO_LARGE;
    int32_t max_len = (int32_t)le32(p);
    if (max_len <= 0 || max_len > INFER_MAX_TOKEN_BYTES)
        return INFER_ERR_TOKENIZER_BAD;
    size_t at = 4;
    uint32_t n = 0;
    while (at < bytes) {
        if (bytes - at < TOKEN_RECORD_BYTES)
            return INFER_ERR_TOKENIZER_TRUNCATED;
        int32_t len = (int32_t)le32(p + at + 4);
        if (len < 0 || len > max_len)
            return INFER_ERR_TOKENIZER_BAD;
        at += TOKEN_RECORD_BYTES;
        if (bytes - at < (size_t)len)
            return INFER_ERR_TOKENIZER_TRUNCATED;
        at += (size_t)len;
        if (n == UINT32_MAX)
            return INFER_ERR_TOO_LARGE;
        n++;
    }
    *count = n;
    return INFER_OK;
}

/* Byte order of token strings (a prefix first), then id: a total order. */
static int token_cmp(const struct infer *m, int32_t a, int32_t b)
{
    const uint8_t *pa = m->tokenizer + m->tok_offset[a], *pb = m->tokenizer + m->tok_offset[b];
    uint32_t la = m->tok_len[a], lb = m->tok_len[b];
    uint32_t n = la < lb ? la : lb;
    for (uint32_t i = 0; i < n; i++)
        if (pa[i] != pb[i])
            return pa[i] < pb[i] ? -1 : 1;
    if (la != lb)
        return la < lb ? -1 : 1;
    return a < b ? -1 : (a > b);
}

static int sorted_less(const void *ctx, size_t a, size_t b)
{
    const struct infer *m = ctx;
    return token_cmp(m, m->sorted[a], m->sorted[b]) < 0;
}

static void sorted_swap(void *ctx, size_t a, size_t b)
{
    struct infer *m = ctx;
    int32_t t = m->sorted[a];
    m->sorted[a] = m->sorted[b];
    m->sorted[b] = t;
}

/* Token `t`'s string against the concatenation a (la bytes) then b (lb). */
static int concat_cmp(const struct infer *m, int32_t t, const uint8_t *a, size_t la, const uint8_t *b,
                      size_t lb)
{
    const uint8_t *p = m->tokenizer + m->tok_offset[t];
    size_t lt = m->tok_len[t], lc = la + lb;
    size_t n = lt < lc ? lt : lc;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = i < la ? a[i] : b[i - la];
        if (p[i] != c)
            return p[i] < c ? -1 : 1;
    }
    return lt < lc ? -1 : (lt > lc);
}

/* The lowest id whose string is a then b, or -1. */
static int32_t lookup(const struct infer *m, const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
    size_t lo = 0, hi = (size_t)m->config.vocab_size; /* first index not below the key */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (concat_cmp(m, m->sorted[mid], a, la, b, lb) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < (size_t)m->config.vocab_size && concat_cmp(m, m->sorted[lo], a, la, b, lb) == 0)
        return m->sorted[lo];
    return -1;
}

static const uint8_t *token_bytes(const struct infer *m, int32_t t, size_t *len)
{
    *len = m->tok_len[t];
    return m->tokenizer + m->tok_offset[t];
}

/* The token spelled by token a then token b, or -1. */
static int32_t pair_token(const struct infer *m, int32_t a, int32_t b)
{
    size_t la, lb;
    const uint8_t *pa = token_bytes(m, a, &la), *pb = token_bytes(m, b, &lb);
    return lookup(m, pa, la, pb, lb);
}

int infer_encode(const struct infer *m, const char *text, size_t len, int bos, int eos, int32_t *tokens,
                 size_t max_tokens, size_t *n_tokens)
{
    if (!m || (!text && len) || !tokens || !n_tokens)
        return INFER_ERR_ARGUMENT;
    const uint8_t *s = (const uint8_t *)text;
    size_t n = 0;
#define PUSH(id)                          \
    do {                                  \
        if (n >= max_tokens)              \
            return INFER_ERR_PROMPT;      \
        tokens[n++] = (id);               \
    } while (0)
    if (bos)
        PUSH(INFER_TOKEN_BOS);
    if (len > 0 && m->space_token >= 0)
        PUSH(m->space_token);
    /* One token per UTF-8 character (at most 4 bytes), else its bytes. */
    uint8_t ch[4];
    size_t ch_len = 0;
    for (size_t i = 0; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            ch_len = 0; /* a lead or ASCII byte starts a new character */
        ch[ch_len++] = s[i];
        if (i + 1 < len && (s[i + 1] & 0xC0) == 0x80 && ch_len < 4)
            continue;
        int32_t id = lookup(m, ch, ch_len, ch, 0);
        if (id >= 0) {
            PUSH(id);
        } else {
            for (size_t j = 0; j < ch_len; j++) {
                int32_t byte_token = (int32_t)ch[j] + INFER_BYTE_TOKEN_BASE;
                /* a vocabulary without all 256 byte tokens: unknown */
                PUSH(byte_token < m->config.vocab_size ? byte_token : INFER_TOKEN_UNK);
            }
        }
        ch_len = 0;
    }
    /* Merge the best-scoring adjacent pair until none is in the vocabulary.
     * merged[i] caches the token that tokens i and i + 1 make (or -1); it
     * lives in the buffer's upper half, past every token the merges leave. */
    if (n > 1 && max_tokens - n < n - 1)
        return INFER_ERR_PROMPT;
    int32_t *merged = tokens + n;
    for (size_t i = 0; i + 1 < n; i++)
        merged[i] = pair_token(m, tokens[i], tokens[i + 1]);
    for (;;) {
        float best_score = MERGE_SCORE_FLOOR;
        int32_t best_id = -1;
        size_t best_at = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            int32_t id = merged[i];
            if (id >= 0 && m->tok_score[id] > best_score) {
                best_score = m->tok_score[id];
                best_id = id;
                best_at = i;
            }
        }
        if (best_id < 0)
            break;
        tokens[best_at] = best_id;
        for (size_t i = best_at + 1; i + 1 < n; i++) {
            tokens[i] = tokens[i + 1];
            merged[i] = merged[i + 1];
        }
        n--;
        if (best_at > 0)
            merged[best_at - 1] = pair_token(m, tokens[best_at - 1], tokens[best_at]);
        if (best_at + 1 < n)
            merged[best_at] = pair_token(m, tokens[best_at], tokens[best_at + 1]);
    }
    if (eos)
        PUSH(INFER_TOKEN_EOS);
#undef PUSH
    *n_tokens = n;
    return INFER_OK;
}

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static const uint8_t all_bytes[256] = {
#define B4(n) (n), (n) + 1, (n) + 2, (n) + 3
#define B16(n) B4(n), B4((n) + 4), B4((n) + 8), B4((n) + 12)
#define B64(n) B16(n), B16((n) + 16), B16((n) + 32), B16((n) + 48)
    B64(0), B64(64), B64(128), B64(192)
#undef B64
#undef B16
#undef B4
};

const uint8_t *infer_decode(const struct infer *m, int32_t prev, int32_t token, size_t *len)
{
    if (!m || !len || token < 0 || token >= m->config.vocab_size) {
        if (len)
            *len = 0;
        return all_bytes;
    }
    size_t n;
    const uint8_t *p = token_bytes(m, token, &n);
    if (prev == INFER_TOKEN_BOS && n > 0 && p[0] == ' ') {
        p++;
        n--;
    }
    if (n == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>') {
        int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
        if (hi >= 0 && lo >= 0) {
            *len = 1;
            return &all_bytes[hi * 16 + lo];
        }
    }
    *len = n;
    return p;
}

/* --- init --------------------------------------------------------------- */

int infer_init(struct infer *m, const void *checkpoint, size_t checkpoint_bytes, const void *tokenizer,
               size_t tokenizer_bytes, void *arena, size_t arena_bytes, const struct infer_kernels *kernels)
{
    if (!m || !checkpoint || !tokenizer || !arena || !kernels || !kernels->forward)
        return INFER_ERR_ARGUMENT;
    if (((uintptr_t)checkpoint & 3u) || ((uintptr_t)arena & (INFER_ARENA_ALIGN - 1)))
        return INFER_ERR_ALIGNMENT;
    struct infer_config c;
    int status = infer_read_config(checkpoint, checkpoint_bytes, &c);
    if (status != INFER_OK)
        return status;
    uint32_t count;
    status = infer_tokenizer_tokens(tokenizer, tokenizer_bytes, &count);
    if (status != INFER_OK)
        return status;
    if (count != (uint32_t)c.vocab_size)
        return INFER_ERR_VOCAB_MISMATCH;
    size_t need = infer_mem_bytes(&c);
    if (need == 0)
        return INFER_ERR_TOO_LARGE;
    if (arena_bytes < need)
        return INFER_ERR_ARENA;

    m->config = c;
    m->kernels = kernels;
    /* Weights, in file order. */
    size_t dim = (size_t)c.dim, hidden = (size_t)c.hidden_dim, layers = (size_t)c.n_layers;
    size_t kv = (size_t)c.kv_dim, vocab = (size_t)c.vocab_size;
    const float *w = (const float *)((const uint8_t *)checkpoint + INFER_HEADER_BYTES);
    m->token_embedding = w;
    w += vocab * dim;
    m->rms_att = w;
    w += layers * dim;
    m->wq = w;
    w += layers * dim * dim;
    m->wk = w;
    w += layers * kv * dim;
    m->wv = w;
    w += layers * kv * dim;
    m->wo = w;
    w += layers * dim * dim;
    m->rms_ffn = w;
    w += layers * dim;
    m->w1 = w;
    w += layers * hidden * dim;
    m->w2 = w;
    w += layers * dim * hidden;
    m->w3 = w;
    w += layers * hidden * dim;
    m->rms_final = w;
    w += dim;
    w += (size_t)c.seq_len * (size_t)c.head_size; /* the unused RoPE tables */
    m->classifier = c.shared_classifier ? m->token_embedding : w;

    /* Arena parts. */
    uint64_t bytes[PART_COUNT];
    void *part[PART_COUNT];
    part_bytes(&c, bytes);
    uint8_t *at = arena;
    for (int i = 0; i < PART_COUNT; i++) {
        part[i] = at;
        at += (size_t)align_up(bytes[i]);
    }
    m->x = part[PART_X];
    m->xb = part[PART_XB];
    m->xb2 = part[PART_XB2];
    m->hb = part[PART_HB];
    m->hb2 = part[PART_HB2];
    m->q = part[PART_Q];
    m->k = part[PART_K];
    m->att = part[PART_ATT];
    m->logits = part[PART_LOGITS];
    m->key_cache = part[PART_KEY_CACHE];
    m->value_cache = part[PART_VALUE_CACHE];
    m->rope_freq = part[PART_ROPE_FREQ];
    m->rope_cos = part[PART_ROPE_COS];
    m->rope_sin = part[PART_ROPE_SIN];
    m->tok_offset = part[PART_TOK_OFFSET];
    m->tok_len = part[PART_TOK_LEN];
    m->tok_score = part[PART_TOK_SCORE];
    m->sorted = part[PART_SORTED];
    m->candidates = part[PART_CANDIDATES];

    /* RoPE: pair j of every head turns at 10000^(-2j / head_size) per position. */
    for (int32_t j = 0; j < c.head_size / 2; j++)
        m->rope_freq[j] = 1.0f / kpowf(ROPE_BASE, (float)(2 * j) / (float)c.head_size);

    /* Tokenizer (already checked by infer_tokenizer_tokens). */
    const uint8_t *t = tokenizer;
    m->tokenizer = t;
    m->max_token_length = (int32_t)le32(t);
    size_t off = 4;
    for (size_t i = 0; i < vocab; i++) {
        m->tok_score[i] = le_f32(t + off);
        m->tok_len[i] = le32(t + off + 4);
        m->tok_offset[i] = (uint32_t)(off + TOKEN_RECORD_BYTES);
        off += TOKEN_RECORD_BYTES + m->tok_len[i];
        m->sorted[i] = (int32_t)i;
    }
    struct sorter s = {sorted_less, sorted_swap, m};
    heap_sort(&s, vocab);
    static const uint8_t space = ' ';
    m->space_token = lookup(m, &space, 1, &space, 0);
    return INFER_OK;
}

const size_t infer_struct_bytes = sizeof(struct infer);

const float *infer_forward(struct infer *m, int32_t token, int32_t pos)
{
    if (!m || token < 0 || token >= m->config.vocab_size || pos < 0 || pos >= m->config.seq_len)
        return 0;
    m->kernels->forward(m, token, pos);
    return m->logits;
}

/* --- sampling ----------------------------------------------------------- */

uint32_t infer_random_u32(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

float infer_random_f32(uint64_t *state)
{
    return (float)(infer_random_u32(state) >> 8) / 16777216.0f;
}

int infer_sampler_init(struct infer_sampler *s, float temperature, float topp, uint64_t seed)
{
    /* NaN fails every comparison below. */
    if (!s || !(temperature >= 0.0f && temperature <= 1e30f) || !(topp >= -1e30f && topp <= 1e30f))
        return INFER_ERR_ARGUMENT;
    s->temperature = temperature;
    s->topp = topp;
    s->state = seed ? seed : INFER_SEED_ZERO;
    return INFER_OK;
}

static int32_t argmax(const float *v, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static void softmax(float *v, int32_t n)
{
    float max = v[0];
    for (int32_t i = 1; i < n; i++)
        max = v[i] > max ? v[i] : max;
    float sum = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        v[i] = kexpf_inline(v[i] - max);
        sum += v[i];
    }
    for (int32_t i = 0; i < n; i++)
        v[i] /= sum;
}

/* Candidates by decreasing probability, then increasing id. */
static int candidate_less(const void *ctx, size_t a, size_t b)
{
    const struct infer_prob *c = ctx;
    if (c[a].prob != c[b].prob)
        return c[a].prob > c[b].prob;
    return c[a].index < c[b].index;
}

static void candidate_swap(void *ctx, size_t a, size_t b)
{
    struct infer_prob *c = ctx;
    struct infer_prob t = c[a];
    c[a] = c[b];
    c[b] = t;
}

static int32_t sample_all(const float *probs, int32_t n, float coin)
{
    float cdf = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf)
            return i;
    }
    return n - 1; /* rounding */
}

static int32_t sample_nucleus(const struct infer *m, const float *probs, int32_t n, float topp, float coin)
{
    struct infer_prob *c = m->candidates;
    float cutoff = (1.0f - topp) / (float)(n - 1 > 0 ? n - 1 : 1);
    int32_t kept = 0;
    for (int32_t i = 0; i < n; i++)
        if (probs[i] >= cutoff) {
            c[kept].prob = probs[i];
            c[kept].index = i;
            kept++;
        }
    if (kept == 0)
        return argmax(probs, n);
    struct sorter s = {candidate_less, candidate_swap, c};
    heap_sort(&s, (size_t)kept);
    float cumulative = 0.0f;
    int32_t last = kept - 1;
    for (int32_t i = 0; i < kept; i++) {
        cumulative += c[i].prob;
        if (cumulative > topp) {
            last = i;
            break;
        }
    }
    float r = coin * cumulative;
    float cdf = 0.0f;
    for (int32_t i = 0; i <= last; i++) {
        cdf += c[i].prob;
        if (r < cdf)
            return c[i].index;
    }
    return c[last].index;
}

int32_t infer_sample(const struct infer *m, struct infer_sampler *s, float *logits)
{
    int32_t n = m->config.vocab_size;
    if (s->temperature == 0.0f)
        return argmax(logits, n);
    for (int32_t i = 0; i < n; i++)
        logits[i] /= s->temperature;
    softmax(logits, n);
    float coin = infer_random_f32(&s->state);
    if (s->topp <= 0.0f || s->topp >= 1.0f)
        return sample_all(logits, n, coin);
    return sample_nucleus(m, logits, n, s->topp, coin);
}
