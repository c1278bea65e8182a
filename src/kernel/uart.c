/* 16550 UART, polled (see uart.h). */
#include <stdint.h>

#include "io.h"
#include "uart.h"

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
#define FCR_TRIGGER_14 0xC0 /* UART_RX_TRIGGER */

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT2 0x08
#define MCR_LOOPBACK 0x10

#define IER_RX_DATA 0x01 /* received data available: FIFO at its trigger level, or a timeout */

#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

/* The UART divides its 1.8432 MHz clock by 16 * divisor: divisor 1 gives
 * 115200 baud. */
#define UART_BASE_BAUD 115200
#define UART_BAUD 115200
#define UART_DIVISOR (UART_BASE_BAUD / UART_BAUD)

#define LOOPBACK_TEST_BYTE 0xAE
/* At 115200 baud one byte takes ~87 us; this bound on the loopback test
 * (which runs before the TSC is calibrated) is far above that but keeps a
 * missing or wedged UART from hanging the kernel. */
#define LOOPBACK_POLL_LIMIT 1000000

int uart_tx_ready(uint16_t base)
{
    return (inb(base + UART_LSR) & LSR_THR_EMPTY) != 0;
}

int uart_rx_ready(uint16_t base)
{
    return (inb(base + UART_LSR) & LSR_DATA_READY) != 0;
}

void uart_tx(uint16_t base, uint8_t byte)
{
    outb(base + UART_THR, byte);
}

uint8_t uart_rx(uint16_t base)
{
    return inb(base + UART_RBR);
}

void uart_rx_interrupt(uint16_t base)
{
    outb(base + UART_IER, IER_RX_DATA);
}

uint32_t uart_rx_burst(uint16_t base, uint8_t *buf, uint32_t n)
{
    uint32_t got = 0;

    while (got < n && (inb(base + UART_LSR) & LSR_DATA_READY))
        buf[got++] = inb(base + UART_RBR);
    return got;
}

/* In loopback mode the transmitter feeds the receiver internally: reading
 * back what was sent proves a UART answers at this port (an empty port
 * reads 0xFF). */
static int loopback_ok(uint16_t base)
{
    uint32_t tries;

    outb(base + UART_MCR, MCR_LOOPBACK | MCR_RTS | MCR_DTR);
    outb(base + UART_THR, LOOPBACK_TEST_BYTE);
    for (tries = 0; tries < LOOPBACK_POLL_LIMIT; tries++) {
        if (uart_rx_ready(base))
            return uart_rx(base) == LOOPBACK_TEST_BYTE;
    }
    return 0;
}

int uart_init(uint16_t base)
{
    int present;

    /* Polled driver: no IRQ unless a caller asks (uart_rx_interrupt). */
    outb(base + UART_IER, 0);

    /* The baud divisor shares ports with THR/IER; DLAB selects it. */
    outb(base + UART_LCR, LCR_DLAB);
    outb(base + UART_DLL, UART_DIVISOR & 0xFF);
    outb(base + UART_DLM, UART_DIVISOR >> 8);
    outb(base + UART_LCR, LCR_WORD_8BITS); /* 8N1, DLAB off */

    outb(base + UART_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX | FCR_TRIGGER_14);

    present = loopback_ok(base);

    /* Normal operation: DTR/RTS tell the other end we are ready; OUT2
     * gates the IRQ line on PC boards (left set as BIOSes do). */
    outb(base + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
    return present;
}
