/* kernel_main: brings the machine up in dependency order, reports how it
 * booted, checks the heap, runs the workload the boot command line names
 * (the benchmarks by default, or text generation), checks that the boot
 * modules are as loaded and ends the run. */
#include <stdint.h>

#include "bench_run.h"
#include "boot_info.h"
#include "cmdline.h"
#include "console.h"
#include "cpu.h"
#include "dispatch.h"
#include "e820.h"
#include "exit.h"
#include "fpu.h"
#include "gdt.h"
#include "idt.h"
#include "infer_run.h"
#include "jitlink.h"
#include "klib.h"
#include "kprintf.h"
#include "mem.h"
#include "mem_selftest.h"
#include "module.h"
#include "pmu.h"
#include "test_hooks.h"
#include "timer.h"
#include "variant_table.h"

#ifndef FLUID_OS_VERSION
#define FLUID_OS_VERSION "0.1.0"
#endif

#define KIB 1024u
#define HZ_PER_MHZ 1000000u
#define DEFAULT_CPU_TAG "generic"

/* linker.ld: the image starts with the FLUD header (entry.asm), stamped
 * by the build after linking, so its fields are read at run time. */
extern const struct flud_header __kernel_start;
extern const char __kernel_end[];

__attribute__((noreturn)) void kernel_main(const struct boot_info *bi);

/* boot_info.a20_method values by their FLUID-BOOT names (protocol.h). */
#define A20_NAME(value, json) [value] = json,
static const char *const a20_names[] = { BOOT_INFO_A20_METHOD_VALUES(A20_NAME) };
#undef A20_NAME

static const char *a20_name(uint8_t method)
{
    return method < sizeof(a20_names) / sizeof(a20_names[0]) ? a20_names[method] : "unknown";
}

static void check_handoff(const struct boot_info *bi, const struct flud_header *hdr)
{
    if (bi->magic != BOOT_INFO_MAGIC)
        panic("boot info at %p has magic 0x%08x, expected 0x%08x", (const void *)bi,
              bi->magic, BOOT_INFO_MAGIC);
    if (memcmp(hdr->magic, FLUD_MAGIC, FLUD_MAGIC_LEN) != 0)
        panic("kernel header at %p lacks the FLUD magic", (const void *)hdr);
    if (bi->kernel_bytes != hdr->kernel_bytes)
        panic("loader copied %u kernel bytes, header says %u", bi->kernel_bytes,
              hdr->kernel_bytes);
}

/* The stamped tag, NUL-terminated even if it fills all 16 bytes. */
static void read_cpu_tag(const struct flud_header *hdr, char tag[FLUD_CPU_TAG_LEN + 1])
{
    memcpy(tag, hdr->cpu_tag, FLUD_CPU_TAG_LEN);
    tag[FLUD_CPU_TAG_LEN] = '\0';
    if (tag[0] == '\0')
        memcpy(tag, DEFAULT_CPU_TAG, sizeof(DEFAULT_CPU_TAG));
}

/* Feature names as `sse sse2 ...` (people) or `"sse","sse2"` (JSON). */
static void print_features(unsigned targets, uint32_t mask, int json)
{
    const char *sep = "";
    unsigned bit;

    for (bit = 0; bit < CPU_FEATURE_COUNT; bit++) {
        if (!(mask & CPU_FEAT(bit)))
            continue;
        kprintf_to(targets, json ? "%s\"%s\"" : "%s%s", sep, cpu_feature_name(bit));
        sep = json ? "," : " ";
    }
}

/* Names of the variant levels in `levels` (bit i: variant_levels[i]) as
 * ` generic sse2` (people) or `"generic","sse2"` (JSON). */
static void print_levels(unsigned targets, uint32_t levels, int json)
{
    const char *sep = json ? "" : " ";
    uint32_t l;

    for (l = 0; l < variant_level_count; l++) {
        if (!((levels >> l) & 1))
            continue;
        kprintf_to(targets, json ? "%s\"%s\"" : "%s%s", sep, variant_levels[l].name);
        sep = json ? "," : " ";
    }
}

static void print_banner(void)
{
    console_set_color(VGA_LIGHT_CYAN, VGA_BLACK);
    kprintf("Fluid OS %s - self-optimizing unikernel\n", FLUID_OS_VERSION);
    console_set_color(VGA_LIGHT_GREY, VGA_BLACK);
}

/* The boot modules as `modules: model 1056540 bytes at 0x00160000, ...`
 * (people; nothing without modules) or as the FLUID-BOOT field's objects. */
static void print_modules(unsigned targets, int json)
{
    const struct boot_module *m;
    uint32_t i;

    if (!json && module_count() == 0)
        return;
    kprintf_to(targets, json ? "[" : "modules:");
    for (i = 0; (m = module_at(i)) != NULL; i++) {
        if (json) {
            kprintf_to(targets, "%s{\"name\":", i ? "," : "");
            console_write_json_string(targets, m->name);
            kprintf_to(targets, ",\"addr\":\"0x%08x\",\"bytes\":%u,\"crc32\":\"0x%08x\"}",
                       m->addr, m->bytes, m->crc32);
        } else {
            kprintf_to(targets, "%s %s %u bytes at 0x%08x", i ? "," : "", m->name, m->bytes, m->addr);
        }
    }
    kprintf_to(targets, json ? "]" : "\n");
}

