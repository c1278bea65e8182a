/* Process entry of the native inference runner: Linux starts a static
 * executable at _start with argc, then the argv pointers on the stack
 * (System V ABI, i386 and x86-64); there is no libc, so _start hands them to
 * infer_main and exits with its status (as src/bench/native/start.c does
 * for the benchmark runner). The ABIs want the stack 16-byte aligned at a
 * call. */
#include "infer_main.h"
#include "sys.h"

__attribute__((noreturn, used)) void infer_native_start(long argc, char **argv);

void infer_native_start(long argc, char **argv)
{
    sys_exit(infer_main((int)argc, argv));
}

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    xor %rbp, %rbp\n"
        "    mov (%rsp), %rdi\n"    /* argc */
        "    lea 8(%rsp), %rsi\n"   /* argv */
        "    and $-16, %rsp\n"
        "    call infer_native_start\n"
        "    hlt\n");
#elif defined(__i386__)
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    xor %ebp, %ebp\n"
        "    mov (%esp), %eax\n"    /* argc */
        "    lea 4(%esp), %edx\n"   /* argv */
        "    and $-16, %esp\n"
        "    sub $8, %esp\n"        /* two pushes below keep 16-byte alignment */
        "    push %edx\n"
        "    push %eax\n"
        "    call infer_native_start\n"
        "    hlt\n");
#else
#error "the native inference runner supports i386 and x86-64 Linux only"
#endif
