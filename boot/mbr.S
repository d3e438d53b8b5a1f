# Stage 1: the master boot record. The BIOS loads sector 0 at 0x7c00 and
# jumps to it in real mode with DL = boot drive (BIOS Boot Specification
# 1.01, 6.5.1). It loads stage 2 and the firmware header with int 13h
# extensions and jumps to stage 2 with DL unchanged.
#
# Steps:
#  1. normalise CS:IP, set DS = ES = SS = 0 and the stack;
#  2. program COM1 for 115200 8N1 and print the banner;
#  3. check for int 13h extensions (INT 13/AH=41h);
#  4. read stage 2 and the header (INT 13/AH=42h) to STAGE2_ADDR;
#  5. check stage 2's signature and jump to it.
#
# Assembled with `as --32` (no C preprocessor); the partition table and
# the disk signature are left zero here and written by cmd/mkimage.

	.code16
	.include "layout.inc"

	.text
	.globl	_start
_start:
	jmp	start

	# First, so that the checks below reach fatal with short jumps.
	.include "bios.inc"

start:
	# 1. Some BIOSes enter at 07C0:0000: a far jump makes CS = 0 so
	#    that the linked offsets (0x7c00-based) are right.
	#    A MOV to SS holds off interrupts until after the next
	#    instruction (SDM Vol. 2B, MOV), so SS:SP never points nowhere.
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$STACK_TOP, %sp
	ljmp	$0, $1f
1:	cld
	mov	%dl, boot_drive
	push	%dx

	# 2. COM1: no interrupts, divisor 1 (115200 baud from the 1.8432 MHz
	#    clock / 16), 8N1, FIFOs on and cleared, DTR and RTS
	#    (PC16550D datasheet, 8.6 "Programmable Baud Generator").
	mov	$uart_init, %si
2:	lodsw
	cmp	$0xff, %al
	je	3f
	mov	$COM1, %dx
	add	%al, %dl
	mov	%ah, %al
	out	%al, %dx
	jmp	2b
3:	mov	$msg_banner, %si
	call	puts

	# 3. INT 13/AH=41h "installation check": CF clear, BX = AA55h and
	#    CX bit 0 ("fixed disk access subset": AH=42h-44h, 47h, 48h).
	pop	%dx
	mov	$0x41, %ah
	mov	$0x55aa, %bx
	int	$0x13
	mov	$msg_no_ext, %si
	jc	fatal
	cmp	$0xaa55, %bx
	jne	fatal
	test	$1, %cl
	jz	fatal

	# 4. Stage 2 and the header are contiguous on disk and in memory.
	mov	$STAGE2_LBA, %eax
	mov	$STAGE2_SECTORS+1, %cx
	mov	$STAGE2_ADDR>>4, %di
	call	disk_read

	# 5. A disk whose sector 0 came without the rest of the image must
	#    stop here rather than run whatever STAGE2_LBA holds.
	mov	$msg_no_stage2, %si
	cmpl	$STAGE2_MAGIC, STAGE2_ADDR
	jne	fatal
	mov	boot_drive, %dl
	ljmp	$0, $STAGE2_ADDR+4

# (register, value) pairs for COM1, ended by 0xff.
uart_init:
	.byte	IER, 0x00
	.byte	LCR, 0x80		# DLAB
	.byte	DLL, 0x01
	.byte	DLM, 0x00
	.byte	LCR, 0x03		# 8 data bits, no parity, 1 stop bit
	.byte	FCR, 0x07
	.byte	MCR, 0x03
	.byte	0xff

msg_banner:
	.asciz	"boot: ataport loader\r\n"
msg_no_ext:
	.asciz	"boot: no int 13h extensions\r\n"
msg_no_stage2:
	.asciz	"boot: stage 2 missing\r\n"

	# The code must end before the disk signature (0x1b8); the
	# assembler refuses to move .org backwards.
	.org	0x1b8
	.org	0x1fe
	.byte	0x55, 0xaa
