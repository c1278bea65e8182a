/* IDT setup (Intel SDM Vol. 3A, 6.10 "Interrupt Descriptor Table" and
 * 6.11 "IDT Descriptors"). Every CPU exception vector gets a 32-bit
 * interrupt gate to its stub in isr.asm. The other 224 entries stay
 * not-present until a driver installs one (wake.c): an unexpected
 * interrupt on one of them raises a General Protection fault, which is then
 * reported like any other fault. */
#include <stdint.h>

#include "gdt.h"
#include "idt.h"
#include "pic.h"

#define IDT_ENTRIES 256

#define GATE_PRESENT 0x80
#define GATE_DPL_RING0 0x00
#define GATE_TYPE_INTERRUPT_32 0x0E /* also clears IF on entry */

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector; /* code segment the handler runs in */
    uint8_t zero;
    uint8_t type_attr;
    uint16_t offset_high;
} __attribute__((packed));

struct idt_register {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

/* Stub addresses, in vector order (isr.asm). */
extern const uint32_t isr_stub_table[IDT_EXCEPTION_VECTORS];

static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(8)));

void idt_set_gate(uint32_t vector, uint32_t handler)
{
    idt[vector].offset_low = (uint16_t)(handler & 0xFFFF);
    idt[vector].selector = GDT_KERNEL_CODE;
    idt[vector].zero = 0;
    idt[vector].type_attr = GATE_PRESENT | GATE_DPL_RING0 | GATE_TYPE_INTERRUPT_32;
    idt[vector].offset_high = (uint16_t)(handler >> 16);
}

void idt_init(void)
{
    struct idt_register idtr = {
        .limit = sizeof(idt) - 1,
        .base = (uint32_t)(uintptr_t)idt,
    };
    uint32_t v;

    pic_remap_and_mask();
    for (v = 0; v < IDT_EXCEPTION_VECTORS; v++)
        idt_set_gate(v, isr_stub_table[v]);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}
