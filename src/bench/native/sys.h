/* Raw Linux system calls for the native benchmark runner: no libc, so the
 * process measures exactly the benchmark code the kernel runs. Implemented
 * per ABI in sys.c (x86-64 `syscall`, i386 `int 0x80`). */
#ifndef FLUID_NATIVE_SYS_H
#define FLUID_NATIVE_SYS_H

#include <stddef.h>
#include <stdint.h>

#define SYS_STDOUT 1
#define SYS_STDERR 2

/* open(2) flags, identical on i386 and x86-64 (asm-generic/fcntl.h). */
#define SYS_O_RDONLY 0x0
#define SYS_O_WRONLY 0x1
#define SYS_O_CREAT 0x40
#define SYS_O_TRUNC 0x200
#define SYS_FILE_MODE 0644

/* System call `nr` of this ABI (its own numbers) with three arguments: the
 * result, or -errno in [-4095, -1]. For calls the other wrappers lack. */
long sys_call3(long nr, long a, long b, long c);
long sys_read(int fd, void *buf, size_t bytes);
long sys_write(int fd, const void *buf, size_t bytes);
/* Writes all of buf: one write may move fewer bytes than asked (the i386 ABI
 * caps a call near 2 GiB). 0 on success, -1 on an error. */
int sys_write_all(int fd, const void *buf, size_t bytes);
long sys_open(const char *path, int flags, int mode);
long sys_close(int fd);
/* Anonymous private read-write pages, or 0 on failure. */
void *sys_map_anon(size_t bytes);
/* CLOCK_MONOTONIC in nanoseconds, or 0 if the clock cannot be read. */
uint64_t sys_monotonic_ns(void);
__attribute__((noreturn)) void sys_exit(int status);

#endif
