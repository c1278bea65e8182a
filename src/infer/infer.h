/* The inference engine: a llama2.c-format transformer (checkpoint and
 * tokenizer) run in freestanding C, shared by the kernel, the native runners
 * (src/infer/native/) and the JIT module.
 *
 * Formats (all little-endian):
 *   checkpoint: seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *     vocab_size, seq_len; a negative vocab_size means the classifier is not
 *     shared with the token embedding), then float32 weights: token
 *     embedding (vocab, dim), rms_att (layers, dim), wq (layers, dim, dim),
 *     wk, wv (layers, kv_dim, dim), wo (layers, dim, dim), rms_ffn (layers,
 *     dim), w1 (layers, hidden, dim), w2 (layers, dim, hidden), w3 (layers,
 *     hidden, dim), rms_final (dim), two unused RoPE tables (seq_len *
 *     head_size / 2 each), and the classifier (vocab, dim) when unshared.
 *   tokenizer: int32 max_token_length, then per token a float32 score, an
 *     int32 length and that many bytes. Token 0 is unknown, 1 BOS, 2 EOS;
 *     byte b is token b + 3 (spelled <0xXX>).
 *
 * Memory: nothing is allocated. The weights and the token strings are used
 * where they lie (the caller keeps both buffers alive and unchanged; the
 * checkpoint must be 4-byte aligned, and weights on a 64-byte boundary,
 * i.e. the buffer at 36 mod 64, run fastest); everything else lives in one
 * arena of infer_mem_bytes(config) bytes, 64-byte aligned, that the caller
 * provides (the kernel from its allocator, the native runner from mmap).
 *
 * Every function that can fail returns an infer_status; infer_status_name()
 * and infer_status_message() say which check failed. A checkpoint or
 * tokenizer is checked completely by infer_read_config() and infer_init()
 * before anything is read through it: after INFER_OK no later call reads
 * outside the buffers whatever their content.
 *
 * Sizes are bounded so that every offset fits the 32-bit size_t of the
 * kernel and the i386 runner: a model whose checkpoint or arena passes
 * SIZE_MAX is refused (INFER_ERR_TOO_LARGE), as is a dimension above
 * INFER_MAX_DIM or a seq_len above INFER_MAX_SEQ_LEN. */
#ifndef FLUID_INFER_H
#define FLUID_INFER_H

#include <stddef.h>
#include <stdint.h>

/* Variants: the compute kernels (forward.c) build once per variant, with
 * -DFLUID_VARIANT_SUFFIX=_<variant> (as the benchmarks, see
 * src/bench/bench.h), so they link into one program: generic and tuned in
 * the native runners and the JIT module, every level of the manifest's
 * `variants` in the kernel (src/kernel/infer_variants.h). */
#ifndef FLUID_VARIANT_SUFFIX
#define FLUID_VARIANT_SUFFIX _generic
#endif
#define INFER_CAT_(a, b) a##b
#define INFER_CAT(a, b) INFER_CAT_(a, b)
#define INFER_VARIANT(name) INFER_CAT(name, FLUID_VARIANT_SUFFIX)

#define INFER_HEADER_BYTES 28
#define INFER_MAX_DIM (1 << 20)      /* any of dim, hidden_dim, vocab_size, layers, heads */
#define INFER_MAX_SEQ_LEN (1 << 20)  /* RoPE angles stay where kcosf/ksinf are exact */
#define INFER_MAX_TOKEN_BYTES 65536  /* tokenizer's max_token_length */
#define INFER_ARENA_ALIGN 64
#define INFER_TOKEN_UNK 0
#define INFER_TOKEN_BOS 1
#define INFER_TOKEN_EOS 2
#define INFER_BYTE_TOKEN_BASE 3

enum infer_status {
    INFER_OK = 0,
    INFER_ERR_HEADER_TRUNCATED,   /* checkpoint shorter than its 28-byte header */
    INFER_ERR_BAD_DIMENSION,      /* a header size is zero or negative */
    INFER_ERR_BAD_HEADS,          /* heads do not divide dim, kv heads do not divide heads, odd head size */
    INFER_ERR_TOO_LARGE,          /* a size above the limits, or bytes past SIZE_MAX */
    INFER_ERR_TRUNCATED,          /* checkpoint shorter than its header's sizes need */
    INFER_ERR_SIZE_MISMATCH,      /* checkpoint longer than its header's sizes: the sizes disagree */
    INFER_ERR_ALIGNMENT,          /* checkpoint or arena pointer misaligned */
    INFER_ERR_TOKENIZER_TRUNCATED, /* tokenizer ends inside its header or a token */
    INFER_ERR_TOKENIZER_BAD,      /* max_token_length out of range, a token longer than it or negative */
    INFER_ERR_VOCAB_MISMATCH,     /* tokenizer's token count differs from the checkpoint's vocab_size */
    INFER_ERR_ARENA,              /* arena smaller than infer_mem_bytes() */
    INFER_ERR_TOKEN,              /* token id outside [0, vocab_size) */
    INFER_ERR_POSITION,           /* position outside [0, seq_len) */
    INFER_ERR_PROMPT,             /* encoded prompt longer than the caller's token buffer */
    INFER_ERR_ARGUMENT,           /* null pointer, unknown variant, temperature or top-p out of range */
    INFER_STATUS_COUNT
};

