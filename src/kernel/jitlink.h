/* The live re-JIT link, executor side (docs/kernel-jit.md): a host compiles
 * the kernel's hot functions for this very CPU; the kernel only receives
 * finished, relocated bytes, checks them, copies them into its code arena
 * and keeps them if they time faster. */
#ifndef FLUID_JITLINK_H
#define FLUID_JITLINK_H

#include <stdint.h>

/* After the benchmarks ran with their boot choice (bench_run_all): offers
 * each benchmark's run() to a link server on COM2. Without a UART there, or
 * without an answer to HELLO within JIT_HELLO_TIMEOUT_MS, prints one
 * `FLUID-JIT {"event":"hello","host":false,...}` line and returns. Every
 * wait on the link is bounded by the spec's timeouts; a host that goes
 * silent (JIT_SILENT_LIMIT unanswered requests) is not asked again.
 * `usable`: the CPU_FEAT_* bits fpu_init enabled, for the host's log.
 * Weak: the manifest builds it with the benchmarks (kernel_jit_ir); a kernel
 * linked without it has no jitlink_run (its address is 0). */
void jitlink_run(uint32_t usable) __attribute__((weak));

#endif