static void print_summary(const struct boot_info *bi, const struct cpu_info *ci,
                          uint32_t usable, const char *tag, uint32_t mem_kib)
{
    kprintf("boot: drive 0x%02x, %s, A20 %s, kernel %u bytes at 0x%08x\n",
            bi->boot_drive, bi->disk_mode == BOOT_DISK_LBA ? "LBA" : "CHS",
            a20_name(bi->a20_method), bi->kernel_bytes, bi->kernel_load);
    kprintf("cpu: %s, TSC %llu MHz, features:", ci->vendor,
            (unsigned long long)(tsc_hz() / HZ_PER_MHZ));
    if (usable) {
        kprintf(" ");
        print_features(CONSOLE_ALL, usable, 0);
    }
    kprintf("\nmemory: %u KiB usable\n", mem_kib);
    print_modules(CONSOLE_ALL, 0);
    if (cmdline_text()[0])
        kprintf("cmdline: %s\n", cmdline_text());
    kprintf("variants: %s among", dispatch_mode());
    print_levels(CONSOLE_ALL, dispatch_eligible(), 0);
    kprintf(" (built for %s", tag);
    if (dispatch_missing()) {
        kprintf("; this CPU lacks ");
        print_features(CONSOLE_ALL, dispatch_missing(), 0);
        kprintf(" for");
        print_levels(CONSOLE_ALL, ~dispatch_eligible(), 0);
    }
    kprintf(")\n");
}

static void print_boot_line(const struct boot_info *bi, const char *tag,
                            uint32_t mem_kib, uint64_t boot_cycles)
{
    kprintf_to(CONSOLE_SERIAL,
               "FLUID-BOOT {\"drive\":%u,\"disk\":\"%s\",\"a20\":\"%s\","
               "\"mem_kib\":%u,\"cpu\":",
               bi->boot_drive, bi->disk_mode == BOOT_DISK_LBA ? "LBA" : "CHS",
               a20_name(bi->a20_method), mem_kib);
    console_write_json_string(CONSOLE_SERIAL, tag);
    kprintf_to(CONSOLE_SERIAL, ",\"variant\":\"%s\",\"eligible\":[", dispatch_mode());
    print_levels(CONSOLE_SERIAL, dispatch_eligible(), 1);
    kprintf_to(CONSOLE_SERIAL, "],\"missing\":[");
    print_features(CONSOLE_SERIAL, dispatch_missing(), 1);
    kprintf_to(CONSOLE_SERIAL, "],\"kernel_bytes\":%u,\"boot_cycles\":%llu,\"boot_us\":%llu,"
               "\"modules\":", bi->kernel_bytes, (unsigned long long)boot_cycles,
               (unsigned long long)tsc_cycles_to_us(boot_cycles));
    print_modules(CONSOLE_SERIAL, 1);
    kprintf_to(CONSOLE_SERIAL, "}\n");
}

void kernel_main(const struct boot_info *bi)
{
    /* First, before any work: boot time is measured up to here. */
    uint64_t entry_tsc = rdtsc();
    const struct flud_header *hdr = &__kernel_start;
    char tag[FLUD_CPU_TAG_LEN + 1];
    struct cpu_info ci;
    uint32_t usable, mem_kib;
    struct mem_range reserved[2];
    uint64_t boot_cycles;

    console_init();
    gdt_init();
    idt_init();
    check_handoff(bi, hdr);
    module_init(bi);
    print_banner();
    cmdline_init();

    cpu_detect(&ci);
    usable = fpu_init(&ci);
    timer_init();
    pmu_init(&ci);

    /* The heap must not cover the image or its BSS (up to the larger of
     * the stamped bss_end and the linker's own end symbol, rounded up to
     * MODULE_ALIGN: where stage 2 puts the first module, so no sliver is
     * left between them), nor the boot modules. */
    reserved[0].start = (uintptr_t)hdr;
    reserved[0].end = (uintptr_t)__kernel_end;
    if (hdr->bss_end > reserved[0].end)
        reserved[0].end = hdr->bss_end;
    reserved[0].end = ALIGN_UP(reserved[0].end, MODULE_ALIGN);
    module_span(&reserved[1].start, &reserved[1].end);
    e820_init_heap(bi, reserved, sizeof(reserved) / sizeof(reserved[0]));
    mem_kib = (uint32_t)(e820_usable_bytes(bi) / KIB);

    read_cpu_tag(hdr, tag);
    dispatch_init(usable);

    boot_cycles = entry_tsc > bi->tsc_stage1 ? entry_tsc - bi->tsc_stage1 : 0;
    print_summary(bi, &ci, usable, tag, mem_kib);
    print_boot_line(bi, tag, mem_kib, boot_cycles);

    test_hooks_run();
    mem_selftest();
    if (cmdline_options()->workload == CMDLINE_WORKLOAD_INFER) {
        if (!infer_run)
            panic("workload=infer: this kernel was linked without the inference workload "
                  "(the manifest's kernel_infer_ir)");
        infer_run(cmdline_options()->infer_logits, usable);
    } else {
        bench_run_all();
        if (jitlink_run)
            jitlink_run(usable);
    }
    module_check_intact();
    kernel_exit_ok();
}
