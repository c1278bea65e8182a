#include "regionio.h"
#include "sys.h"

int region_dump(const char *path, const void *arena, const struct bench_region *input,
                const struct bench_region *output)
{
    long fd = sys_open(path, SYS_O_WRONLY | SYS_O_CREAT | SYS_O_TRUNC, SYS_FILE_MODE);
    if (fd < 0)
        return -1;
    uint64_t header[2] = {input->bytes, output->bytes};
    const unsigned char *base = arena;
    int err = sys_write_all((int)fd, (const unsigned char *)header, sizeof header);
    err |= sys_write_all((int)fd, base + input->offset, input->bytes);
    err |= sys_write_all((int)fd, base + output->offset, output->bytes);
    return (sys_close((int)fd) != 0) | err;
}

int region_load(const char *path, void *arena, const struct bench_region *input)
{
    long fd = sys_open(path, SYS_O_RDONLY, 0);
    if (fd < 0)
        return -1;
    unsigned char *p = (unsigned char *)arena + input->offset;
    size_t got = 0;
    long n;
    unsigned char extra;
    while (got < input->bytes && (n = sys_read((int)fd, p + got, input->bytes - got)) > 0)
        got += (size_t)n;
    /* One more byte would mean the file is longer than the region. */
    int err = got != input->bytes || sys_read((int)fd, &extra, 1) != 0;
    return (sys_close((int)fd) != 0) | err;
}
