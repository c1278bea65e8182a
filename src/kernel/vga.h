/* VGA text mode 80x25 (the mode the BIOS leaves the screen in). */
#ifndef FLUID_VGA_H
#define FLUID_VGA_H

#include <stdint.h>

#define VGA_COLS 80
#define VGA_ROWS 25

/* The 16 colours of the text-mode palette (IBM CGA/VGA attribute nibble). */
enum vga_color {
    VGA_BLACK = 0,
    VGA_BLUE = 1,
    VGA_GREEN = 2,
    VGA_CYAN = 3,
    VGA_RED = 4,
    VGA_MAGENTA = 5,
    VGA_BROWN = 6,
    VGA_LIGHT_GREY = 7,
    VGA_DARK_GREY = 8,
    VGA_LIGHT_BLUE = 9,
    VGA_LIGHT_GREEN = 10,
    VGA_LIGHT_CYAN = 11,
    VGA_LIGHT_RED = 12,
    VGA_LIGHT_MAGENTA = 13,
    VGA_YELLOW = 14,
    VGA_WHITE = 15,
};

void vga_init(void);                               /* clear, cursor home */
void vga_set_color(enum vga_color fg, enum vga_color bg);
void vga_putc(char c);

#endif
