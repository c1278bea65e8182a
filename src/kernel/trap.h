/* CPU exception reporting. */
#ifndef FLUID_TRAP_H
#define FLUID_TRAP_H

#include <stdint.h>

/* The stack isr.asm hands to trap_handler, lowest address first. */
struct trap_frame {
    /* PUSHAD, in the order it leaves them in memory */
    uint32_t edi, esi, ebp, esp_pushad, ebx, edx, ecx, eax;
    /* pushed by the stub */
    uint32_t vector;
    uint32_t error_code; /* the CPU's, or 0 for vectors without one */
    /* pushed by the CPU (same privilege level: no SS:ESP) */
    uint32_t eip, cs, eflags;
};

/* The SDM's name for an exception vector ("Invalid Opcode"). */
const char *trap_name(uint32_t vector);

/* Called by isr.asm: reports the fault on VGA and serial, then ends the
 * kernel with EXIT_EXCEPTION. */
__attribute__((noreturn)) void trap_handler(const struct trap_frame *tf);

#endif
