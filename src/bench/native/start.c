/* Process entry. Linux starts a static executable at _start with the stack
 * holding argc, then the argv pointers (System V ABI, i386 and x86-64);
 * there is no libc to do this, so _start passes them to program_main (the
 * native program: the benchmark or the inference runner) and
 * exits with its status. The ABIs want the stack 16-byte aligned at a call. */
#include "program.h"
#include "sys.h"

__attribute__((noreturn, used)) void native_start(long argc, char **argv);

void native_start(long argc, char **argv)
{
    sys_exit(program_main((int)argc, argv));
}

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl _start\n"
        "_start:\n"
        "    xor %rbp, %rbp\n"      /* outermost frame for debuggers */
        "    mov (%rsp), %rdi\n"    /* argc */
        "    lea 8(%rsp), %rsi\n"   /* argv */
        "    and $-16, %rsp\n"
        "    call native_start\n"
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
        "    call native_start\n"
        "    hlt\n");
#endif
