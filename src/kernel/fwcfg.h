/* QEMU's firmware configuration device (fw_cfg): named files the emulator
 * hands the guest (-fw_cfg name=...,string=...). Absent on real hardware. */
#ifndef FLUID_FWCFG_H
#define FLUID_FWCFG_H

#include <stddef.h>
#include <stdint.h>

/* A file of the device's directory. */
struct fwcfg_file {
    uint32_t bytes;
    uint16_t select; /* its selector key */
};

/* Whether the device answers with its signature. */
int fwcfg_present(void);

/* Looks `name` up in the device's file directory: 1 and *file when found,
 * 0 when there is no such file or no device. */
int fwcfg_find(const char *name, struct fwcfg_file *file);

/* Copies the first `bytes` bytes of `file` (at most file->bytes) to `buf`. */
void fwcfg_read(const struct fwcfg_file *file, void *buf, size_t bytes);

#endif
