/* sha256_stream: SHA-256 (FIPS 180-4) of a `size`-byte message fed through
 * a streaming init/update/final interface in SHA_STREAM_CHUNK-byte pieces,
 * as a network or disk consumer would.
 *
 * Two compression functions: portable C with the rounds unrolled, and, when
 * the target has the SHA extensions (__SHA__), the SHA-NI instructions
 * (SHA256RNDS2 does two rounds, SHA256MSG1/MSG2 the message schedule).
 * Both give the same digest; the checksum folds the digest words.
 *
 * Arena: the message (size bytes), then the 32-byte digest. */
#include "bench.h"
#include "bench_util.h"
#include "klib.h"

#if defined(__SHA__) && defined(__SSE4_1__) && defined(__SSSE3__)
#define SHA_USE_NI 1
#include <immintrin.h>
#else
#define SHA_USE_NI 0
#endif

#define SHA_BLOCK 64
#define SHA_DIGEST 32
#define SHA_WORDS 8
#define SHA_ROUNDS 64
#define SHA_LENGTH_FIELD 8       /* message length in bits, big-endian u64 */
#define SHA_PAD_FIRST 0x80       /* the 1 bit that starts the padding */
#define SHA_STREAM_CHUNK 1500u   /* bytes per update(): an Ethernet payload */

/* The largest message: 2 GiB. The arena (message and digest) of the next
 * power of two would not fit 4 GiB, the i386 size_t, and the update loop's
 * offset + SHA_STREAM_CHUNK must stay below 2^32 too. */
#define BENCH_MAX_SIZE 2147483648

enum { SHA_STREAM_MESSAGE = 1 };

/* FIPS 180-4 section 4.2.2: first 32 bits of the fractional parts of the
 * cube roots of the first 64 primes. Aligned for 16-byte vector loads. */
static const uint32_t sha_k[SHA_ROUNDS] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Section 5.3.3: initial hash value H(0). */
static const uint32_t sha_h0[SHA_WORDS] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

struct sha_ctx {
    uint32_t h[SHA_WORDS];
    uint8_t buf[SHA_BLOCK];
    uint32_t buffered;  /* bytes waiting in buf */
    uint64_t total;     /* message bytes so far */
};

static inline uint32_t sha_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void sha_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#if SHA_USE_NI
/* The SHA-NI state layout: SHA256RNDS2 wants the words as ABEF and CDGH. */
static void sha_blocks(uint32_t h[SHA_WORDS], const uint8_t *data, size_t blocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
    __m128i dcba = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i hgfe = _mm_loadu_si128((const __m128i *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
    __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);
    for (; blocks > 0; blocks--, data += SHA_BLOCK) {
        __m128i abef_in = abef, cdgh_in = cdgh, m[4];
        for (int g = 0; g < 4; g++)
            m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * g)), bswap);
        /* 16 groups of 4 rounds; group g also extends the schedule to
         * words 4(g+4) .. 4(g+4)+3, kept in the ring m[]. Fully unrolled so
         * the ring indices are constants and m[] stays in registers. */
