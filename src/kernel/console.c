/* Console fan-out to VGA and COM1. */
#include <stdint.h>

#include "console.h"
#include "serial.h"
#include "vga.h"

#define JSON_CONTROL_LIMIT 0x20 /* JSON forbids raw characters below this */

void console_init(void)
{
    serial_init();
    vga_init();
}

void console_putc(unsigned targets, char c)
{
    if (targets & CONSOLE_VGA)
        vga_putc(c);
    if (targets & CONSOLE_SERIAL) {
        /* A serial terminal only returns the carriage on CR: send CR LF so
         * lines start at column 0 on any terminal. */
        if (c == '\n')
            serial_putc('\r');
        serial_putc(c);
    }
}

void console_write(unsigned targets, const char *s)
{
    while (*s)
        console_putc(targets, *s++);
}

void console_write_json_string(unsigned targets, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    console_putc(targets, '"');
    for (; *s; s++) {
        uint8_t c = (uint8_t)*s;

        if (c == '"' || c == '\\') {
            console_putc(targets, '\\');
            console_putc(targets, (char)c);
        } else if (c < JSON_CONTROL_LIMIT) {
            console_write(targets, "\\u00");
            console_putc(targets, hex[c >> 4]);
            console_putc(targets, hex[c & 0xF]);
        } else {
            console_putc(targets, (char)c);
        }
    }
    console_putc(targets, '"');
}

void console_set_color(enum vga_color fg, enum vga_color bg)
{
    vga_set_color(fg, bg);
}