/* A short identifier ("truncated") and a sentence for messages. */
const char *infer_status_name(int status);
const char *infer_status_message(int status);

struct infer_config {
    /* From the header (vocab_size made positive). */
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int32_t shared_classifier; /* 1: the classifier is the token embedding */
    /* Derived. */
    int32_t head_size; /* dim / n_heads */
    int32_t kv_dim;    /* head_size * n_kv_heads */
};

/* Reads and checks the header of a checkpoint of `bytes` bytes (the whole
 * file: its length must be exactly what the header's sizes need). */
int infer_read_config(const void *checkpoint, size_t bytes, struct infer_config *config);

/* The header's seven sizes as written (vocab_size made positive, the
 * classifier flag set; head_size and kv_dim not derived), unchecked: what
 * a message about a checkpoint infer_read_config refused can quote
 * (infer_checkpoint_bytes of it). `checkpoint` holds at least
 * INFER_HEADER_BYTES. */
void infer_read_header(const void *checkpoint, struct infer_config *config);

/* Bytes a checkpoint with this configuration has, header included, or
 * UINT64_MAX if `config` has a size out of range. */
uint64_t infer_checkpoint_bytes(const struct infer_config *config);

/* Arena bytes infer_init needs for a model of this configuration (a valid
 * one, from infer_read_config), or 0 if it passes SIZE_MAX. */
size_t infer_mem_bytes(const struct infer_config *config);

/* Checks a tokenizer file of `bytes` bytes and counts its tokens (the
 * whole file: it must end right after a token). */
int infer_tokenizer_tokens(const void *tokenizer, size_t bytes, uint32_t *count);

struct infer;

/* The strided matrix-vector product every product of a forward pass runs:
 * out[i] = sum_j w[i * stride + j] x[j], i < rows, j < cols; `prefetch`:
 * the rows stream from memory, `next` (may be 0) the matrix read after
 * (forward.c). */
typedef void (*infer_matvec_fn)(float *out, const float *w, const float *x, size_t rows, size_t cols,
                                size_t stride, int prefetch, const float *next);

/* The compute kernels of one variant (forward.c). `forward` computes the
 * logits of `token` at `pos` into m->logits (arguments already checked);
 * `matvec` is out[i] = sum_j w[i * cols + j] x[j] for i < rows; `stream_sum`
 * reads n floats once and returns their sum (the memory bandwidth probe of
 * the native runner). `matvec_slot`: in the kernel's build (forward.c,
 * INFER_MATVEC_SLOT) the variant's hot function, the strided product, is
 * called through the pointer it points to, which holds the variant's own
 * code until someone stores another (the kernel's JIT link swaps it
 * between two calls: src/kernel/infer/infer_jit.c); 0 in other builds
 * (the product is called directly). */
struct infer_kernels {
    const char *variant; /* "generic", "tuned", or another level's name */
    void (*forward)(struct infer *m, int32_t token, int32_t pos);
    void (*matvec)(float *out, const float *w, const float *x, size_t rows, size_t cols);
    float (*stream_sum)(const float *p, size_t n);
    infer_matvec_fn *matvec_slot;
};

/* The two every program has; the kernel's other levels are in its table. */
extern const struct infer_kernels infer_kernels_generic;
extern const struct infer_kernels infer_kernels_tuned;

/* A sampler candidate: a token and its probability. */
struct infer_prob {
    float prob;
    int32_t index;
};

/* One loaded model. The caller owns it (it is small: put it anywhere);
 * infer_init fills it. Read-only for the caller except `kernels`, which may
 * be switched to another variant at any time. The kernels only read it (they
 * write where its pointers lead), so its bytes stay as infer_init left them:
 * the JIT compiles the forward pass with them as constants. */
struct infer {
    struct infer_config config;
    const struct infer_kernels *kernels;
    /* Weights, inside the checkpoint buffer. */
    const float *token_embedding, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3;
    const float *rms_final, *classifier;
    /* Run state, inside the arena. key_cache and value_cache are
     * [layer][kv head][i][pos], i < head_size: positions contiguous, so the
     * attention runs along them (forward.c). */
    float *x, *xb, *xb2, *hb, *hb2, *q, *k, *att, *logits, *key_cache, *value_cache;
    float *rope_freq, *rope_cos, *rope_sin; /* head_size / 2 each */
    /* Tokenizer: token t is tok_len[t] bytes at tokenizer + tok_offset[t]. */
    const uint8_t *tokenizer;
    uint32_t *tok_offset, *tok_len;
    float *tok_score;
    int32_t *sorted; /* token ids in byte order, for lookups */
    int32_t max_token_length;
    int32_t space_token; /* the token " ", or -1 */
    struct infer_prob *candidates; /* vocab_size entries, the sampler's scratch */
};

