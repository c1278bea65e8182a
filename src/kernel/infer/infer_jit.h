/* The inference engine's hot function offered to the kernel's JIT link
 * (docs/kernel-jit.md, README "Inference in the kernel"). */
#ifndef FLUID_INFER_JIT_H
#define FLUID_INFER_JIT_H

#include <stdint.h>

#include "infer.h"

/* Between two generations: when a link server answers HELLO, offers the
 * strided matrix-vector product of the variant `m` runs (`variant`: its
 * name) to it, timing forward passes of `token` at position `pos` (fed
 * before: the caches hold every earlier position), and leaves in the slot
 * the code that won. Whether a host was there (then the caller generates
 * again, on that code). `usable`: the CPU_FEAT_* bits fpu_init enabled. */
int infer_jit(struct infer *m, const char *variant, int32_t token, int32_t pos, uint32_t usable);

#endif
