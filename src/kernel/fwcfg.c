/* QEMU's fw_cfg device through its I/O ports (QEMU docs/specs/fw_cfg.rst,
 * "Legacy x86 I/O interface"). A guest writes a 16-bit item key to the
 * selector port, then reads the item's bytes one at a time from the data
 * port, which advances on every read. Key 0x0000 holds the signature
 * "QEMU"; key 0x0019 the file directory: a big-endian u32 count, then one
 * 64-byte entry per file (big-endian u32 size, big-endian u16 key, u16
 * reserved, 56-byte NUL-terminated name). On a machine without the device
 * nothing decodes these ports and reads give 0xFF, so the signature check
 * fails and the kernel goes on without it. The kernel only reads: no DMA
 * interface, no writes to items. */
#include <stdint.h>

#include "fwcfg.h"
#include "io.h"
#include "klib.h"

#define FW_CFG_PORT_SEL 0x510     /* selector register, 16-bit write */
#define FW_CFG_PORT_DATA 0x511    /* data register, 8-bit read */
#define FW_CFG_SIGNATURE 0x0000   /* item key: the signature */
#define FW_CFG_FILE_DIR 0x0019    /* item key: the file directory */
#define FW_CFG_SIGNATURE_TEXT "QEMU"
#define FW_CFG_SIGNATURE_LEN 4
#define FW_CFG_FILE_NAME_LEN 56   /* name bytes of a directory entry, NUL included */
#define FW_CFG_MAX_FILES 4096     /* more entries than QEMU ever lists: a broken directory */

/* One directory entry as the device sends it (fields big-endian). */
struct fw_cfg_dir_entry {
    uint8_t size[4];
    uint8_t select[2];
    uint8_t reserved[2];
    char name[FW_CFG_FILE_NAME_LEN];
} __attribute__((packed));

static void select_item(uint16_t key)
{
    outw(FW_CFG_PORT_SEL, key);
}

static void read_bytes(void *buf, size_t bytes)
{
    uint8_t *p = buf;

    while (bytes--)
        *p++ = inb(FW_CFG_PORT_DATA);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int fwcfg_present(void)
{
    char sig[FW_CFG_SIGNATURE_LEN];

    select_item(FW_CFG_SIGNATURE);
    read_bytes(sig, sizeof(sig));
    return memcmp(sig, FW_CFG_SIGNATURE_TEXT, FW_CFG_SIGNATURE_LEN) == 0;
}

int fwcfg_find(const char *name, struct fwcfg_file *file)
{
    struct fw_cfg_dir_entry e;
    uint8_t count_be[4];
    uint32_t count, i;

    if (!fwcfg_present())
        return 0;
    select_item(FW_CFG_FILE_DIR);
    read_bytes(count_be, sizeof(count_be));
    count = be32(count_be);
    if (count > FW_CFG_MAX_FILES)
        return 0;
    /* The entries follow the count in the same item: keep reading. */
    for (i = 0; i < count; i++) {
        read_bytes(&e, sizeof(e));
        e.name[FW_CFG_FILE_NAME_LEN - 1] = '\0';
        if (strcmp(e.name, name) == 0) {
            file->bytes = be32(e.size);
            file->select = (uint16_t)(e.select[0] << 8 | e.select[1]);
            return 1;
        }
    }
    return 0;
}

void fwcfg_read(const struct fwcfg_file *file, void *buf, size_t bytes)
{
    select_item(file->select);
    read_bytes(buf, bytes < file->bytes ? bytes : file->bytes);
}
