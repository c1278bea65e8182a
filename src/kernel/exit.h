/* Ending the kernel: under QEMU through the isa-debug-exit device, on real
 * hardware by halting. The exit values (EXIT_OK, EXIT_PANIC, EXIT_EXCEPTION,
 * EXIT_CHECK) and the port are the protocol's (docs/boot-protocol.md,
 * "Kernel exit status"), from the generated protocol.h. */
#ifndef FLUID_EXIT_H
#define FLUID_EXIT_H

#include <stdint.h>

#include "kprintf.h"
#include "protocol.h"

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
