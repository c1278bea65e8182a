/* CPU exception handler. The kernel has no way to recover from a fault
 * (no processes to kill, no pages to fault in), so every exception is
 * reported with enough state to find the faulting instruction and ends the
 * run with the protocol's exception status. */
#include <stdint.h>

#include "console.h"
#include "exit.h"
#include "idt.h"
#include "kprintf.h"
#include "trap.h"

#define VECTOR_PAGE_FAULT 14

/* Intel SDM Vol. 3A, Table 6-1 "Protected-Mode Exceptions and Interrupts". */
static const char *const trap_names[IDT_EXCEPTION_VECTORS] = {
    [0] = "Divide Error",
    [1] = "Debug",
    [2] = "NMI Interrupt",
    [3] = "Breakpoint",
    [4] = "Overflow",
    [5] = "BOUND Range Exceeded",
    [6] = "Invalid Opcode",
    [7] = "Device Not Available",
    [8] = "Double Fault",
    [9] = "Coprocessor Segment Overrun",
    [10] = "Invalid TSS",
    [11] = "Segment Not Present",
    [12] = "Stack-Segment Fault",
    [13] = "General Protection",
    [14] = "Page Fault",
    [16] = "x87 FPU Floating-Point Error",
    [17] = "Alignment Check",
    [18] = "Machine Check",
    [19] = "SIMD Floating-Point Exception",
    [20] = "Virtualization Exception",
    [21] = "Control Protection Exception",
    [28] = "Hypervisor Injection Exception",
    [29] = "VMM Communication Exception",
    [30] = "Security Exception",
};

/* Set while a fault is being reported: a second fault inside the report
 * (say, in the console code) must not recurse forever. */
static volatile int trap_reporting;

const char *trap_name(uint32_t vector)
{
    if (vector < IDT_EXCEPTION_VECTORS && trap_names[vector])
        return trap_names[vector];
    return "Reserved";
}

/* CR2 holds the linear address whose access caused the last page fault. */
static uint32_t read_cr2(void)
{
    uint32_t v;

    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

void trap_handler(const struct trap_frame *tf)
{
    const char *name = trap_name(tf->vector);
    int page_fault = tf->vector == VECTOR_PAGE_FAULT;
    uint32_t cr2 = page_fault ? read_cr2() : 0;

    if (trap_reporting)
        qemu_exit(EXIT_EXCEPTION);
    trap_reporting = 1;

    console_set_color(VGA_LIGHT_RED, VGA_BLACK);
    kprintf("\nEXCEPTION: %s (vector %u)\n", name, tf->vector);
    kprintf("  EIP %08x  CS %04x  EFLAGS %08x  error code %08x\n", tf->eip,
            tf->cs, tf->eflags, tf->error_code);
    if (page_fault)
        kprintf("  CR2 %08x (faulting address)\n", cr2);
    kprintf("  EAX %08x  EBX %08x  ECX %08x  EDX %08x\n", tf->eax, tf->ebx,
            tf->ecx, tf->edx);
    kprintf("  ESI %08x  EDI %08x  EBP %08x\n", tf->esi, tf->edi, tf->ebp);

    kprintf_to(CONSOLE_SERIAL,
               "FLUID-EXIT {\"status\":\"exception\",\"vector\":%u,"
               "\"name\":\"%s\",\"eip\":\"0x%08x\",\"error_code\":\"0x%x\"",
               tf->vector, name, tf->eip, tf->error_code);
    if (page_fault)
        kprintf_to(CONSOLE_SERIAL, ",\"cr2\":\"0x%08x\"", cr2);
    kprintf_to(CONSOLE_SERIAL, "}\n");
    qemu_exit(EXIT_EXCEPTION);
}
