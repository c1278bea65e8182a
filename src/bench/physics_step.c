/* physics_step: n particles in a closed box under gravity and quadratic air
 * drag, integrated with semi-implicit Euler; walls bounce a particle back
 * with restitution PHYS_RESTITUTION. Each run() advances the initial state
 * PHYS_STEPS steps into the state arrays.
 *
 * One step of one particle, in binary32, in exactly this order:
 *   speed = sqrt((vx*vx + vy*vy) + vz*vz);   f = K * speed
 *   vx -= DT * (f * vx);   vy -= DT * (f * vy);   vz += DT * (G - f * vz)
 *   px += DT * vx;         py += DT * vy;         pz += DT * vz
 *   per axis: below the low wall w:  p = w + E * (w - p), v = -E * v
 *             above the high wall w: p = w - E * (p - w), v = -E * v
 * Particles are independent, so the loop runs the steps over blocks of
 * particles small enough to stay in L1; the compiler vectorizes along the
 * particles and turns the bounces into selects.
 *
 * Bit-exact on every target: multiply-add contraction is off in this file,
 * and on x87 (no SSE, FLT_EVAL_METHOD 2) run() sets the FPU's precision
 * control to 24 bits, so each operation rounds to binary32 like SSE does
 * (the 64-bit exponent range changes nothing for these magnitudes). The
 * checksum hashes the final state's bits, and a float32 numpy version of
 * the same step reproduces them exactly.
 *
 * Arena: the initial state then the state, each six float arrays (px, py,
 * pz, vx, vy, vz) of n values on 64-byte boundaries. */
#include "bench.h"
#include "bench_util.h"
#include "klib.h"

#pragma STDC FP_CONTRACT OFF

#define PHYS_STEPS 16
#define PHYS_BLOCK 512 /* particles per block: 6 arrays x 2 KiB in L1 */
#define PHYS_ARRAYS 6
#define PHYS_DT 0x1p-8f          /* 1/256 s, exact */
#define PHYS_GRAVITY (-9.81f)    /* m/s^2 along z */
#define PHYS_DRAG 0.02f          /* 1/m: deceleration K * |v| * v */
#define PHYS_RESTITUTION 0.75f
#define PHYS_HALF_WIDTH 8.0f     /* walls at x, y = +-8 m */
#define PHYS_HEIGHT 16.0f        /* floor z = 0, ceiling z = 16 m */
#define PHYS_MAX_SPEED 12.0f     /* initial velocity components in +-12 m/s */

/* The largest n: 2^26 particles take a 3 GiB arena (two states of six
 * float arrays, 48 bytes per particle); 89478486 would pass 4 GiB, the
 * i386 size_t. */
#define BENCH_MAX_SIZE 67108864

enum { PHYS_STREAM_STATE = 1 };
enum { PX, PY, PZ, VX, VY, VZ };

#if defined(__i386__) && __FLT_EVAL_METHOD__ == 2
/* x87 control word, precision control field (bits 8-9): 00 = 24-bit
 * significand (Intel SDM vol. 1, 8.1.5.2). */
#define PHYS_X87_PC_MASK 0x0300u
static uint16_t phys_fpu_single(void)
{
    uint16_t saved, cw;
    __asm__ volatile("fnstcw %0" : "=m"(saved));
    cw = (uint16_t)(saved & ~PHYS_X87_PC_MASK);
    __asm__ volatile("fldcw %0" : : "m"(cw));
    return saved;
}

static void phys_fpu_restore(uint16_t saved)
{
    __asm__ volatile("fldcw %0" : : "m"(saved));
}
#else
static uint16_t phys_fpu_single(void)
{
    return 0;
}

static void phys_fpu_restore(uint16_t saved)
{
    (void)saved;
}
#endif

static size_t phys_array_bytes(uint32_t n)
{
    return bench_align((size_t)n * sizeof(float));
}

static size_t phys_state_bytes(uint32_t n)
{
    return PHYS_ARRAYS * phys_array_bytes(n);
}

static size_t phys_mem_bytes(uint32_t n)
{
    return 2 * phys_state_bytes(n);
}

/* The six arrays of the initial state (which = 0) or the state (1). */
static void phys_arrays(void *arena, uint32_t n, int which, float *a[PHYS_ARRAYS])
{
    for (int i = 0; i < PHYS_ARRAYS; i++)
        a[i] = bench_at(arena, (size_t)which * phys_state_bytes(n) + i * phys_array_bytes(n));
}

