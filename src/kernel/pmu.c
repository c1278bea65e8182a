/* Two vendors, two counter interfaces:
 *
 * Intel architectural performance monitoring (SDM Vol. 3B, ch. 20): CPUID
 * leaf 0Ah version 2 or later has fixed-function counters; fixed counter 0
 * counts INST_RETIRED.ANY and fixed counter 1 CPU_CLK_UNHALTED.THREAD. They
 * count once enabled for ring 0 in IA32_FIXED_CTR_CTRL and globally in
 * IA32_PERF_GLOBAL_CTRL.
 *
 * AMD core performance counter extensions (APM Vol. 2, 13.2): CPUID
 * 8000_0001h ECX[23] (PerfCtrExtCore) guarantees the PERF_CTL/PERF_CTR MSR
 * pairs at C001_0200h; event C0h is retired instructions and 76h cycles not
 * in halt. Without that bit no counter MSR is guaranteed to exist, so none
 * is touched (an absent MSR would fault). */
#include "pmu.h"

#include "klib.h"
#include "msr.h"

#define CPUID_LEAF_PERFMON 0x0Au
#define CPUID_LEAF_EXT_AMD 0x80000001u
#define PERFMON_VERSION_MASK 0xFFu
#define PERFMON_FIXED_COUNT_MASK 0x1Fu
#define PERFMON_MIN_VERSION 2u /* fixed counters and global control */
#define PERFMON_FIXED_NEEDED 2u

#define IA32_FIXED_CTR0 0x309u /* instructions retired */
#define IA32_FIXED_CTR1 0x30Au /* unhalted core cycles */
#define IA32_FIXED_CTR_CTRL 0x38Du
#define IA32_PERF_GLOBAL_CTRL 0x38Fu
#define FIXED_CTR_EN_RING0 0x1ull /* per counter: count in ring 0 */
#define FIXED_CTR_FIELD_BITS 4u
#define GLOBAL_CTRL_FIXED_SHIFT 32u

#define AMD_ECX_PERFCTR_CORE (1u << 23)
#define AMD_PERF_CTL0 0xC0010200u /* CTL/CTR pairs: CTLn = base + 2n */
#define AMD_PERF_CTR0 0xC0010201u
#define AMD_EVENT_RETIRED_INSTRUCTIONS 0xC0u
#define AMD_EVENT_CYCLES_NOT_HALTED 0x76u
#define AMD_CTL_OS (1ull << 17)
#define AMD_CTL_EN (1ull << 22)

enum pmu_kind { PMU_NONE, PMU_INTEL, PMU_AMD };

static enum pmu_kind pmu_kind = PMU_NONE;

static int intel_start(const struct cpu_info *ci)
{
    struct cpuid_regs r;
    uint64_t ctrl = FIXED_CTR_EN_RING0 | FIXED_CTR_EN_RING0 << FIXED_CTR_FIELD_BITS;

    if (ci->max_leaf < CPUID_LEAF_PERFMON)
        return 0;
    cpuid(CPUID_LEAF_PERFMON, 0, &r);
    if ((r.r[REG_EAX] & PERFMON_VERSION_MASK) < PERFMON_MIN_VERSION ||
        (r.r[REG_EDX] & PERFMON_FIXED_COUNT_MASK) < PERFMON_FIXED_NEEDED)
        return 0;
    wrmsr(IA32_FIXED_CTR_CTRL, ctrl);
    wrmsr(IA32_PERF_GLOBAL_CTRL, 3ull << GLOBAL_CTRL_FIXED_SHIFT); /* fixed 0 and 1 */
    return 1;
}

static int amd_start(const struct cpu_info *ci)
{
    struct cpuid_regs r;

    if (ci->max_ext_leaf < CPUID_LEAF_EXT_AMD)
        return 0;
    cpuid(CPUID_LEAF_EXT_AMD, 0, &r);
    if (!(r.r[REG_ECX] & AMD_ECX_PERFCTR_CORE))
        return 0;
    wrmsr(AMD_PERF_CTL0, AMD_EVENT_RETIRED_INSTRUCTIONS | AMD_CTL_OS | AMD_CTL_EN);
    wrmsr(AMD_PERF_CTL0 + 2, AMD_EVENT_CYCLES_NOT_HALTED | AMD_CTL_OS | AMD_CTL_EN);
    return 1;
}

int pmu_init(const struct cpu_info *ci)
{
    if (strcmp(ci->vendor, "GenuineIntel") == 0 && intel_start(ci))
        pmu_kind = PMU_INTEL;
    else if (strcmp(ci->vendor, "AuthenticAMD") == 0 && amd_start(ci))
        pmu_kind = PMU_AMD;
    return pmu_available();
}

int pmu_available(void)
{
    return pmu_kind != PMU_NONE;
}

void pmu_read(struct pmu_counts *out)
{
    switch (pmu_kind) {
    case PMU_INTEL:
        out->instructions = rdmsr(IA32_FIXED_CTR0);
        out->cycles = rdmsr(IA32_FIXED_CTR1);
        break;
    case PMU_AMD:
        out->instructions = rdmsr(AMD_PERF_CTR0);
        out->cycles = rdmsr(AMD_PERF_CTR0 + 2);
        break;
    default:
        out->instructions = out->cycles = 0;
    }
}
