/* The boot command line: `key=value` words (docs/boot-protocol.md "Boot
 * command line"). The options, their values and defaults are the spec's
 * (protocol.h: CMDLINE_OPTIONS); this file parses them. */
#ifndef FLUID_CMDLINE_H
#define FLUID_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

/* One field per option, named after it: a CMDLINE_<OPTION>_<VALUE> for a
 * choice, the number for an integer. */
struct cmdline {
#define CMDLINE_FIELD(field, name, def, more) uint32_t field;
    CMDLINE_OPTIONS(CMDLINE_FIELD, CMDLINE_FIELD)
#undef CMDLINE_FIELD
};

/* Reads the command line from QEMU's fw_cfg file CMDLINE_FWCFG_FILE, if the
 * machine has one, and parses it; panics naming a word it cannot take. */
void cmdline_init(void);

/* The options: the command line's, the defaults for the others. */
const struct cmdline *cmdline_options(void);

/* The command line as read ("" without one), for the boot summary. */
const char *cmdline_text(void);

#endif