static void phys_setup(void *arena, uint32_t n, uint32_t seed)
{
    float *init[PHYS_ARRAYS], *state[PHYS_ARRAYS];
    struct bench_rng rng;
    phys_arrays(arena, n, 0, init);
    phys_arrays(arena, n, 1, state);
    bench_rng_init(&rng, seed, PHYS_STREAM_STATE);
    for (uint32_t i = 0; i < n; i++) {
        init[PX][i] = (2.0f * bench_rng_unit(&rng) - 1.0f) * PHYS_HALF_WIDTH;
        init[PY][i] = (2.0f * bench_rng_unit(&rng) - 1.0f) * PHYS_HALF_WIDTH;
        init[PZ][i] = bench_rng_unit(&rng) * PHYS_HEIGHT;
        for (int v = VX; v <= VZ; v++)
            init[v][i] = (2.0f * bench_rng_unit(&rng) - 1.0f) * PHYS_MAX_SPEED;
    }
    for (int a = 0; a < PHYS_ARRAYS; a++)
        memset(state[a], 0, (size_t)n * sizeof(float));
}

/* Reflect p, v off walls lo and hi. */
static inline void phys_bounce(float *p, float *v, float lo, float hi)
{
    float pos = *p, vel = *v;
    if (pos < lo) {
        pos = lo + PHYS_RESTITUTION * (lo - pos);
        vel = -PHYS_RESTITUTION * vel;
    } else if (pos > hi) {
        pos = hi - PHYS_RESTITUTION * (pos - hi);
        vel = -PHYS_RESTITUTION * vel;
    }
    *p = pos;
    *v = vel;
}

/* One step for particles [0, count) of the given arrays. */
static void phys_step(float *restrict px, float *restrict py, float *restrict pz,
                      float *restrict vx, float *restrict vy, float *restrict vz,
                      uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        float x = vx[i], y = vy[i], z = vz[i];
        float speed = __builtin_elementwise_sqrt(x * x + y * y + z * z);
        float f = PHYS_DRAG * speed;
        x = x - PHYS_DT * (f * x);
        y = y - PHYS_DT * (f * y);
        z = z + PHYS_DT * (PHYS_GRAVITY - f * z);
        float a = px[i] + PHYS_DT * x, b = py[i] + PHYS_DT * y, c = pz[i] + PHYS_DT * z;
        phys_bounce(&a, &x, -PHYS_HALF_WIDTH, PHYS_HALF_WIDTH);
        phys_bounce(&b, &y, -PHYS_HALF_WIDTH, PHYS_HALF_WIDTH);
        phys_bounce(&c, &z, 0.0f, PHYS_HEIGHT);
        px[i] = a;
        py[i] = b;
        pz[i] = c;
        vx[i] = x;
        vy[i] = y;
        vz[i] = z;
    }
}

/* A plain loop rather than klib's memcpy: it vectorizes like the step. */
static void phys_copy(float *restrict dst, const float *restrict src, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        dst[i] = src[i];
}

static void phys_run(void *arena, uint32_t n)
{
    float *init[PHYS_ARRAYS], *state[PHYS_ARRAYS];
    uint16_t fpu = phys_fpu_single();
    phys_arrays(arena, n, 0, init);
    phys_arrays(arena, n, 1, state);
    for (uint32_t i0 = 0; i0 < n; i0 += PHYS_BLOCK) {
        uint32_t count = n - i0 < PHYS_BLOCK ? n - i0 : PHYS_BLOCK;
        float *s[PHYS_ARRAYS];
        for (int a = 0; a < PHYS_ARRAYS; a++) {
            s[a] = state[a] + i0;
            phys_copy(s[a], init[a] + i0, count);
        }
        for (int step = 0; step < PHYS_STEPS; step++)
            phys_step(s[PX], s[PY], s[PZ], s[VX], s[VY], s[VZ], count);
    }
    phys_fpu_restore(fpu);
}

static uint64_t phys_checksum(const void *arena, uint32_t n)
{
    uint64_t hash = BENCH_HASH_INIT;
    for (int a = 0; a < PHYS_ARRAYS; a++) {
        const uint32_t *bits =
            bench_at_const(arena, phys_state_bytes(n) + a * phys_array_bytes(n));
        for (uint32_t i = 0; i < n; i++)
            hash = bench_hash_u32(hash, bits[i]);
    }
    return hash;
}

static uint64_t phys_work(uint32_t n)
{
    return (uint64_t)n * PHYS_STEPS;
}

static void phys_regions(uint32_t n, struct bench_region *input, struct bench_region *output)
{
    /* Each: px, py, pz, vx, vy, vz, one every phys_array_bytes(n) bytes. */
    input->offset = 0;
    input->bytes = phys_state_bytes(n);
    output->offset = phys_state_bytes(n);
    output->bytes = phys_state_bytes(n);
}

const struct bench_desc BENCH_SYMBOL(physics_step) = {
    .name = "physics_step",
    .unit = "step",
    .default_size = 16384,
    .mem_bytes = phys_mem_bytes,
    .setup = phys_setup,
    .run = phys_run,
    .checksum = phys_checksum,
    .work = phys_work,
    .regions = phys_regions,
    .max_size = BENCH_MAX_SIZE,
};
