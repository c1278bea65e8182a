/* The two cascaded 8259A Programmable Interrupt Controllers. */
#ifndef FLUID_PIC_H
#define FLUID_PIC_H

#include <stdint.h>

/* Where the remapped IRQs land: after the 32 CPU exception vectors. */
#define PIC_MASTER_VECTOR 0x20 /* IRQ 0-7 */
#define PIC_SLAVE_VECTOR 0x28  /* IRQ 8-15 */

/* Moves IRQ 0-15 to vectors 0x20-0x2F and masks every line. */
void pic_remap_and_mask(void);

/* The master PIC's interrupt mask register (OCW1): bit n set masks IRQ n.
 * A masked line's edges still latch in the request register and reach the
 * CPU once it is unmasked. */
#define PIC_MASK_ALL 0xFF
void pic_set_master_mask(uint8_t mask);

/* Tells the master PIC the interrupt it delivered has been handled (OCW2),
 * so it delivers the next one; an IRQ 0-7 handler's last word. */
void pic_end_of_interrupt(void);

#endif
