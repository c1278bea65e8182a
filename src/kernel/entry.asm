; Kernel entry point. Stage 2 copies kernel.bin to KERNEL_LOAD_ADDR and jumps
; to _start in 32-bit protected mode with flat segments, interrupts off,
; EAX = "FLUD" and EBX = address of the boot-info block (docs/boot-protocol.md).

bits 32

%include "protocol.inc"         ; the header layout (src/protocol/protocol.toml)

FLUD_STAMPED_BYTES  equ FLUD_HEADER_SIZE - HDR_LOAD_ADDR   ; everything after magic/version/size
KERNEL_STACK_BYTES  equ 16384
STACK_ALIGN         equ 16      ; the i386 SysV ABI wants ESP 16-aligned at a call

; ---------------------------------------------------------------------------
; The FLUD header: the first 64 bytes of the image. The loader checks the
; magic; the build stamps load address, entry, sizes, CRC, CPU features, tag
; and bss_end into the zeroed fields, so they are only reserved here.
section .header progbits alloc noexec nowrite align=4
    db FLUD_MAGIC                   ; magic
    dw FLUD_HEADER_VERSION          ; version
    dw FLUD_HEADER_SIZE             ; header_size
    times FLUD_STAMPED_BYTES db 0   ; stamped by the build

%if HDR_VERSION != FLUD_MAGIC_LEN || HDR_HEADER_SIZE != HDR_VERSION + 2 || HDR_LOAD_ADDR != HDR_HEADER_SIZE + 2
  %error "the header fields written here are not the protocol's first three"
%endif

; ---------------------------------------------------------------------------
section .text
global _start
extern kernel_main
extern __bss_start
extern __bss_end

_start:
    ; The loader does not clear BSS (it only copies the file image), and C
    ; expects zero-initialised statics, so zero [__bss_start, __bss_end)
    ; first. REP STOSB touches only EDI/ECX/EAX/flags: EBX (boot info) and
    ; the loader's stack survive, and nothing here needs a stack yet.
    cld
    mov edi, __bss_start
    mov ecx, __bss_end
    sub ecx, edi
    xor eax, eax
    rep stosb

    ; Switch from the loader's stack at 0x90000 (conventional memory the
    ; kernel does not own) to the kernel's own stack, which lives in BSS.
    mov esp, kernel_stack_top
    xor ebp, ebp                    ; terminates frame-pointer walks

    ; kernel_main(const struct boot_info *): cdecl, one argument on the
    ; stack. Pad so ESP is 16-byte aligned at the CALL, as compiled code
    ; (and AVX spills in tuned benchmarks) assume.
    sub esp, STACK_ALIGN - 4
    push ebx
    call kernel_main

    ; kernel_main never returns (it ends QEMU); if it does, stop the CPU for
    ; good: with interrupts off, HLT only wakes for NMI/SMI, hence the loop.
.halt:
    cli
    hlt
    jmp .halt

; ---------------------------------------------------------------------------
section .bss
align STACK_ALIGN
kernel_stack_bottom:
    resb KERNEL_STACK_BYTES
kernel_stack_top:
