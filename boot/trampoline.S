# The UEFI loader's last step: from the 64-bit mode UEFI runs in to the
# PVH entry state stage 2 hands over (stage2.S, step 6), then a jump to
# the firmware. uefi.c copies the bytes from trampoline_start to
# trampoline_end to a page below 4 GiB and calls that copy, after
# ExitBootServices, as a function void(uint32_t entry): EDI = the PVH
# entry. Everything below is position independent: the 64-bit part
# addresses its GDT RIP-relative, and the 32-bit part touches no memory of
# its own.
#
# Steps (Intel SDM Vol. 3A (2023), 10.8.5.4 "Switching Out of IA-32e Mode
# Operation"; 9.8.5.4 in older editions):
#  1. (64-bit mode) clear CR4.PCIDE, which forbids clearing CR0.PG; load
#     a GDT with flat 32-bit segments; far-return to its 32-bit code
#     segment: compatibility mode, still paging, identity-mapped as UEFI
#     maps all memory (UEFI 2.10, 2.3.4 "x64 Platforms");
#  2. clear CR0.PG, which leaves IA-32e mode (EFER.LMA = 0);
#  3. EFER = 0 (LME off, as after reset), CR4 = 0, CR0 = PE only;
#  4. the PVH entry state (Xen docs/misc/pvh.pandoc) as stage 2 leaves it:
#     DS = ES = FS = GS = SS = the flat data segment, ESP = STACK_TOP,
#     EFLAGS = 0x2, EBX = start_info; jump to the entry.
#
# Assembled with `as --64` (no C preprocessor), linked into BOOTX64.EFI.

	.include "layout.inc"

# GDT selectors, the same as stage 2's (SDM Vol. 3A, 3.4.5 "Segment
# Descriptors").
.set CODE32_SEL,	0x08
.set DATA32_SEL,	0x10

.set CR0_PE,		1
.set CR0_PG,		0x80000000
.set CR4_PCIDE,		0x20000
.set MSR_EFER,		0xc0000080

	.text
	.globl	trampoline_start, trampoline_end
	.code64
trampoline_start:
	# 1. The GDTR image goes on the stack, writable whatever UEFI's page
	#    attributes for this page are.
	cli
	mov	%cr4, %rax
	and	$~CR4_PCIDE, %rax
	mov	%rax, %cr4
	lea	gdt(%rip), %rax
	sub	$16, %rsp
	movw	$gdt_end-gdt-1, (%rsp)
	mov	%rax, 2(%rsp)
	lgdt	(%rsp)
	lea	compat32(%rip), %rax
	pushq	$CODE32_SEL
	pushq	%rax
	lretq

	.code32
compat32:
	# 2. Paging off: legacy protected mode from the next instruction.
	mov	%cr0, %eax
	and	$~CR0_PG, %eax
	mov	%eax, %cr0
	# 3.
	mov	$MSR_EFER, %ecx
	xor	%eax, %eax
	xor	%edx, %edx
	wrmsr
	mov	%eax, %cr4
	mov	$CR0_PE, %eax
	mov	%eax, %cr0
	# 4.
	mov	$DATA32_SEL, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %fs
	mov	%ax, %gs
	mov	%ax, %ss
	mov	$STACK_TOP, %esp
	push	$2			# EFLAGS bit 1 is always set
	popf
	mov	$START_INFO_ADDR, %ebx
	jmp	*%edi

# Null, 32-bit code 0x08 and data 0x10: base 0, limit 4 GiB, 4 KiB
# granularity, as stage 2's.
	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff
	.quad	0x00cf92000000ffff
gdt_end:
trampoline_end:

# Not an executable stack (GNU ld asks every object to say so).
	.section .note.GNU-stack,"",@progbits
