/* CPU identification: which instruction-set extensions this CPU has, in the
 * `cpu_features` bit layout of docs/boot-protocol.md: enum cpu_feature_bit
 * (CPU_FEAT_*, CPU_FEATURE_COUNT) and each bit's CPUID source
 * (CPU_FEATURE_TABLE) come from the generated protocol.h. */
#ifndef FLUID_CPU_H
#define FLUID_CPU_H

#include <stdint.h>

#include "protocol.h"

#define CPU_FEAT(bit) (1u << (bit))

/* Features whose instructions use the XMM, YMM or ZMM registers: they are
 * only usable once the OS has enabled saving that register state (fpu.c).
 * The rest (popcnt, movbe, bmi1/2, adx, lzcnt) work on general registers. */
#define CPU_FEATS_XMM                                                        \
    (CPU_FEAT(CPU_FEAT_SSE) | CPU_FEAT(CPU_FEAT_SSE2) |                      \
     CPU_FEAT(CPU_FEAT_SSE3) | CPU_FEAT(CPU_FEAT_SSSE3) |                    \
     CPU_FEAT(CPU_FEAT_SSE4_1) | CPU_FEAT(CPU_FEAT_SSE4_2) |                 \
     CPU_FEAT(CPU_FEAT_AES) | CPU_FEAT(CPU_FEAT_PCLMUL) |                    \
     CPU_FEAT(CPU_FEAT_SHA))
#define CPU_FEATS_YMM                                                        \
    (CPU_FEAT(CPU_FEAT_AVX) | CPU_FEAT(CPU_FEAT_FMA) |                       \
     CPU_FEAT(CPU_FEAT_F16C) | CPU_FEAT(CPU_FEAT_AVX2))
#define CPU_FEATS_ZMM CPU_FEAT(CPU_FEAT_AVX512F)

struct cpu_info {
    char vendor[13];         /* "GenuineIntel", NUL-terminated */
    uint32_t max_leaf;       /* highest basic CPUID leaf */
    uint32_t max_ext_leaf;   /* highest extended CPUID leaf */
    uint32_t features;       /* CPU_FEAT_* bits CPUID reports */
    int has_fpu;             /* on-chip x87 */
    int has_tsc;             /* RDTSC */
    int has_fxsr;            /* FXSAVE/FXRSTOR: prerequisite of CR4.OSFXSR */
    int has_xsave;           /* XSAVE/XGETBV/XSETBV: prerequisite of AVX state */
    uint32_t xcr0_supported; /* XCR0 bits the CPU accepts (CPUID leaf 0Dh) */
};

enum cpuid_reg { REG_EAX, REG_EBX, REG_ECX, REG_EDX };

struct cpuid_regs {
    uint32_t r[4]; /* indexed by enum cpuid_reg */
};

/* One CPUID query; only valid once cpu_detect() has seen CPUID exists. */
void cpuid(uint32_t leaf, uint32_t subleaf, struct cpuid_regs *out);

/* Fills `ci` from CPUID. Panics on a CPU without CPUID (before Pentium). */
void cpu_detect(struct cpu_info *ci);

/* Protocol name of a feature bit ("avx2"), or "?" past the table. */
const char *cpu_feature_name(unsigned bit);

#endif
