/* Floating-point and SIMD enablement (Intel SDM Vol. 3A, 2.5 "Control
 * Registers", 13.1 "Provisions for Handling SSE/AVX State", 13.3 "Enabling
 * the XSAVE Feature Set"). At reset the CPU refuses SSE instructions (#UD)
 * until the OS promises, through CR4, to save XMM state; AVX additionally
 * needs CR4.OSXSAVE and the YMM bits set in XCR0. The generic benchmark
 * variants use x87 floating point, so the x87 unit is initialised too. */
#include <stdint.h>

#include "cpu.h"
#include "fpu.h"

#define CR0_MP (1u << 1) /* monitor coprocessor: WAIT honours TS */
#define CR0_EM (1u << 2) /* emulation: x87/SSE instructions raise #NM/#UD */
#define CR0_TS (1u << 3) /* task switched: next x87/SSE use raises #NM */
#define CR0_NE (1u << 5) /* native (exception 16) x87 error reporting */

#define CR4_OSFXSR (1u << 9)     /* OS saves XMM state with FXSAVE */
#define CR4_OSXMMEXCPT (1u << 10) /* OS handles #XM SIMD exceptions */
#define CR4_OSXSAVE (1u << 18)   /* OS uses XSAVE; enables XGETBV/XSETBV */

#define XCR0_REGISTER 0
#define XCR0_X87 (1u << 0)
#define XCR0_SSE (1u << 1)       /* XMM registers */
#define XCR0_AVX (1u << 2)       /* upper halves of YMM registers */
#define XCR0_OPMASK (1u << 5)    /* AVX-512 k0-k7 */
#define XCR0_ZMM_HI256 (1u << 6) /* upper halves of ZMM0-15 */
#define XCR0_HI16_ZMM (1u << 7)  /* ZMM16-31 */
#define XCR0_YMM_STATE (XCR0_SSE | XCR0_AVX)
#define XCR0_AVX512_STATE (XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM)

static uint32_t read_cr0(void)
{
    uint32_t v;

    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static void write_cr0(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static uint32_t read_cr4(void)
{
    uint32_t v;

    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static void write_cr4(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* XGETBV/XSETBV take the XCR index in ECX and the value in EDX:EAX; only
 * the low 32 bits of XCR0 are defined. */
static uint32_t xgetbv(uint32_t xcr)
{
    uint32_t lo, hi;

    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
    return lo;
}

static void xsetbv(uint32_t xcr, uint32_t value)
{
    __asm__ volatile("xsetbv"
                     :
                     : "c"(xcr), "a"(value), "d"(0u)
                     : "memory");
}

/* x87: EM clear so x87 instructions execute instead of trapping; without
 * an FPU, EM set so they raise #NM (reported by name) rather than hang.
 * TS clear because the kernel never switches tasks. NE selects native
 * error reporting through exception 16 instead of the legacy IRQ 13. */
static void x87_init(const struct cpu_info *ci)
{
    uint32_t cr0 = read_cr0() & ~(CR0_TS | CR0_EM);

    if (!ci->has_fpu) {
        write_cr0(cr0 | CR0_EM);
        return;
    }
    write_cr0(cr0 | CR0_MP | CR0_NE);
    __asm__ volatile("fninit");
}

static void sse_enable(void)
{
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
}

/* Turns on XSAVE-managed state for AVX (and AVX-512 when `want_zmm`),
 * restricted to what the CPU supports; returns the XCR0 now in force. */
static uint32_t avx_enable(const struct cpu_info *ci, int want_zmm)
{
    uint32_t want = XCR0_X87 | XCR0_YMM_STATE;

    if (want_zmm)
        want |= XCR0_AVX512_STATE;
    write_cr4(read_cr4() | CR4_OSXSAVE);
    xsetbv(XCR0_REGISTER, (want & ci->xcr0_supported) | XCR0_X87);
    return xgetbv(XCR0_REGISTER);
}

uint32_t fpu_init(const struct cpu_info *ci)
{
    uint32_t usable = ci->features & ~(CPU_FEATS_XMM | CPU_FEATS_YMM | CPU_FEATS_ZMM);
    uint32_t xcr0;

    x87_init(ci);

    /* OSFXSR requires FXSAVE support; without it no XMM instruction can
     * be enabled, and no AVX either (AVX extends the XMM registers). */
    if (!(ci->features & CPU_FEAT(CPU_FEAT_SSE)) || !ci->has_fxsr)
        return usable;
    sse_enable();
    usable |= ci->features & CPU_FEATS_XMM;

    if (!(ci->features & CPU_FEAT(CPU_FEAT_AVX)) || !ci->has_xsave)
        return usable;
    xcr0 = avx_enable(ci, (ci->features & CPU_FEATS_ZMM) != 0);
    if ((xcr0 & XCR0_YMM_STATE) == XCR0_YMM_STATE)
        usable |= ci->features & CPU_FEATS_YMM;
    if ((xcr0 & (XCR0_YMM_STATE | XCR0_AVX512_STATE)) ==
        (XCR0_YMM_STATE | XCR0_AVX512_STATE))
        usable |= ci->features & CPU_FEATS_ZMM;
    return usable;
}
