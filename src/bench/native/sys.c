/* Raw Linux system calls, one wrapper per call the runner needs.
 *
 * x86-64: number in RAX, arguments in RDI RSI RDX R10, `syscall` clobbers
 * RCX (return RIP) and R11 (saved RFLAGS).
 * i386: number in EAX, arguments in EBX ECX EDX, `int 0x80`. The six-argument
 * mmap would need EBP, which the compiler may own, so i386 uses old_mmap,
 * whose single argument points at the six values in memory.
 * Both return -errno (a value in [-4095, -1]) on failure. */
#include "sys.h"

#if defined(__x86_64__)
#define NR_READ 0
#define NR_WRITE 1
#define NR_OPEN 2
#define NR_CLOSE 3
#define NR_MMAP 9
#define NR_CLOCK_GETTIME 228
#define NR_EXIT_GROUP 231

long sys_call3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

static long syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__i386__)
#define NR_EXIT_GROUP 252
#define NR_READ 3
#define NR_WRITE 4
#define NR_OPEN 5
#define NR_CLOSE 6
#define NR_OLD_MMAP 90
#define NR_CLOCK_GETTIME64 403

long sys_call3(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}
#else
#error "the native runner supports i386 and x86-64 Linux only"
#endif

/* mmap(2) arguments (asm-generic/mman-common.h). */
#define PROT_READ 0x1
#define PROT_WRITE 0x2
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define CLOCK_MONOTONIC 1
#define NS_PER_SECOND 1000000000ull
#define MAX_ERRNO 4095

long sys_read(int fd, void *buf, size_t bytes)
{
    return sys_call3(NR_READ, fd, (long)buf, (long)bytes);
}

long sys_write(int fd, const void *buf, size_t bytes)
{
    return sys_call3(NR_WRITE, fd, (long)buf, (long)bytes);
}

int sys_write_all(int fd, const void *buf, size_t bytes)
{
    const unsigned char *p = buf;

    while (bytes > 0) {
        long n = sys_write(fd, p, bytes);
        if (n <= 0)
            return -1;
        p += n;
        bytes -= (size_t)n;
    }
    return 0;
}

long sys_open(const char *path, int flags, int mode)
{
    return sys_call3(NR_OPEN, (long)path, flags, mode);
}

long sys_close(int fd)
{
    return sys_call3(NR_CLOSE, fd, 0, 0);
}

void *sys_map_anon(size_t bytes)
{
#if defined(__x86_64__)
    long ret = syscall6(NR_MMAP, 0, (long)bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#else
    /* struct mmap_arg_struct: addr, len, prot, flags, fd, offset. */
    long args[6] = {0, (long)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0};
    long ret = sys_call3(NR_OLD_MMAP, (long)args, 0, 0);
#endif
    if ((unsigned long)ret >= (unsigned long)-MAX_ERRNO)
        return 0;
    return (void *)ret;
}

uint64_t sys_monotonic_ns(void)
{
    /* struct __kernel_timespec: 64-bit seconds and nanoseconds on both ABIs
     * (i386 through clock_gettime64). */
    int64_t ts[2];
#if defined(__x86_64__)
    long ret = sys_call3(NR_CLOCK_GETTIME, CLOCK_MONOTONIC, (long)ts, 0);
#else
    long ret = sys_call3(NR_CLOCK_GETTIME64, CLOCK_MONOTONIC, (long)ts, 0);
#endif
    if (ret != 0)
        return 0;
    return (uint64_t)ts[0] * NS_PER_SECOND + (uint64_t)ts[1];
}

void sys_exit(int status)
{
    for (;;)
        sys_call3(NR_EXIT_GROUP, status, 0, 0);
}
