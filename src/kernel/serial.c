/* 16550 UART driver, polled transmit only (register names from the
 * National Semiconductor PC16550D datasheet). The kernel runs with
 * interrupts off, so it waits on the Line Status Register instead of taking
 * transmit interrupts. */
#include <stdint.h>

#include "io.h"
#include "serial.h"

#define COM1_BASE 0x3F8

/* Register offsets from the base port. */
#define UART_THR 0 /* transmit holding register (write, DLAB=0) */
#define UART_RBR 0 /* receive buffer register (read, DLAB=0) */
#define UART_DLL 0 /* divisor latch low byte (DLAB=1) */
#define UART_IER 1 /* interrupt enable register (DLAB=0) */
#define UART_DLM 1 /* divisor latch high byte (DLAB=1) */
#define UART_FCR 2 /* FIFO control register (write) */
#define UART_LCR 3 /* line control register */
#define UART_MCR 4 /* modem control register */
#define UART_LSR 5 /* line status register */

#define LCR_WORD_8BITS 0x03 /* 8 data bits, 1 stop bit, no parity */
#define LCR_DLAB 0x80       /* divisor latch access bit */

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_TRIGGER_14 0xC0

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT2 0x08
#define MCR_LOOPBACK 0x10

#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

/* The UART divides its 1.8432 MHz clock by 16 * divisor: divisor 1 gives
 * 115200 baud. */
#define UART_BASE_BAUD 115200
#define SERIAL_BAUD 115200
#define SERIAL_DIVISOR (UART_BASE_BAUD / SERIAL_BAUD)

#define LOOPBACK_TEST_BYTE 0xAE

/* At 115200 baud one byte takes ~87 us; this bound is far above that but
 * keeps a missing or wedged UART from hanging the kernel. */
#define SERIAL_POLL_LIMIT 1000000

static int serial_present;

static int serial_wait(uint8_t lsr_bit)
{
    uint32_t tries;

    for (tries = 0; tries < SERIAL_POLL_LIMIT; tries++) {
        if (inb(COM1_BASE + UART_LSR) & lsr_bit)
            return 1;
    }
    return 0;
}

/* In loopback mode the transmitter feeds the receiver internally: reading
 * back what was sent proves a UART answers at this port. */
static int serial_loopback_ok(void)
{
    outb(COM1_BASE + UART_MCR, MCR_LOOPBACK | MCR_RTS | MCR_DTR);
    outb(COM1_BASE + UART_THR, LOOPBACK_TEST_BYTE);
    if (!serial_wait(LSR_DATA_READY))
        return 0;
    return inb(COM1_BASE + UART_RBR) == LOOPBACK_TEST_BYTE;
}

void serial_init(void)
{
    /* Polled driver: the UART must not raise IRQ 4. */
    outb(COM1_BASE + UART_IER, 0);

    /* The baud divisor shares ports with THR/IER; DLAB selects it. */
    outb(COM1_BASE + UART_LCR, LCR_DLAB);
    outb(COM1_BASE + UART_DLL, SERIAL_DIVISOR & 0xFF);
    outb(COM1_BASE + UART_DLM, SERIAL_DIVISOR >> 8);
    outb(COM1_BASE + UART_LCR, LCR_WORD_8BITS); /* 8N1, DLAB off */

    outb(COM1_BASE + UART_FCR,
         FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX | FCR_TRIGGER_14);

    serial_present = serial_loopback_ok();

    /* Normal operation: DTR/RTS tell the other end we are ready; OUT2
     * gates the IRQ line on PC boards (left set as BIOSes do). */
    outb(COM1_BASE + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
}

void serial_putc(char c)
{
    if (!serial_present)
        return;
    if (serial_wait(LSR_THR_EMPTY))
        outb(COM1_BASE + UART_THR, (uint8_t)c);
}
