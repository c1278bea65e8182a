/* TSC calibration against the 8254 Programmable Interval Timer (Intel 8254
 * datasheet; the PC wiring of channel 2 is the IBM PC/AT "port B"), and
 * the PIT's channel 0 as a periodic tick on IRQ 0.
 *
 * The TSC counts CPU cycles at a rate no architectural register reports
 * on older CPUs, so it is measured against a clock of known frequency: PIT
 * channel 2, whose input runs at 1.193182 MHz on every PC. Channel 2 is
 * the one whose gate software controls (port 0x61 bit 0) and whose output
 * software can read back (port 0x61 bit 5), so the kernel can time an
 * interval by polling, with interrupts off. */
#include <stdint.h>

#include "exit.h"
#include "io.h"
#include "klib.h"
#include "timer.h"

#define PIT_INPUT_HZ 1193182u
#define PIT_CHANNEL0_DATA 0x40
#define PIT_CHANNEL2_DATA 0x42
#define PIT_COMMAND 0x43

/* Command byte: channel 2, access low byte then high byte, mode 0
 * ("interrupt on terminal count": OUT goes high when the count reaches
 * zero), binary counting. */
#define PIT_SELECT_CHANNEL0 0x00
#define PIT_SELECT_CHANNEL2 0x80
#define PIT_ACCESS_LOHI 0x30
#define PIT_MODE0 0x00
#define PIT_MODE2 0x04 /* "rate generator": a pulse on OUT every `count` input ticks */
#define PIT_BINARY 0x00

/* System control port B. */
#define PORT_B 0x61
#define PORT_B_TIMER2_GATE 0x01   /* lets channel 2 count */
#define PORT_B_SPEAKER_DATA 0x02  /* routes channel 2 to the speaker */
#define PORT_B_TIMER2_OUT 0x20    /* channel 2 OUT pin, read-only */

#define CALIBRATE_MS 10
#define MS_PER_S 1000u
#define CALIBRATE_PIT_TICKS (PIT_INPUT_HZ / (MS_PER_S / CALIBRATE_MS))
#define CALIBRATE_ROUNDS 3

/* A 10 ms window is a few thousand port reads; this bound (seconds even on
 * slow hardware) only stops a missing PIT from hanging the boot. */
#define CALIBRATE_POLL_LIMIT 50000000u

#define NS_PER_S 1000000000ull
#define US_PER_S 1000000ull
#define MIN_PLAUSIBLE_TSC_HZ 1000000ull

static uint64_t tsc_freq_hz;

/* Counts TSC cycles while PIT channel 2 counts CALIBRATE_PIT_TICKS down;
 * returns 0 if the channel never reached terminal count. */
static uint64_t calibrate_round(void)
{
    uint8_t port_b = inb(PORT_B);
    uint64_t start, end;
    uint32_t polls;

    /* Gate high so the channel counts; speaker off so it stays silent. */
    outb(PORT_B, (uint8_t)((port_b & ~PORT_B_SPEAKER_DATA) | PORT_B_TIMER2_GATE));

    /* Writing the mode drives OUT low; counting starts once both count
     * bytes are written. */
    outb(PIT_COMMAND, PIT_SELECT_CHANNEL2 | PIT_ACCESS_LOHI | PIT_MODE0 | PIT_BINARY);
    outb(PIT_CHANNEL2_DATA, CALIBRATE_PIT_TICKS & 0xFF);
    outb(PIT_CHANNEL2_DATA, CALIBRATE_PIT_TICKS >> 8);
    start = rdtsc();

    for (polls = 0; polls < CALIBRATE_POLL_LIMIT; polls++) {
        if (inb(PORT_B) & PORT_B_TIMER2_OUT)
            break;
    }
    end = rdtsc();
    outb(PORT_B, port_b);
    return polls < CALIBRATE_POLL_LIMIT ? end - start : 0;
}

void timer_init(void)
{
    uint64_t best = 0;
    int round;

    /* The shortest of a few windows: a delay (SMI, host preemption under
     * emulation) can only lengthen a window, never shorten it. */
    for (round = 0; round < CALIBRATE_ROUNDS; round++) {
        uint64_t cycles = calibrate_round();

        if (cycles == 0)
            panic("TSC calibration: PIT channel 2 never reached terminal count");
        if (best == 0 || cycles < best)
            best = cycles;
    }
    tsc_freq_hz = kmuldiv64(best, PIT_INPUT_HZ, CALIBRATE_PIT_TICKS);
    if (tsc_freq_hz < MIN_PLAUSIBLE_TSC_HZ)
        panic("TSC calibration: implausible %llu Hz", (unsigned long long)tsc_freq_hz);
}

uint64_t tsc_hz(void)
{
    return tsc_freq_hz;
}

uint64_t tsc_cycles_to_ns(uint64_t cycles)
{
    return kmuldiv64(cycles, NS_PER_S, tsc_freq_hz);
}

uint64_t tsc_cycles_to_us(uint64_t cycles)
{
    return kmuldiv64(cycles, US_PER_S, tsc_freq_hz);
}

/* Channel 0's OUT drives IRQ 0 on every PC. */
static void pit_channel0(uint8_t mode, uint16_t count)
{
    outb(PIT_COMMAND, PIT_SELECT_CHANNEL0 | PIT_ACCESS_LOHI | mode | PIT_BINARY);
    outb(PIT_CHANNEL0_DATA, count & 0xFF);
    outb(PIT_CHANNEL0_DATA, count >> 8);
}

void pit_tick_start(uint32_t hz)
{
    pit_channel0(PIT_MODE2, (uint16_t)(PIT_INPUT_HZ / hz));
}

void pit_tick_stop(void)
{
    /* Mode 0 counts down once and then holds OUT high: no more edges. */
    pit_channel0(PIT_MODE0, 1);
}