#pragma clang loop unroll(full)
        for (int g = 0; g < SHA_ROUNDS / 4; g++) {
            __m128i w = _mm_add_epi32(m[g & 3], _mm_load_si128((const __m128i *)&sha_k[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, w);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(w, 0x0e));
            if (g < SHA_ROUNDS / 4 - 4) {
                __m128i next = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
                next = _mm_add_epi32(next, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
                m[g & 3] = _mm_sha256msg2_epu32(next, m[(g + 3) & 3]);
            }
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }
    cdab = _mm_shuffle_epi32(abef, 0x1b);  /* FEBA */
    efgh = _mm_shuffle_epi32(cdgh, 0xb1);  /* DCHG */
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(cdab, efgh, 0xf0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(efgh, cdab, 8));
}
#else
#define SHA_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define SHA_BSIG0(x) (SHA_ROTR(x, 2) ^ SHA_ROTR(x, 13) ^ SHA_ROTR(x, 22))
#define SHA_BSIG1(x) (SHA_ROTR(x, 6) ^ SHA_ROTR(x, 11) ^ SHA_ROTR(x, 25))
#define SHA_SSIG0(x) (SHA_ROTR(x, 7) ^ SHA_ROTR(x, 18) ^ ((x) >> 3))
#define SHA_SSIG1(x) (SHA_ROTR(x, 17) ^ SHA_ROTR(x, 19) ^ ((x) >> 10))
#define SHA_CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define SHA_MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))

/* One round with the eight working variables renamed instead of shifted:
 * only d and h change. */
#define SHA_ROUND(a, b, c, d, e, f, g, h, i)                                   \
    do {                                                                        \
        uint32_t t1 = h + SHA_BSIG1(e) + SHA_CH(e, f, g) + sha_k[i] + w[(i) & 15]; \
        d += t1;                                                                \
        h = t1 + SHA_BSIG0(a) + SHA_MAJ(a, b, c);                               \
    } while (0)

/* Schedule word i >= 16 in the 16-word ring. */
#define SHA_SCHEDULE(i)                                                       \
    (w[(i) & 15] += SHA_SSIG1(w[((i) - 2) & 15]) + w[((i) - 7) & 15] +         \
                    SHA_SSIG0(w[((i) - 15) & 15]))

static void sha_blocks(uint32_t h[SHA_WORDS], const uint8_t *data, size_t blocks)
{
    for (; blocks > 0; blocks--, data += SHA_BLOCK) {
        uint32_t w[16];
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 16; i++)
            w[i] = sha_load_be32(data + 4 * i);
        /* Fully unrolled: every ring index becomes a constant. */
#pragma clang loop unroll(full)
        for (int i = 0; i < SHA_ROUNDS; i += 8) {
            if (i >= 16)
                for (int j = i; j < i + 8; j++)
                    SHA_SCHEDULE(j);
            SHA_ROUND(a, b, c, d, e, f, g, hh, i + 0);
            SHA_ROUND(hh, a, b, c, d, e, f, g, i + 1);
            SHA_ROUND(g, hh, a, b, c, d, e, f, i + 2);
            SHA_ROUND(f, g, hh, a, b, c, d, e, i + 3);
            SHA_ROUND(e, f, g, hh, a, b, c, d, i + 4);
            SHA_ROUND(d, e, f, g, hh, a, b, c, i + 5);
            SHA_ROUND(c, d, e, f, g, hh, a, b, i + 6);
            SHA_ROUND(b, c, d, e, f, g, hh, a, i + 7);
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
}
#endif

static void sha_init(struct sha_ctx *ctx)
{
    for (int i = 0; i < SHA_WORDS; i++)
        ctx->h[i] = sha_h0[i];
    ctx->buffered = 0;
    ctx->total = 0;
}

static void sha_update(struct sha_ctx *ctx, const uint8_t *data, size_t len)
{
    ctx->total += len;
    if (ctx->buffered > 0) {
        size_t take = SHA_BLOCK - ctx->buffered < len ? SHA_BLOCK - ctx->buffered : len;
        memcpy(ctx->buf + ctx->buffered, data, take);
        ctx->buffered += (uint32_t)take;
        data += take;
        len -= take;
        if (ctx->buffered < SHA_BLOCK)
            return;
        sha_blocks(ctx->h, ctx->buf, 1);
        ctx->buffered = 0;
    }
    sha_blocks(ctx->h, data, len / SHA_BLOCK);
    data += len / SHA_BLOCK * SHA_BLOCK;
    len %= SHA_BLOCK;
    memcpy(ctx->buf, data, len);
    ctx->buffered = (uint32_t)len;
}

/* Section 5.1.1: append the 1 bit, zeros up to 56 mod 64 bytes, then the
 * message length in bits as a big-endian 64-bit integer. */
static void sha_final(struct sha_ctx *ctx, uint8_t digest[SHA_DIGEST])
{
    uint64_t bits = ctx->total * 8;
    uint32_t used = ctx->buffered;
    ctx->buf[used++] = SHA_PAD_FIRST;
    if (used > SHA_BLOCK - SHA_LENGTH_FIELD) {
        memset(ctx->buf + used, 0, SHA_BLOCK - used);
        sha_blocks(ctx->h, ctx->buf, 1);
        used = 0;
    }
    memset(ctx->buf + used, 0, SHA_BLOCK - SHA_LENGTH_FIELD - used);
    sha_store_be32(ctx->buf + SHA_BLOCK - 8, (uint32_t)(bits >> 32));
    sha_store_be32(ctx->buf + SHA_BLOCK - 4, (uint32_t)bits);
    sha_blocks(ctx->h, ctx->buf, 1);
    for (int i = 0; i < SHA_WORDS; i++)
        sha_store_be32(digest + 4 * i, ctx->h[i]);
}

static size_t sha_digest_offset(uint32_t size)
{
    return bench_align(size);
}

static size_t sha_mem_bytes(uint32_t size)
{
    return sha_digest_offset(size) + bench_align(SHA_DIGEST);
}

static void sha_setup(void *arena, uint32_t size, uint32_t seed)
{
    uint8_t *msg = arena;
    struct bench_rng rng;
    bench_rng_init(&rng, seed, SHA_STREAM_MESSAGE);
    for (uint32_t i = 0; i < size; i++)
        msg[i] = (uint8_t)(bench_rng_u32(&rng) >> 24);
    memset(bench_at(arena, sha_digest_offset(size)), 0, SHA_DIGEST);
}

static void sha_run(void *arena, uint32_t size)
{
    const uint8_t *msg = arena;
    struct sha_ctx ctx;
    sha_init(&ctx);
    for (uint32_t off = 0; off < size; off += SHA_STREAM_CHUNK)
        sha_update(&ctx, msg + off, size - off < SHA_STREAM_CHUNK ? size - off : SHA_STREAM_CHUNK);
    sha_final(&ctx, bench_at(arena, sha_digest_offset(size)));
}

static uint64_t sha_checksum(const void *arena, uint32_t size)
{
    const uint8_t *digest = bench_at_const(arena, sha_digest_offset(size));
    uint64_t hash = BENCH_HASH_INIT;
    for (int i = 0; i < SHA_WORDS; i++)
        hash = bench_hash_u32(hash, sha_load_be32(digest + 4 * i));
    return hash;
}

static uint64_t sha_work(uint32_t size)
{
    return size;
}

static void sha_regions(uint32_t size, struct bench_region *input, struct bench_region *output)
{
    input->offset = 0;
    input->bytes = size;
    output->offset = sha_digest_offset(size);
    output->bytes = SHA_DIGEST;
}

const struct bench_desc BENCH_SYMBOL(sha256_stream) = {
    .name = "sha256_stream",
    .unit = "byte",
    .default_size = 1048576,
    .mem_bytes = sha_mem_bytes,
    .setup = sha_setup,
    .run = sha_run,
    .checksum = sha_checksum,
    .work = sha_work,
    .regions = sha_regions,
    .max_size = BENCH_MAX_SIZE,
};
