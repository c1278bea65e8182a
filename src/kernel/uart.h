/* 16550 UART, polled: the register map and the few operations the kernel's
 * two serial lines need (COM1, the console: serial.c; COM2, the live re-JIT
 * link: jitlink.c). Register names from the National Semiconductor PC16550D
 * datasheet. The kernel runs with interrupts off, so callers poll the Line
 * Status Register; every wait is bounded by the caller (a receiver may let
 * its IRQ end a halt: uart_rx_interrupt). */
#ifndef FLUID_UART_H
#define FLUID_UART_H

#include <stdint.h>

#define UART_COM1 0x3F8
#define UART_COM2 0x2F8
#define UART_COM2_IRQ 3 /* PC/AT wiring: COM2 (and COM4) raise IRQ 3 */

/* Programs the UART at `base` for 115200 baud, 8 data bits, no parity, 1
 * stop bit, FIFOs on, no interrupts, and checks in loopback that a UART
 * answers there. Returns 1 if one does, 0 if the port is empty. */
int uart_init(uint16_t base);

/* Whether the transmitter has room for a byte / a received byte waits. */
int uart_tx_ready(uint16_t base);
int uart_rx_ready(uint16_t base);

/* One byte out or in; call only when ready. */
void uart_tx(uint16_t base, uint8_t byte);
uint8_t uart_rx(uint16_t base);

/* The bytes waiting in the receiver, up to `n`, into `buf`: how many. Only
 * the Line Status Register is read between two bytes, so a receiver that
 * refills as fast as it is drained (an emulated one) is emptied in one go. */
uint32_t uart_rx_burst(uint16_t base, uint8_t *buf, uint32_t n);

/* The receive FIFO's trigger level uart_init sets (FCR bits 6-7). */
#define UART_RX_TRIGGER 14

/* Raises the UART's IRQ when its receive FIFO reaches UART_RX_TRIGGER
 * bytes, or holds fewer unread for 4 character times (IER bit 0); the
 * driver stays polled: the IRQ only ends a halt (wake.h). */
void uart_rx_interrupt(uint16_t base);

#endif
