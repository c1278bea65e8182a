/* Sleeping until an interrupt. The kernel runs with interrupts off and
 * polls its devices; where it waits on one for a while it can halt the CPU
 * instead (HLT), and let an IRQ end the halt. Under an emulator that gives
 * the host CPU back to the emulator's threads feeding the device (QEMU's
 * I/O thread fills an emulated UART's FIFO) instead of competing with them.
 * The handler only acknowledges the PIC: the waiter polls the device again
 * and decides. */
#ifndef FLUID_WAKE_H
#define FLUID_WAKE_H

#include <stdint.h>

/* Lets master-PIC line `irq` (0-7) end wake_wait: installs the wake handler
 * on its vector. The line stays masked except during wake_wait. */
void wake_source(uint32_t irq);

/* Halts until an interrupt of a wake source arrives, or returns at once if
 * one already latched in the PIC while interrupts were off. Interrupts are
 * off again, and the sources masked, on return. */
void wake_wait(void);

#endif
