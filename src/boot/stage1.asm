; stage1.asm - boot sector (LBA 0), loaded by the BIOS at 0000:7C00.
;
; Records the reset-to-boot cycle count, sets up flat real-mode segments and
; a stack, loads stage 2 (LBA 1-8) to 0000:7E00 with CHS INT 13h reads,
; checks its trailer, and jumps to it with the boot drive in DL. It must fit
; in one 512-byte sector that ends with the 0x55 0xAA boot signature.

%include "boot.inc"

MBR_CODE_LIMIT          equ 446         ; partition table starts here
BOOT_SIGNATURE_OFFSET   equ 510
BOOT_SIGNATURE          equ 0xAA55      ; bytes 55 AA

    bits 16
    org STAGE1_ADDR

stage1_start:
    ; Sample the time-stamp counter as early as possible so the kernel can
    ; measure the whole loader. RDTSC overwrites EDX, so the boot drive in
    ; DL is parked in SI by the one instruction ahead of it. DS is unknown
    ; at entry, so it is zeroed before the boot-info slot (0000:0518) is
    ; written.
    mov si, dx
    rdtsc
    xor bx, bx
    mov ds, bx
    mov [BOOT_INFO_ADDR + BI_TSC_STAGE1], eax
    mov [BOOT_INFO_ADDR + BI_TSC_STAGE1 + 4], edx

    ; SS:SP must change together: with interrupts off no handler can run on
    ; a half-updated stack.
    cli
    mov ss, bx
    mov sp, STAGE1_STACK_TOP
    sti
    mov es, bx
    ; Some BIOSes enter at 07C0:0000; reload CS so that it is 0 as well.
    jmp 0:.cs_zero
.cs_zero:
    cld
    mov ax, si
    mov [boot_drive], al
    call serial_init

    ; Stage 2 is LBA 1-8 = cylinder 0, head 0, sectors 2-9: one track on any
    ; disk the BIOS can boot (a floppy track has at least 9 sectors).
    ; INT 13h AH=02h: AL = count, CH = cylinder, CL = sector, DH = head,
    ; DL = drive, ES:BX = buffer; CF set on error. A reset (AH=00h) between
    ; attempts recalibrates the drive, which is what a failed floppy needs.
    mov di, DISK_ATTEMPTS
.read:
    mov ax, (BIOS_DISK_READ << 8) | STAGE2_SECTORS
    mov cx, STAGE2_FIRST_SECTOR         ; CH = cylinder 0, CL = sector 2
    xor dh, dh                          ; head 0
    mov dl, [boot_drive]
    mov bx, STAGE2_ADDR
    int BIOS_DISK_INT
    jnc .loaded
    dec di
    jz .failed
    mov ah, BIOS_DISK_RESET
    mov dl, [boot_drive]
    int BIOS_DISK_INT
    jmp .read

.failed:
    mov al, FATAL_DISK_READ
    jmp fatal

.loaded:
    ; The BIOS reads whatever the sectors hold: a blank, foreign or damaged
    ; disk would be jumped into and run as garbage. Stage 2 ends with a
    ; trailer (docs/boot-protocol.md): its signature, then a checksum the
    ; build chose so that all of stage 2's 16-bit words add up to
    ; STAGE2_WORD_SUM. DS = 0 and DF = 0 here, so LODSW walks stage 2 upwards.
    cmp word [STAGE2_TRAILER + TRAILER_SIGNATURE], STAGE2_SIGNATURE
    jne .corrupt
    mov si, STAGE2_ADDR
    mov cx, STAGE2_WORDS
    xor bx, bx
.sum:
    lodsw
    add bx, ax                          ; modulo 2^16, as the build summed
    loop .sum
    cmp bx, STAGE2_WORD_SUM
    je .checked
.corrupt:
    mov al, FATAL_BAD_STAGE2
    jmp fatal

.checked:
    ; Stage 2 expects CS = DS = ES = SS = 0 and the boot drive in DL.
    mov dl, [boot_drive]
    jmp 0:STAGE2_ADDR

%include "console.inc"

boot_drive: db 0

%if __?PASS?__ == FINAL_PASS
  %if ($ - $$) > MBR_CODE_LIMIT
    %error "stage 1 code overflows into the partition table area"
  %endif
%endif
    times BOOT_SIGNATURE_OFFSET - ($ - $$) db 0
    dw BOOT_SIGNATURE
