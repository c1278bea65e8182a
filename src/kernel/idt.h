/* The Interrupt Descriptor Table. */
#ifndef FLUID_IDT_H
#define FLUID_IDT_H

#include <stdint.h>

#define IDT_EXCEPTION_VECTORS 32 /* vectors 0-31 are the CPU's exceptions */

/* Remaps and masks the PICs, then installs a handler for every CPU
 * exception (isr.asm -> trap_handler) and loads IDTR. */
void idt_init(void);

/* Points `vector` at `handler` through a 32-bit interrupt gate (IF cleared
 * on entry; the handler ends with IRET). */
void idt_set_gate(uint32_t vector, uint32_t handler);

#endif
