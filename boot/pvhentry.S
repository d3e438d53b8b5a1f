# The PVH entry stub. `cmd/mkimage -pvhstub` adds it to the firmware ELF
# as a PT_LOAD segment of its own at PVH_STUB_ADDR (1 MiB), writes the
# firmware's own PVH entry into firmware_entry and points the ELF's PVH
# entry note (XEN_ELFNOTE_PHYS32_ENTRY) here.
#
# Why: the firmware's segments lie in its RAM, at FW_RAM_START (256 MiB)
# and up. QEMU's -kernel loads ELF segments at their addresses whether or
# not RAM is there, so on a machine with less (QEMU's default is 128 MiB)
# the firmware's entry would be nowhere and nothing at all would print.
# This stub lies just above 1 MiB, which every PC has: it checks that the
# firmware's memory, FW_RAM_START to FW_RAM_END, is RAM in the PVH memory
# map, says so on COM1 and stops if not, and otherwise jumps to the
# firmware's entry with EBX (start_info) as it came. The BIOS and UEFI
# loaders make the same check before they load anything (stage2.S
# check_ram, uefi.c check_ram_first) and enter the firmware directly.
#
# Entry state (Xen docs/misc/pvh.pandoc): 32-bit protected mode, flat
# segments, paging off, interrupts off, EBX = start_info (public/arch-x86/
# hvm/start_info.h); no stack, so the stub calls nothing.

	.code32
	.include "layout.inc"
	.include "checkram.inc"

	.text
	.globl	_start
_start:
	jmp	check_ram

	.balign	4
firmware_entry:				# PVH_STUB_ENTRY: written by cmd/mkimage
	.long	0
	.long	PVH_STUB_MAGIC

check_ram:
	CHECK_RAM enter
	jmp	ram_fault

enter:
	jmp	*firmware_entry

# ram_fault sets COM1 to 115200 8N1 (PC16550D: LCR.DLAB, divisor 1, LCR
# 8N1), prints msg_no_ram and halts for good. A missing UART reads 0xff,
# so the wait for THRE ends.
ram_fault:
	mov	$COM1+LCR, %dx
	mov	$0x80, %al
	out	%al, %dx
	mov	$COM1+DLL, %dx
	mov	$1, %al
	out	%al, %dx
	mov	$COM1+DLM, %dx
	xor	%al, %al
	out	%al, %dx
	mov	$COM1+LCR, %dx
	mov	$0x03, %al
	out	%al, %dx
	mov	$msg_no_ram, %esi
1:	movb	(%esi), %cl
	test	%cl, %cl
	jz	3f
	mov	$COM1+LSR, %dx
2:	in	%dx, %al
	test	$LSR_THRE, %al
	jz	2b
	mov	$COM1+THR, %dx
	mov	%cl, %al
	out	%al, %dx
	inc	%esi
	jmp	1b
3:	cli
	hlt
	jmp	3b

msg_no_ram:
	.asciz	"boot: memory 0x10000000-0x38000000 is not all RAM: the firmware needs it (PVH memory map)\r\n"
