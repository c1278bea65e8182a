; CPU exception entry stubs (Intel SDM Vol. 3A, 6.12 "Exception and
; Interrupt Handling" and 6.13 "Error Code"). On an exception the CPU pushes
; EFLAGS, CS, EIP and, for some vectors only, an error code, then jumps to
; the gate's handler. Each stub pushes a dummy error code where the CPU does
; not, then the vector number, so trap_handler always sees one frame layout
; (struct trap_frame in trap.h).

bits 32

KERNEL_DATA_SEG   equ 0x10      ; GDT_KERNEL_DATA in gdt.h
%define EXCEPTION_VECTORS 32  ; a %define: %rep counts must be known to the preprocessor
STACK_ALIGN       equ 16

extern trap_handler
extern wake_acknowledge
global isr_stub_table
global wake_stub

; Vector without a CPU error code: push a zero in its place.
%macro ISR_NO_ERROR_CODE 1
isr_stub_%1:
    push dword 0
    push dword %1
    jmp isr_common
%endmacro

; Vector for which the CPU already pushed an error code.
%macro ISR_ERROR_CODE 1
isr_stub_%1:
    push dword %1
    jmp isr_common
%endmacro

section .text

ISR_NO_ERROR_CODE 0     ; #DE Divide Error
ISR_NO_ERROR_CODE 1     ; #DB Debug
ISR_NO_ERROR_CODE 2     ; NMI
ISR_NO_ERROR_CODE 3     ; #BP Breakpoint
ISR_NO_ERROR_CODE 4     ; #OF Overflow
ISR_NO_ERROR_CODE 5     ; #BR BOUND Range Exceeded
ISR_NO_ERROR_CODE 6     ; #UD Invalid Opcode
ISR_NO_ERROR_CODE 7     ; #NM Device Not Available
ISR_ERROR_CODE    8     ; #DF Double Fault (error code always 0)
ISR_NO_ERROR_CODE 9     ; Coprocessor Segment Overrun
ISR_ERROR_CODE    10    ; #TS Invalid TSS
ISR_ERROR_CODE    11    ; #NP Segment Not Present
ISR_ERROR_CODE    12    ; #SS Stack-Segment Fault
ISR_ERROR_CODE    13    ; #GP General Protection
ISR_ERROR_CODE    14    ; #PF Page Fault
ISR_NO_ERROR_CODE 15    ; reserved
ISR_NO_ERROR_CODE 16    ; #MF x87 Floating-Point Error
ISR_ERROR_CODE    17    ; #AC Alignment Check
ISR_NO_ERROR_CODE 18    ; #MC Machine Check
ISR_NO_ERROR_CODE 19    ; #XM SIMD Floating-Point Exception
ISR_NO_ERROR_CODE 20    ; #VE Virtualization Exception
ISR_ERROR_CODE    21    ; #CP Control Protection Exception
ISR_NO_ERROR_CODE 22    ; reserved
ISR_NO_ERROR_CODE 23    ; reserved
ISR_NO_ERROR_CODE 24    ; reserved
ISR_NO_ERROR_CODE 25    ; reserved
ISR_NO_ERROR_CODE 26    ; reserved
ISR_NO_ERROR_CODE 27    ; reserved
ISR_NO_ERROR_CODE 28    ; #HV Hypervisor Injection Exception
ISR_ERROR_CODE    29    ; #VC VMM Communication Exception
ISR_ERROR_CODE    30    ; #SX Security Exception
ISR_NO_ERROR_CODE 31    ; reserved

; Common tail: save the general registers, make the environment C expects,
; and hand the frame to trap_handler, which reports and never returns.
isr_common:
    pushad                      ; EAX..EDI, part of struct trap_frame
    mov ebx, esp                ; EBX = struct trap_frame *
    cld                         ; the C ABI assumes DF = 0
    mov ax, KERNEL_DATA_SEG     ; C code addresses memory through DS/ES
    mov ds, ax
    mov es, ax
    and esp, -STACK_ALIGN       ; ABI stack alignment at the call
    sub esp, STACK_ALIGN - 4
    push ebx
    call trap_handler
.halt:                          ; trap_handler does not return
    cli
    hlt
    jmp .halt

; A device interrupt that only ends a HLT (wake.c): the interrupted code is
; the waiter's loop, which polls the device itself. Saves the registers the
; C ABI lets wake_acknowledge clobber, has it acknowledge the PIC, returns.
wake_stub:
    push eax
    push ecx
    push edx
    cld                         ; the C ABI assumes DF = 0
    call wake_acknowledge
    pop edx
    pop ecx
    pop eax
    iretd

; Stub addresses in vector order, read by idt_init().
section .rodata
align 4
isr_stub_table:
%assign vector 0
%rep EXCEPTION_VECTORS
    dd isr_stub_ %+ vector
%assign vector vector + 1
%endrep
