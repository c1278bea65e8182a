/* CPUID feature detection (Intel SDM Vol. 2A, "CPUID—CPU Identification";
 * AMD APM Vol. 3, Appendix E). CPUID reports what the silicon implements;
 * whether the register state of SIMD extensions is enabled is a separate
 * question answered by fpu.c. */
#include <stdint.h>

#include "cpu.h"
#include "exit.h"
#include "klib.h"

#define EFLAGS_ID (1u << 21) /* writable only on CPUs that have CPUID */

#define CPUID_LEAF_VENDOR 0x00
#define CPUID_LEAF_FEATURES 0x01
#define CPUID_LEAF_XSAVE 0x0D
#define CPUID_LEAF_EXT_MAX 0x80000000u

/* CPUID.01h:EDX bits used outside the protocol table. */
#define CPUID_1_EDX_FPU (1u << 0)
#define CPUID_1_EDX_TSC (1u << 4)
#define CPUID_1_EDX_FXSR (1u << 24)
/* CPUID.01h:ECX */
#define CPUID_1_ECX_XSAVE (1u << 26)

/* Where each protocol feature bit comes from: CPU_FEATURE_TABLE of the
 * generated protocol.h (the table in docs/boot-protocol.md, in bit order). */
struct feature_source {
    const char *name;
    uint32_t leaf; /* sub-leaf is always 0 (checked below) */
    uint8_t reg;   /* enum cpuid_reg */
    uint8_t bit;
};

#define FEATURE_SUBLEAF_ZERO(id, name, leaf, subleaf, reg, bit)                \
    _Static_assert((subleaf) == 0, name ": read_protocol_features only queries sub-leaf 0");
CPU_FEATURE_TABLE(FEATURE_SUBLEAF_ZERO)
#undef FEATURE_SUBLEAF_ZERO

#define FEATURE_SOURCE(id, name, leaf, subleaf, reg, bit) [id] = { name, leaf, REG_##reg, bit },
static const struct feature_source feature_sources[CPU_FEATURE_COUNT] = {
    CPU_FEATURE_TABLE(FEATURE_SOURCE)
};
#undef FEATURE_SOURCE

void cpuid(uint32_t leaf, uint32_t subleaf, struct cpuid_regs *out)
{
    __asm__ volatile("cpuid"
                     : "=a"(out->r[REG_EAX]), "=b"(out->r[REG_EBX]),
                       "=c"(out->r[REG_ECX]), "=d"(out->r[REG_EDX])
                     : "a"(leaf), "c"(subleaf));
}

/* The ID flag in EFLAGS can be toggled only on processors that implement
 * CPUID (Intel SDM Vol. 1, 3.4.3.3): flip it and see whether it sticks. */
static int cpuid_supported(void)
{
    uint32_t before, after;

    __asm__ volatile("pushfl\n\t"
                     "popl %0\n\t"
                     "movl %0, %1\n\t"
                     "xorl %2, %1\n\t"
                     "pushl %1\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %1\n\t"
                     "pushl %0\n\t"
                     "popfl"
                     : "=&r"(before), "=&r"(after)
                     : "i"(EFLAGS_ID)
                     : "cc");
    return ((before ^ after) & EFLAGS_ID) != 0;
}

static int leaf_available(const struct cpu_info *ci, uint32_t leaf)
{
    if (leaf >= CPUID_LEAF_EXT_MAX)
        return leaf <= ci->max_ext_leaf;
    return leaf <= ci->max_leaf;
}

static uint32_t read_protocol_features(const struct cpu_info *ci)
{
    struct cpuid_regs regs;
    uint32_t features = 0;
    uint32_t cached_leaf = 0;
    int have_regs = 0;
    unsigned bit;

    for (bit = 0; bit < CPU_FEATURE_COUNT; bit++) {
        const struct feature_source *src = &feature_sources[bit];

        if (!leaf_available(ci, src->leaf))
            continue;
        if (!have_regs || cached_leaf != src->leaf) {
            cpuid(src->leaf, 0, &regs);
            cached_leaf = src->leaf;
            have_regs = 1;
        }
        if (regs.r[src->reg] & (1u << src->bit))
            features |= CPU_FEAT(bit);
    }
    return features;
}

void cpu_detect(struct cpu_info *ci)
{
    struct cpuid_regs regs;

    memset(ci, 0, sizeof(*ci));
    if (!cpuid_supported())
        panic("CPU has no CPUID instruction (i586 or later required)");

    /* Leaf 0: highest leaf and the vendor string in EBX, EDX, ECX order. */
    cpuid(CPUID_LEAF_VENDOR, 0, &regs);
    ci->max_leaf = regs.r[REG_EAX];
    memcpy(ci->vendor, &regs.r[REG_EBX], 4);
    memcpy(ci->vendor + 4, &regs.r[REG_EDX], 4);
    memcpy(ci->vendor + 8, &regs.r[REG_ECX], 4);
    ci->vendor[12] = '\0';

    cpuid(CPUID_LEAF_EXT_MAX, 0, &regs);
    ci->max_ext_leaf = regs.r[REG_EAX] >= CPUID_LEAF_EXT_MAX ? regs.r[REG_EAX] : 0;

    if (ci->max_leaf >= CPUID_LEAF_FEATURES) {
        cpuid(CPUID_LEAF_FEATURES, 0, &regs);
        ci->has_fpu = (regs.r[REG_EDX] & CPUID_1_EDX_FPU) != 0;
        ci->has_tsc = (regs.r[REG_EDX] & CPUID_1_EDX_TSC) != 0;
        ci->has_fxsr = (regs.r[REG_EDX] & CPUID_1_EDX_FXSR) != 0;
        ci->has_xsave = (regs.r[REG_ECX] & CPUID_1_ECX_XSAVE) != 0;
    }
    /* Leaf 0Dh sub-leaf 0, EAX: the XCR0 bits XSETBV will accept; setting
     * any other bit raises #GP. */
    if (ci->has_xsave && ci->max_leaf >= CPUID_LEAF_XSAVE) {
        cpuid(CPUID_LEAF_XSAVE, 0, &regs);
        ci->xcr0_supported = regs.r[REG_EAX];
    }
    ci->features = read_protocol_features(ci);
}

const char *cpu_feature_name(unsigned bit)
{
    return bit < CPU_FEATURE_COUNT ? feature_sources[bit].name : "?";
}
