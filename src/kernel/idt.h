/* The Interrupt Descriptor Table. */
#ifndef FLUID_IDT_H
#define FLUID_IDT_H

#include <stdint.h>

#define IDT_EXCEPTION_VECTORS 32 /* vectors 0-31 are the CPU's exceptions */

/* Remaps and masks the PICs, then installs a handler for every CPU
 * exception (isr.asm -> trap_handler) and loads IDTR. */
void idt_init(void);

#endif
