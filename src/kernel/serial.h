/* 16550 UART on COM1: the kernel's machine-readable output channel. */
#ifndef FLUID_SERIAL_H
#define FLUID_SERIAL_H

/* Programs COM1 for 115200 baud, 8 data bits, no parity, 1 stop bit, and
 * checks in loopback that a UART is really there. */
void serial_init(void);

/* Sends one byte, waiting (boundedly) for room in the transmitter. Does
 * nothing when serial_init found no UART. */
void serial_putc(char c);

#endif
