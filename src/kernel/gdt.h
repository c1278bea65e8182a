/* The kernel's Global Descriptor Table: flat 4 GiB ring-0 code and data. */
#ifndef FLUID_GDT_H
#define FLUID_GDT_H

/* Selectors: descriptor index * 8, table indicator GDT, RPL 0. They equal
 * the loader's, so the switch is seamless. */
#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10

/* Loads the kernel's GDT and reloads every segment register from it. */
void gdt_init(void);

#endif
