/* x86 port I/O. The PC's legacy devices (PIC, PIT, UART, VGA CRTC, QEMU's
 * isa-debug-exit) live in the separate 64 KiB I/O address space, reachable
 * only through the IN/OUT instructions, so C needs these small wrappers. */
#ifndef FLUID_IO_H
#define FLUID_IO_H

#include <stdint.h>

/* Port 0x80 is the POST diagnostic port: nothing answers a write to it, but
 * the write takes about a microsecond on the ISA bus, which is the delay the
 * slow 8259 PIC needs between initialisation words. */
#define IO_POST_PORT 0x80

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* A 16-bit write: devices with a 16-bit register (QEMU's fw_cfg selector)
 * take the whole value in one OUT. */
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void io_wait(void)
{
    outb(IO_POST_PORT, 0);
}

#endif
