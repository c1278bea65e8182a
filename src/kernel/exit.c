/* Kernel exit paths. Each ends with one machine-readable FLUID-EXIT line on
 * serial so the runner knows why the guest stopped, then the exit value on
 * QEMU's isa-debug-exit port. */
#include <stdarg.h>

#include "console.h"
#include "exit.h"
#include "io.h"
#include "kprintf.h"

/* ISA_DEBUG_EXIT_PORT (protocol.h): QEMU's isa-debug-exit device, as
 * configured by the runner (-device isa-debug-exit,iobase=0xf4,iosize=0x04). */

#define EXIT_MESSAGE_LEN 256

void qemu_exit(uint8_t value)
{
    outb(ISA_DEBUG_EXIT_PORT, value);
    /* Not under QEMU: stop here. HLT with interrupts off only resumes on
     * NMI or SMI, hence the loop. */
    for (;;)
        __asm__ volatile("cli; hlt");
}

void kernel_exit_ok(void)
{
    kprintf_to(CONSOLE_SERIAL, "FLUID-EXIT {\"status\":\"ok\"}\n");
    qemu_exit(EXIT_OK);
}

/* Prints the message for a person on both outputs, the FLUID-EXIT line
 * (message included, JSON-escaped) on serial, and exits. */
__attribute__((noreturn)) static void fail(uint8_t value, const char *status,
                                           const char *fmt, va_list ap)
{
    char msg[EXIT_MESSAGE_LEN];

    kvsnprintf(msg, sizeof(msg), fmt, ap);
    console_set_color(VGA_LIGHT_RED, VGA_BLACK);
    kprintf("\n%s: %s\n", value == EXIT_PANIC ? "PANIC" : "CHECK FAILED", msg);
    kprintf_to(CONSOLE_SERIAL, "FLUID-EXIT {\"status\":\"%s\",\"message\":",
               status);
    console_write_json_string(CONSOLE_SERIAL, msg);
    kprintf_to(CONSOLE_SERIAL, "}\n");
    qemu_exit(value);
}

void panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail(EXIT_PANIC, "panic", fmt, ap);
}

void check_failed(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail(EXIT_CHECK, "check", fmt, ap);
}
