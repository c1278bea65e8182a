/* Boot modules, as stage 2 left them: it read the module directory after
 * the kernel, copied each module to 4 KiB-aligned memory above the kernel's
 * BSS, checked its CRC-32 and recorded it in the boot info, which stays in
 * place at BOOT_INFO_ADDR (below 1 MiB, which the heap never uses). So
 * this file only looks the entries up; the modules are never copied. */
#include <stdint.h>

#include "boot_info.h"
#include "crc32.h"
#include "exit.h"
#include "klib.h"
#include "module.h"

static const struct boot_info *boot;

void module_init(const struct boot_info *bi)
{
    uint32_t i;

    if (bi->module_count > BOOT_INFO_MODULE_MAX)
        panic("boot info lists %u modules, at most %u fit", bi->module_count, BOOT_INFO_MODULE_MAX);
    for (i = 0; i < bi->module_count; i++) {
        if (bi->modules[i].name[MODULE_NAME_LEN - 1] != '\0')
            panic("boot module %u: its name fills all %u bytes, without a NUL", i, MODULE_NAME_LEN);
    }
    boot = bi;
}

uint32_t module_count(void)
{
    return boot ? boot->module_count : 0;
}

const struct boot_module *module_at(uint32_t i)
{
    return i < module_count() ? &boot->modules[i] : NULL;
}

const struct boot_module *module_find(const char *name)
{
    uint32_t i;

    if (strlen(name) >= MODULE_NAME_LEN)
        return NULL; /* longer than any module name can be */
    for (i = 0; i < module_count(); i++) {
        if (strcmp(boot->modules[i].name, name) == 0)
            return &boot->modules[i];
    }
    return NULL;
}

void module_span(uintptr_t *start, uintptr_t *end)
{
    const struct boot_module *m;
    uint32_t i;

    *start = *end = 0;
    for (i = 0; i < module_count(); i++) {
        m = &boot->modules[i];
        if (i == 0 || m->addr < *start)
            *start = m->addr;
        if (i == 0 || m->addr + m->bytes > *end)
            *end = m->addr + m->bytes;
    }
}

void module_check_intact(void)
{
    const struct boot_module *m;
    uint32_t i, now;

    for (i = 0; i < module_count(); i++) {
        m = &boot->modules[i];
        now = crc32((const void *)(uintptr_t)m->addr, m->bytes);
        if (now != m->crc32)
            panic("boot module '%s' at 0x%08x changed in memory: CRC-32 0x%08x, loaded as 0x%08x",
                  m->name, m->addr, now, m->crc32);
    }
}
