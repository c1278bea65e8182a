/* Time: the CPU's Time Stamp Counter, calibrated against the PIT. */
#ifndef FLUID_TIMER_H
#define FLUID_TIMER_H

#include <stdint.h>

/* RDTSC: cycles since reset in EDX:EAX ("=A" on i386). */
static inline uint64_t rdtsc(void)
{
    uint64_t v;

    __asm__ volatile("rdtsc" : "=A"(v));
    return v;
}

/* Measures the TSC frequency against the 8254 PIT; panics if the PIT
 * never answers. */
void timer_init(void);

/* PIT channel 0 pulses IRQ 0 `hz` times a second (19 to 1193182) from
 * now on, until pit_tick_stop. The PIC decides whether the pulses reach the
 * CPU (wake.h). */
#define PIT_IRQ 0
void pit_tick_start(uint32_t hz);
void pit_tick_stop(void);

uint64_t tsc_hz(void);
uint64_t tsc_cycles_to_ns(uint64_t cycles);
uint64_t tsc_cycles_to_us(uint64_t cycles);

#endif
