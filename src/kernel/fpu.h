/* x87, SSE and AVX register state: what the OS must switch on before the
 * CPU lets floating-point and SIMD instructions run. */
#ifndef FLUID_FPU_H
#define FLUID_FPU_H

#include <stdint.h>

#include "cpu.h"

/* Initialises the x87 unit and enables SSE (XMM) and AVX (YMM, and ZMM
 * when AVX-512F is present) state for the features `ci` reports. Returns
 * the subset of ci->features now usable: SIMD features whose registers
 * could not be enabled are dropped. */
uint32_t fpu_init(const struct cpu_info *ci);

#endif
