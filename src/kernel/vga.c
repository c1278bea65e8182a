/* VGA text-mode console. The adapter displays the 80x25 array of 16-bit
 * cells at physical 0xB8000 (low byte: code page 437 character, high byte:
 * attribute = background << 4 | foreground). The blinking cursor is not
 * part of that memory: the CRT controller draws it at the cell given in its
 * Cursor Location registers, so the driver moves it explicitly. */
#include <stdint.h>

#include "io.h"
#include "vga.h"

#define VGA_TEXT_BUFFER 0xB8000

/* CRT controller: an index port selects a register, the data port
 * reads/writes it. 0x3D4/0x3D5 is the colour-mode address the BIOS uses. */
#define CRTC_INDEX 0x3D4
#define CRTC_DATA 0x3D5
#define CRTC_CURSOR_START 0x0A
#define CRTC_CURSOR_END 0x0B
#define CRTC_CURSOR_LOC_HIGH 0x0E
#define CRTC_CURSOR_LOC_LOW 0x0F

/* Underline cursor on scan lines 14-15 of the 16-line character cell;
 * bit 5 of Cursor Start clear = cursor shown. */
#define CURSOR_FIRST_LINE 14
#define CURSOR_LAST_LINE 15

#define TAB_WIDTH 8

static volatile uint16_t *const vga_buf = (volatile uint16_t *)VGA_TEXT_BUFFER;
static uint8_t vga_attr = VGA_LIGHT_GREY | (VGA_BLACK << 4);
static uint32_t vga_row;
static uint32_t vga_col;

static uint16_t vga_cell(char c)
{
    return (uint16_t)((uint8_t)c | ((uint16_t)vga_attr << 8));
}

static void crtc_write(uint8_t reg, uint8_t value)
{
    outb(CRTC_INDEX, reg);
    outb(CRTC_DATA, value);
}

static void vga_move_cursor(void)
{
    uint16_t pos = (uint16_t)(vga_row * VGA_COLS + vga_col);

    crtc_write(CRTC_CURSOR_LOC_HIGH, (uint8_t)(pos >> 8));
    crtc_write(CRTC_CURSOR_LOC_LOW, (uint8_t)(pos & 0xFF));
}

static void vga_clear_row(uint32_t row)
{
    uint32_t col;

    for (col = 0; col < VGA_COLS; col++)
        vga_buf[row * VGA_COLS + col] = vga_cell(' ');
}

/* Scroll by copying every row up one and blanking the last: 4000 bytes,
 * simpler than moving the CRTC start address, which wraps at the end of
 * the 32 KiB text window. */
static void vga_scroll(void)
{
    uint32_t i;

    for (i = 0; i < (VGA_ROWS - 1) * VGA_COLS; i++)
        vga_buf[i] = vga_buf[i + VGA_COLS];
    vga_clear_row(VGA_ROWS - 1);
    vga_row = VGA_ROWS - 1;
}

static void vga_newline(void)
{
    vga_col = 0;
    if (++vga_row == VGA_ROWS)
        vga_scroll();
}

void vga_set_color(enum vga_color fg, enum vga_color bg)
{
    vga_attr = (uint8_t)(fg | (bg << 4));
}

void vga_init(void)
{
    uint32_t row;

    for (row = 0; row < VGA_ROWS; row++)
        vga_clear_row(row);
    vga_row = 0;
    vga_col = 0;
    crtc_write(CRTC_CURSOR_START, CURSOR_FIRST_LINE);
    crtc_write(CRTC_CURSOR_END, CURSOR_LAST_LINE);
    vga_move_cursor();
}

void vga_putc(char c)
{
    switch (c) {
    case '\n':
        vga_newline();
        break;
    case '\r':
        vga_col = 0;
        break;
    case '\t':
        vga_col = (vga_col + TAB_WIDTH) & ~(uint32_t)(TAB_WIDTH - 1);
        if (vga_col >= VGA_COLS)
            vga_newline();
        break;
    case '\b':
        if (vga_col > 0)
            vga_col--;
        break;
    default:
        vga_buf[vga_row * VGA_COLS + vga_col] = vga_cell(c);
        if (++vga_col == VGA_COLS)
            vga_newline();
        break;
    }
    vga_move_cursor();
}
