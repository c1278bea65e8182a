/* The kernel console: one output path that fans out to the VGA screen (for
 * a person) and COM1 (for the test runner). */
#ifndef FLUID_CONSOLE_H
#define FLUID_CONSOLE_H

#include "vga.h"

/* Where a piece of output goes; bits may be combined. */
enum console_target {
    CONSOLE_VGA = 1,
    CONSOLE_SERIAL = 2,
    CONSOLE_ALL = CONSOLE_VGA | CONSOLE_SERIAL,
};

void console_init(void);
void console_putc(unsigned targets, char c);
void console_write(unsigned targets, const char *s);

/* Writes `s` as a JSON string literal (quotes included, special characters
 * escaped), for the machine-readable serial lines. */
void console_write_json_string(unsigned targets, const char *s);

/* Colour of the following VGA text (serial output has no colour). */
void console_set_color(enum vga_color fg, enum vga_color bg);

#endif
