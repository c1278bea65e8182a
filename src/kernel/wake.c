/* Sleeping until an interrupt (see wake.h). */
#include <stdint.h>

#include "idt.h"
#include "pic.h"
#include "wake.h"

/* isr.asm: saves the registers C may clobber, calls wake_acknowledge,
 * returns with IRET. */
extern const uint8_t wake_stub[];

/* Master-PIC lines that end wake_wait (bit n: IRQ n). */
static uint8_t wake_lines;

void wake_acknowledge(void);

void wake_acknowledge(void)
{
    pic_end_of_interrupt();
}

void wake_source(uint32_t irq)
{
    idt_set_gate(PIC_MASTER_VECTOR + irq, (uint32_t)(uintptr_t)wake_stub);
    wake_lines |= (uint8_t)(1u << irq);
}

void wake_wait(void)
{
    pic_set_master_mask((uint8_t)(PIC_MASK_ALL & ~wake_lines));
    /* STI takes effect after the next instruction, so no interrupt can come
     * between it and HLT and leave the CPU halted with nothing to wake it
     * (Intel SDM vol. 2B, STI). The handler returns past HLT; CLI follows. */
    __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
    pic_set_master_mask(PIC_MASK_ALL);
}
