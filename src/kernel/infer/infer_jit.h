/* The inference engine's hot function offered to the kernel's JIT link
 * (docs/kernel-jit.md, README "Inference in the kernel"). */
#ifndef FLUID_INFER_JIT_H
#define FLUID_INFER_JIT_H

#include <stdint.h>

#include "infer.h"

/* Between two generations: when a link server answers HELLO, offers the
 * strided matrix-vector product and the forward pass of the variant `m`
 * runs (`variant`: its name) to it, timing forward passes at position
 * `pos` (`tokens`: the tokens fed at pos - 1 and pos; the caches hold
 * every position up to pos), and leaves in the slots the code that won:
 * `m->kernels` then points to a copy of the variant's kernels. Whether a
 * host was there (then the caller generates again, on that code, and
 * calls infer_jit_end). `usable`: the CPU_FEAT_* bits fpu_init enabled. */
int infer_jit(struct infer *m, const char *variant, const int32_t tokens[2], int32_t pos, uint32_t usable);

/* BYE to the host, after the generation on the JIT's code: until then the
 * host waits idle, where its ending (report, exit) would share the
 * machine's CPU with the generation being timed. */
void infer_jit_end(void);

#endif
