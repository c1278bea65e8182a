/* The registry of the native runner: all six benchmarks. (The kernel image
 * gets its registry generated from the manifest, build/gen/bench_registry.c;
 * this one only gives the runner its names and default run lengths.) Size 0
 * stands for the benchmark's default_size, as in the kernel. */
#include "bench.h"

#define BENCH_PAIR(name) \
    extern const struct bench_desc bench_##name##_generic, bench_##name##_tuned;
BENCH_PAIR(matrix_mul)
BENCH_PAIR(fft_1d)
BENCH_PAIR(sha256_stream)
BENCH_PAIR(regex_dfa)
BENCH_PAIR(gemm_tile)
BENCH_PAIR(physics_step)

#define ENTRY(name, size, iterations) \
    {#name, &bench_##name##_generic, &bench_##name##_tuned, size, iterations}

const struct bench_entry bench_registry[] = {
    ENTRY(matrix_mul, 0, 10),
    ENTRY(fft_1d, 0, 2000),
    ENTRY(sha256_stream, 0, 50),
    ENTRY(regex_dfa, 0, 50),
    ENTRY(gemm_tile, 0, 20),
    ENTRY(physics_step, 0, 200),
};

const uint32_t bench_registry_count = sizeof bench_registry / sizeof bench_registry[0];
