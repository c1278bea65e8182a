/* Ending the kernel: under QEMU through the isa-debug-exit device, on real
 * hardware by halting. The exit values are the protocol's
 * (docs/boot-protocol.md, "Kernel exit status"). */
#ifndef FLUID_EXIT_H
#define FLUID_EXIT_H

#include <stdint.h>

#include "kprintf.h"

#define EXIT_OK 0x00        /* success */
#define EXIT_PANIC 0x01     /* kernel panic */
#define EXIT_EXCEPTION 0x02 /* CPU exception */
#define EXIT_CHECK 0x03     /* a self-test or benchmark check failed */

/* Writes `value` to the isa-debug-exit port (QEMU then exits with status
 * value * 2 + 1), then halts forever for hardware where nothing listens. */
__attribute__((noreturn)) void qemu_exit(uint8_t value);

/* Prints `FLUID-EXIT {"status":"ok"}` and exits with EXIT_OK. */
__attribute__((noreturn)) void kernel_exit_ok(void);

/* Prints "PANIC: <message>" and the FLUID-EXIT line, exits EXIT_PANIC. */
__attribute__((noreturn)) void panic(const char *fmt, ...) KPRINTF_FORMAT(1, 2);

/* A self-test or benchmark check failed: like panic, but EXIT_CHECK. */
__attribute__((noreturn)) void check_failed(const char *fmt, ...)
    KPRINTF_FORMAT(1, 2);

#endif