/* Checks both files and lays the model out: weights in place, state in
 * `arena` (64-byte aligned, at least infer_mem_bytes() bytes). `kernels` is
 * one variant's kernels (&infer_kernels_generic...). The key/value cache starts
 * empty: positions must be fed in order from 0. */
int infer_init(struct infer *m, const void *checkpoint, size_t checkpoint_bytes,
               const void *tokenizer, size_t tokenizer_bytes, void *arena, size_t arena_bytes,
               const struct infer_kernels *kernels);

/* BPE encoding of `len` bytes of `text` as llama2.c does it: BOS (if
 * `bos`), the token " " when text is not empty (the dummy prefix), one token
 * per UTF-8 character (its bytes as byte tokens when the vocabulary lacks
 * it; the unknown token for a byte token past vocab_size), then repeatedly
 * the adjacent pair whose concatenation is the token of highest score
 * (leftmost on ties) merged, then EOS (if `eos`). Writes the ids to
 * `tokens` and their count to *n_tokens. `tokens` holds `max_tokens` ids:
 * 2 * (len + 3) always suffice (the merge pass keeps a cache of the
 * adjacent pairs' merges in the buffer past the tokens, so it costs
 * O(len^2) array steps and O(len) lookups); fewer may end in
 * INFER_ERR_PROMPT. */
int infer_encode(const struct infer *m, const char *text, size_t len, int bos, int eos,
                 int32_t *tokens, size_t max_tokens, size_t *n_tokens);

/* The logits (vocab_size floats, valid until the next call) after feeding
 * `token` at position `pos`, or 0 if token or pos is out of range. Fills
 * the caches at `pos`: earlier positions must have been fed. */
const float *infer_forward(struct infer *m, int32_t token, int32_t pos);

/* The bytes of `token` as text follows `prev`: the piece, without its
 * leading space right after BOS, or the single byte of a byte token
 * <0xXX>. Returns a pointer (not NUL-terminated) and sets *len; an id out of
 * range gives length 0. */
const uint8_t *infer_decode(const struct infer *m, int32_t prev, int32_t token, size_t *len);

/* Sampling: temperature 0 is greedy (the first largest logit); otherwise
 * softmax(logits / temperature) sampled with a coin from the xorshift64*
 * generator, among all tokens (topp <= 0 or >= 1) or the nucleus: the most
 * probable tokens (by probability, then id) whose probabilities first sum
 * past topp, ignoring those below (1 - topp) / (vocab - 1). */
struct infer_sampler {
    float temperature;
    float topp;
    uint64_t state;
};

/* Seed 0 is replaced by INFER_SEED_ZERO (xorshift stays 0 from 0). */
#define INFER_SEED_ZERO 0x853c49e6748fea9bull
int infer_sampler_init(struct infer_sampler *s, float temperature, float topp, uint64_t seed);

/* The next token from `logits` (vocab_size floats, overwritten when
 * temperature > 0). */
int32_t infer_sample(const struct infer *m, struct infer_sampler *s, float *logits);

/* Generation: the prompt fed position by position from 0, then `steps`
 * tokens sampled, each fed back except the last; so n_prompt + steps - 1
 * forward passes, which must fit seq_len. One call runs the whole loop, so
 * every runner (the native ones, the JIT's) times the same code and a caller
 * in another language pays one call, not one per token. */
struct infer_run {
    /* In. */
    const int32_t *prompt;         /* n_prompt ids (BOS first, from infer_encode) */
    size_t n_prompt;               /* at least 1 */
    size_t steps;                  /* tokens to generate, at least 1 */
    struct infer_sampler *sampler; /* its state advances */
    int32_t stop;                  /* end after a generated BOS or EOS */
    /* Out, in the caller's buffers (logits, clock and stamps may be 0). */
    int32_t *tokens;               /* the generated ids: `steps` entries */
    float *logits;                 /* every forward pass's logits, vocab_size floats each, in order */
    uint64_t (*clock)(void);       /* read before each forward pass and after the last step */
    uint64_t *stamps;              /* the readings: n_prompt + steps entries */
    /* Results. */
    size_t n;                      /* tokens generated */
    size_t forwards;               /* forward passes run; stamps[forwards] is the last reading */
};

/* Runs the generation `run` describes (generate.c). INFER_ERR_ARGUMENT for a
 * missing buffer or a count of 0, INFER_ERR_TOKEN for a prompt id out of
 * range, INFER_ERR_POSITION when the forward passes do not fit seq_len: all
 * checked before the first forward pass. */
int infer_generate(struct infer *m, struct infer_run *run);

/* sizeof(struct infer), for a caller that holds one without seeing its
 * definition (the JIT's driver, in Python). */
extern const size_t infer_struct_bytes;

/* The generator: xorshift64* (state ^= state >> 12, << 25, >> 27; the high
 * 32 bits of state * 0x2545F4914F6CDD1D) and a float in [0, 1) from its top
 * 24 bits. */
uint32_t infer_random_u32(uint64_t *state);
float infer_random_f32(uint64_t *state);

#endif
