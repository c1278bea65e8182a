/* The console's serial line: COM1, polled transmit only (uart.c). The
 * kernel runs with interrupts off, so it waits on the UART's Line Status
 * Register instead of taking transmit interrupts. */
#include <stdint.h>

#include "serial.h"
#include "uart.h"

/* At 115200 baud one byte takes ~87 us; this bound is far above that but
 * keeps a missing or wedged UART from hanging the kernel. */
#define SERIAL_POLL_LIMIT 1000000

static int serial_present;

void serial_init(void)
{
    serial_present = uart_init(UART_COM1);
}

void serial_putc(char c)
{
    uint32_t tries;

    if (!serial_present)
        return;
    for (tries = 0; tries < SERIAL_POLL_LIMIT; tries++) {
        if (uart_tx_ready(UART_COM1)) {
            uart_tx(UART_COM1, (uint8_t)c);
            return;
        }
    }
}
