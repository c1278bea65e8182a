; lba_stage2.asm - an LBA-only second stage (LBA 1-8), loaded by stage 1 at 0000:7E00.
;
; The fluid-lba-stage2 package's replacement for the project's stage 2
; (src/boot/stage2.asm): the same steps, from the project's own loader
; pieces (src/boot/*.inc on the include path, the generated protocol.inc
; from the build), except the disk set-up, which is lba_only.inc's: INT 13h
; extensions or FATAL_NO_LBA. Entered in real mode with CS = DS = ES = SS = 0
; and the boot drive in DL; ends in 32-bit protected mode at the kernel's
; entry point (docs/boot-protocol.md).

%include "boot.inc"

    bits 16
    org STAGE2_ADDR

stage2_start:
    ; A stack of our own above the CRC table: stage 1's stack sits where a
    ; kernel linked at 0x1000 may be copied.
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, STAGE2_STACK_TOP
    sti
    cld

    call serial_init
    call boot_info_init                 ; DL = boot drive
    call lba_only_disk_init             ; instead of disk_init: no CHS fallback
    call a20_enable
    call e820_read
    call crc32_init_table
    call kernel_check_header
    call kernel_load
    call kernel_verify
    call modules_load
    jmp enter_kernel

%include "handoff.inc"
%include "console.inc"
%include "disk.inc"                     ; disk_read and the packet buffers
%include "lba_only.inc"
%include "a20.inc"
%include "memmap.inc"
%include "gdt.inc"
%include "crc32.inc"
%include "load.inc"
%include "modules.inc"

%if __?PASS?__ == FINAL_PASS
  %if ($ - $$) > STAGE2_SIZE - STAGE2_TRAILER_SIZE
    %error "stage 2 code overlaps its trailer in the last bytes of its 4096"
  %endif
%endif
    times STAGE2_SIZE - STAGE2_TRAILER_SIZE - ($ - $$) db 0

; The trailer stage 1 checks before it jumps here (docs/boot-protocol.md):
; the signature is assembled, the checksum over all of stage 2 can only be
; computed from the finished binary, so the build's stamp step fills it in.
%if TRAILER_SIGNATURE != 0 || TRAILER_CHECKSUM != 2 || STAGE2_TRAILER_SIZE != 4
  %error "the trailer written here is not the protocol's stage2_trailer"
%endif
    dw STAGE2_SIGNATURE                 ; signature
    dw 0                                ; checksum, stamped by the build
