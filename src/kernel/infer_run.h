/* The inference workload (`workload=infer` on the boot command line). */
#ifndef FLUID_INFER_RUN_H
#define FLUID_INFER_RUN_H

/* Generates text with the boot modules `model`, `tokenizer` and `infer`
 * (the settings): checks them, measures the engine's variants, encodes the
 * prompt, generates the settings' number of tokens, printing the text on
 * screen and serial as it comes, with `logits` FLUID-LOGITS lines first
 * (the command line's infer_logits), then one FLUID-INFER line. Any
 * problem is a panic naming the module and the check; returns only once
 * every token is generated. */
void infer_run(uint32_t logits);

#endif
