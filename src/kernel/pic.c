/* 8259A PIC setup (Intel 8259A datasheet, "Initialization Command Words").
 * The BIOS leaves the master PIC delivering IRQ 0-7 on vectors 8-15, which
 * the CPU reserves for exceptions: a timer tick would look like a Double
 * Fault. The kernel polls and never takes IRQs, but it still moves them out
 * of the exception range and masks them all, so a stray IRQ can never be
 * mistaken for a CPU fault. */
#include <stdint.h>

#include "io.h"
#include "pic.h"

#define PIC_MASTER_COMMAND 0x20
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_COMMAND 0xA0
#define PIC_SLAVE_DATA 0xA1

#define ICW1_ICW4_NEEDED 0x01
#define ICW1_INIT 0x10
#define ICW3_MASTER_SLAVE_ON_IR2 0x04 /* bit mask: slave wired to IR2 */
#define ICW3_SLAVE_CASCADE_ID 0x02    /* the slave's own cascade identity */
#define ICW4_8086_MODE 0x01
#define OCW1_MASK_ALL 0xFF
#define OCW2_END_OF_INTERRUPT 0x20 /* non-specific EOI: the highest IRQ in service is done */

void pic_remap_and_mask(void)
{
    /* ICW1 starts the initialisation sequence; the chip then expects
     * ICW2-ICW4 on its data port, with a short delay between writes
     * because real 8259s are slow. */
    outb(PIC_MASTER_COMMAND, ICW1_INIT | ICW1_ICW4_NEEDED);
    io_wait();
    outb(PIC_SLAVE_COMMAND, ICW1_INIT | ICW1_ICW4_NEEDED);
    io_wait();
    outb(PIC_MASTER_DATA, PIC_MASTER_VECTOR); /* ICW2: vector base */
    io_wait();
    outb(PIC_SLAVE_DATA, PIC_SLAVE_VECTOR);
    io_wait();
    outb(PIC_MASTER_DATA, ICW3_MASTER_SLAVE_ON_IR2); /* ICW3: cascade */
    io_wait();
    outb(PIC_SLAVE_DATA, ICW3_SLAVE_CASCADE_ID);
    io_wait();
    outb(PIC_MASTER_DATA, ICW4_8086_MODE); /* ICW4: x86 vectors */
    io_wait();
    outb(PIC_SLAVE_DATA, ICW4_8086_MODE);
    io_wait();

    /* OCW1: interrupt mask register, one bit per line; all masked. */
    outb(PIC_MASTER_DATA, OCW1_MASK_ALL);
    outb(PIC_SLAVE_DATA, OCW1_MASK_ALL);
}

void pic_set_master_mask(uint8_t mask)
{
    outb(PIC_MASTER_DATA, mask);
}

void pic_end_of_interrupt(void)
{
    outb(PIC_MASTER_COMMAND, OCW2_END_OF_INTERRUPT);
}
