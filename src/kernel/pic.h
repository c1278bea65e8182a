/* The two cascaded 8259A Programmable Interrupt Controllers. */
#ifndef FLUID_PIC_H
#define FLUID_PIC_H

/* Where the remapped IRQs land: after the 32 CPU exception vectors. */
#define PIC_MASTER_VECTOR 0x20 /* IRQ 0-7 */
#define PIC_SLAVE_VECTOR 0x28  /* IRQ 8-15 */

/* Moves IRQ 0-15 to vectors 0x20-0x2F and masks every line. */
void pic_remap_and_mask(void);

#endif
