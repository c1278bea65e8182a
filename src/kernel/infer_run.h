/* The inference workload (`workload=infer` on the boot command line). */
#ifndef FLUID_INFER_RUN_H
#define FLUID_INFER_RUN_H

#include <stdint.h>

/* Generates text with the boot modules `model`, `tokenizer` and `infer`
 * (the settings): checks them, measures the engine's variants, encodes the
 * prompt, generates the settings' number of tokens, printing the text on
 * screen and serial as it comes, then the first `logits` positions'
 * FLUID-LOGITS lines (the command line's infer_logits) and one FLUID-INFER
 * line (`"phase":"boot"`). When a JIT link server answers on COM2
 * (infer_jit.h), the engine's hot function is then offered to it, and the
 * same generation runs again on the code the link left (one more
 * FLUID-INFER line, `"phase":"jit"`). `usable`: the CPU_FEAT_* bits
 * fpu_init enabled. Any problem is a panic naming the module and the check; returns
 * only once every token is generated.
 * Weak: the manifest builds it with the engine (kernel_infer_ir, infer_ir,
 * infer_table_ir); a kernel linked without them has no infer_run (its
 * address is 0) and refuses workload=infer. */
void infer_run(uint32_t logits, uint32_t usable) __attribute__((weak));

#endif
