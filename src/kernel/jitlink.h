/* The live re-JIT link, executor side (docs/kernel-jit.md): a host compiles
 * the kernel's hot functions for this very CPU; the kernel only receives
 * finished, relocated bytes, checks them, copies them into its code arena
 * and keeps them if they time faster. */
#ifndef FLUID_JITLINK_H
#define FLUID_JITLINK_H

#include <stdint.h>

/* One function the link may replace: a slot (a function pointer every call
 * of the workload loads) and how the workload calls it. The benchmarks'
 * run() are clients (jitlink.c), so is the inference engine's matrix-vector
 * product (src/kernel/infer/infer_jit.c). */
struct jit_client {
    uint32_t slot;       /* the profiler's function id, the HELLO slot */
    const char *name;    /* PROFILE's name: a benchmark's ("matrix_mul": lines say matrix_mul.run),
                            or the function's label ("infer.matvec") */
    const char *variant; /* the boot choice's variant */
    uint32_t size;       /* PROFILE's size */
    uintptr_t boot;      /* the boot choice's code */
    /* The code the slot holds, and a store into it (a swap). */
    uintptr_t (*held)(const struct jit_client *c);
    void (*hold)(const struct jit_client *c, uintptr_t code);
    /* Fresh state for calls, each set up alike (so checksums compare). */
    void *(*setup)(const struct jit_client *c);
    void (*release)(void *work);
    /* One call of the workload: on `code`, unprofiled (timed), or through
     * the slot with the profiler counting the slot's function. */
    void (*call)(const struct jit_client *c, void *work, uintptr_t code);
    void (*call_profiled)(const struct jit_client *c, void *work);
    uint64_t (*checksum)(const struct jit_client *c, void *work);
    const void *ctx; /* the client's own */
};

/* HELLO naming the `count` slots' code (`slots`), then WELCOME within
 * JIT_HELLO_TIMEOUT_MS: whether a host is there. Without a UART at COM2, or
 * without an answer, prints one `FLUID-JIT {"event":"hello","host":false,...}`
 * line and returns 0. `usable`: the CPU_FEAT_* bits fpu_init enabled, for
 * the host's log. */
int jitlink_open(uint32_t usable, const uintptr_t *slots, uint32_t count) __attribute__((weak));

/* Offers one client's function to the host, up to JIT_MAX_ROUNDS times:
 * PROFILE, PATCH checked, swap, old against new timed, kept or reverted,
 * then the slot's code confirmed against the boot choice. Every wait on the
 * link is bounded by the spec's timeouts; a host that goes silent
 * (JIT_SILENT_LIMIT unanswered requests) is not asked again. */
void jitlink_tune(const struct jit_client *c) __attribute__((weak));

/* BYE (if the host is still there) and the `bye` line. Until BYE the host
 * waits, idle; after it, it writes its report and ends, which takes the
 * host's CPU for a while: a client that measures something after its
 * rounds says BYE after that. */
void jitlink_close(void) __attribute__((weak));

/* After the benchmarks ran with their boot choice (bench_run_all): offers
 * each benchmark's run() to a link server on COM2. Weak, as the three
 * above: the manifest builds them with the benchmarks (kernel_jit_ir); a
 * kernel linked without them has none (their address is 0). */
void jitlink_run(uint32_t usable) __attribute__((weak));

#endif
