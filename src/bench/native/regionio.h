/* Moving a benchmark's input and output regions between the arena and
 * files, so host tests can check results against independent references. */
#ifndef FLUID_NATIVE_REGIONIO_H
#define FLUID_NATIVE_REGIONIO_H

#include "bench.h"

/* Dump file: u64 input bytes, u64 output bytes (little-endian), then the
 * input region, then the output region. Returns 0 on success. */
int region_dump(const char *path, const void *arena, const struct bench_region *input,
                const struct bench_region *output);

/* Replace the input region with the whole content of `path`, which must be
 * exactly input->bytes long. Returns 0 on success. */
int region_load(const char *path, void *arena, const struct bench_region *input);

#endif
