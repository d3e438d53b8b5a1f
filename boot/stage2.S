# Stage 2: loads the firmware and starts it through its PVH entry. Stage 1
# jumps here (STAGE2_ADDR+4) in real mode with CS = DS = ES = SS = 0, the
# stack below STACK_TOP, DL = boot drive, COM1 programmed, and the firmware
# header at HEADER_ADDR.
#
# Steps:
#  1. enable A20 (fast A20, then INT 15/AX=2401h), checked by wraparound;
#  2. read the E820 memory map into a PVH start_info (version 1), with the
#     command line "loader=bios", and check that the firmware's memory is
#     RAM in it;
#  3. check the firmware header written by cmd/mkimage;
#  4. load each segment through the bounce buffer with INT 13/AH=42h,
#     copying above 1 MiB in unreal mode, and zero its tail;
#  5. check the CRC-32 of the loaded bytes against the header;
#  6. mask the 8259 PICs, enter 32-bit protected mode (flat 4 GiB
#     segments, paging off) and jump to the PVH entry with EBX =
#     start_info.
#
# References: Ralf Brown's Interrupt List (RBIL) release 61 for the BIOS
# calls; Intel SDM Vol. 3A (2023), 10.9.1 "Switching to Protected Mode" and
# 10.9.2 "Switching Back to Real-Address Mode"; Xen docs/misc/pvh.pandoc
# and public/arch-x86/hvm/start_info.h for the entry state and start_info.

	.code16
	.include "layout.inc"
	.include "checkram.inc"

# GDT selectors (SDM Vol. 3A, 3.4.5 "Segment Descriptors").
.set CODE32_SEL,	0x08
.set DATA32_SEL,	0x10
.set CODE16_SEL,	0x18

.set CR0_PE,		1
.set SMAP,		0x534d4150	# "SMAP", INT 15/AX=E820h signature
.set E820_ENTRY_SIZE,	20		# base, length, type
.set A20_TEST,		0x0500		# first byte after the BDA, restored
.set PIC1_DATA,		0x21		# 8259A OCW1 ports
.set PIC2_DATA,		0xa1
.set CRC32_POLY,	0xedb88320	# IEEE 802.3, bit-reversed

	.text
	.globl	_start
_start:
	.long	STAGE2_MAGIC
	mov	%dl, boot_drive
	call	enable_a20
	call	read_e820
	call	check_ram
	call	check_header
	call	load_firmware
	call	verify_checksum
	jmp	start_firmware

	.include "bios.inc"

# 1. A20. a20_on clears ZF when A20 is enabled: 0000:0500 and FFFF:0510
#    (linear 0x100500) are then different bytes. Both are restored.
a20_on:
	push	%es
	push	%bx
	mov	$0xffff, %bx
	mov	%bx, %es
	movb	A20_TEST, %bl
	movb	%es:A20_TEST+0x10, %bh
	movb	$0x00, A20_TEST
	movb	$0xff, %es:A20_TEST+0x10
	cmpb	$0xff, A20_TEST		# MOVs below keep the flags
	movb	%bh, %es:A20_TEST+0x10
	movb	%bl, A20_TEST
	pop	%bx
	pop	%es
	ret

# a20_wait retries a20_on for a while: the gate may take effect some bus
# cycles after the write that opens it.
a20_wait:
	mov	$0x1000, %cx
1:	call	a20_on
	jnz	2f
	loop	1b
2:	ret

enable_a20:
	call	a20_on
	jnz	1f
	# 1.1 System control port A (0x92), bit 1 = A20 gate. Bit 0 resets
	#     the CPU and must be written as 0.
	in	$0x92, %al
	or	$0x02, %al
	and	$0xfe, %al
	out	%al, $0x92
	call	a20_wait
	jnz	1f
	# 1.2 INT 15/AX=2401h "enable A20 gate".
	mov	$0x2401, %ax
	int	$0x15
	call	a20_wait
	jnz	1f
	mov	$msg_no_a20, %si
	jmp	fatal
1:	ret

# 2. INT 15/EAX=E820h "get system memory map", one 20-byte entry per call
#    straight into the start_info memory map, whose entries
#    (hvm_memmap_table_entry: addr, size, type, reserved) extend E820's
#    by a zeroed u32. As Linux (arch/x86/boot/memory.c): ask for 20 bytes
#    and ignore ACPI 3.0 extended attributes; stop at CF or EBX = 0; trust
#    no map whose first call fails or any call lacks the "SMAP" answer.
#    Empty entries are dropped.
read_e820:
	mov	$START_INFO_ADDR, %di
	mov	$MEMMAP_ADDR-START_INFO_ADDR, %cx
	xor	%al, %al
	rep	stosb
	movl	$PVH_MAGIC, START_INFO_ADDR+SI_MAGIC
	movl	$1, START_INFO_ADDR+SI_VERSION
	movl	$MEMMAP_ADDR, START_INFO_ADDR+SI_MEMMAP_PADDR
	# The command line names this loader to the firmware (its `info`).
	mov	$cmdline, %si
	mov	$CMDLINE_ADDR, %di
	mov	$cmdline_end-cmdline, %cx
	rep	movsb
	movl	$CMDLINE_ADDR, START_INFO_ADDR+SI_CMDLINE_PADDR

	mov	$MEMMAP_ADDR, %di
	xor	%ebx, %ebx
	xor	%bp, %bp
1:	mov	$0xe820, %eax
	mov	$E820_ENTRY_SIZE, %ecx
	mov	$SMAP, %edx
	int	$0x15
	jc	3f
	cmp	$SMAP, %eax
	jne	4f
	mov	8(%di), %eax
	or	12(%di), %eax
	jz	2f
	movl	$0, E820_ENTRY_SIZE(%di)
	add	$MEMMAP_ENTRY_SIZE, %di
	inc	%bp
	cmp	$MEMMAP_MAX, %bp
	je	3f
2:	test	%ebx, %ebx
	jnz	1b
	jmp	3f
4:	xor	%bp, %bp
3:	mov	$msg_no_e820, %si
	test	%bp, %bp
	jz	fatal
	mov	%bp, START_INFO_ADDR+SI_MEMMAP_ENTRIES
	mov	$msg_memmap, %si
	call	puts
	movzwl	%bp, %eax
	call	putdec
	mov	$msg_memmap_end, %si
	jmp	puts

# 2b. The firmware's memory must be RAM in the map just read (CHECK_RAM),
#     before anything is written above 1 MiB: with less RAM (QEMU's
#     default is 128 MiB) the copies of step 4 went nowhere and step 5
#     blamed the disk.
check_ram:
	mov	$START_INFO_ADDR, %ebx
	CHECK_RAM ram_ok
	mov	$msg_no_ram, %si
	jmp	fatal
ram_ok:
	ret

# 3. The header: magic and version, 1..MAX_SEGMENTS segments, each inside
#    [LOAD_MIN, LOAD_MAX) without wrapping, their disk lengths adding up
#    to HDR_SIZE, which is at most FIRMWARE_MAX. cmd/mkimage checks the
#    same when it writes the image; here they guard against a damaged
#    disk, before anything is written above 1 MiB.
check_header:
	mov	$msg_bad_magic, %si
	cmpl	$HEADER_MAGIC, HEADER_ADDR+HDR_MAGIC
	jne	fatal
	cmpw	$HEADER_VERSION, HEADER_ADDR+HDR_VERSION
	jne	fatal
	mov	HEADER_ADDR+HDR_SIZE, %eax
	cmp	$FIRMWARE_MAX, %eax
	ja	too_large
	mov	$msg_bad_header, %si
	mov	HEADER_ADDR+HDR_NSEGS, %cx
	test	%cx, %cx
	jz	fatal
	cmp	$MAX_SEGMENTS, %cx
	ja	fatal
	mov	$HEADER_ADDR+HDR_SEGS, %bx
	xor	%edx, %edx
1:	mov	SEG_PADDR(%bx), %eax
	cmp	$LOAD_MIN, %eax
	jb	fatal
	add	SEG_FILESZ(%bx), %eax
	jc	fatal
	add	SEG_ZERO(%bx), %eax
	jc	fatal
	cmp	$LOAD_MAX, %eax
	ja	fatal
	add	SEG_FILESZ(%bx), %edx
	jc	fatal
	add	$SEG_SIZE, %bx
	loop	1b
	cmp	HEADER_ADDR+HDR_SIZE, %edx
	jne	fatal
	ret

too_large:
	mov	$msg_too_large, %si
	call	puts
	mov	HEADER_ADDR+HDR_SIZE, %eax
	call	putkib
	mov	$msg_too_large_max, %si
	call	puts
	mov	$FIRMWARE_MAX, %eax
	call	putkib
	mov	$msg_kib_end, %si
	jmp	fatal

# putkib prints EAX bytes in KiB, rounded up.
putkib:
	add	$1023, %eax
	shr	$10, %eax
	jmp	putdec

# unreal loads DS and ES with 4 GiB data segments and returns to real
# mode with the limits kept in the descriptor caches ("unreal mode"), so
# that 32-bit addresses reach above 1 MiB (SDM Vol. 3A 10.9.1 steps 1-4,
# then 10.9.2: a 16-bit code segment, PE cleared, a far jump to real
# mode). It returns with interrupts off and the caller keeps them off
# while it uses the limits: a BIOS handler that passes through protected
# mode (SeaBIOS runs its C code in 32-bit mode) may reload 64 KiB limits.
unreal:
	cli
	pushal
	lgdt	gdtr
	mov	%cr0, %eax
	or	$CR0_PE, %al
	mov	%eax, %cr0
	ljmp	$CODE16_SEL, $1f
1:	mov	$DATA32_SEL, %bx
	mov	%bx, %ds
	mov	%bx, %es
	and	$~CR0_PE, %al
	mov	%eax, %cr0
	ljmp	$0, $2f
2:	xor	%bx, %bx
	mov	%bx, %ds
	mov	%bx, %es
	popal
	ret

# 4. Load: for each segment, read at most BOUNCE_SECTORS sectors into the
#    bounce buffer, copy what belongs to the segment to its destination,
#    and finally zero its tail (SEG_ZERO bytes, the ELF's memsz - filesz).
load_firmware:
	mov	$msg_loading, %si
	call	puts
	mov	HEADER_ADDR+HDR_SIZE, %eax
	call	putkib
	mov	$msg_kib, %si
	call	puts

	mov	$HEADER_ADDR+HDR_SEGS, %bx
	mov	HEADER_ADDR+HDR_NSEGS, %cx
1:	push	%cx
	mov	SEG_PADDR(%bx), %edi
	mov	SEG_FILESZ(%bx), %edx	# bytes left
	mov	SEG_LBA(%bx), %eax
	add	$HEADER_LBA, %eax		# SEG_LBA counts from the header
2:	test	%edx, %edx
	jz	4f
	# 4.1 sectors = min(BOUNCE_SECTORS, bytes left rounded up)
	mov	%edx, %ecx
	add	$SECTOR_SIZE-1, %ecx
	shr	$9, %ecx
	cmp	$BOUNCE_SECTORS, %ecx
	jbe	3f
	mov	$BOUNCE_SECTORS, %ecx
3:	push	%di
	mov	$BOUNCE_SEG, %di
	call	disk_read
	pop	%di
	add	%ecx, %eax
	# 4.2 copy min(sectors * 512, bytes left)
	shl	$9, %ecx
	cmp	%edx, %ecx
	jbe	5f
	mov	%edx, %ecx
5:	sub	%ecx, %edx
	mov	$BOUNCE_ADDR, %esi
	call	copy_high
	jmp	2b
	# 4.3 zero the tail
4:	mov	SEG_ZERO(%bx), %ecx
	call	zero_high
	add	$SEG_SIZE, %bx
	pop	%cx
	loop	1b
	ret

# copy_high copies ECX bytes from ESI to EDI, 32-bit linear addresses,
# and advances both.
copy_high:
	call	unreal
	push	%ecx
	shr	$2, %ecx
	addr32	rep movsl
	pop	%ecx
	and	$3, %ecx
	addr32	rep movsb
	sti
	ret

# zero_high zeroes ECX bytes at the 32-bit linear address EDI.
zero_high:
	xor	%eax, %eax
	call	unreal
	push	%ecx
	shr	$2, %ecx
	addr32	rep stosl
	pop	%ecx
	and	$3, %ecx
	addr32	rep stosb
	sti
	ret

# 5. CRC-32 as in ISO 3309 / IEEE 802.3 (Go's hash/crc32 IEEE): reflected
#    polynomial, initial value and final XOR 0xffffffff, one table lookup
#    per byte; the 256-entry table is built first.
verify_checksum:
	mov	$CRC_TABLE_ADDR, %di
	xor	%ebx, %ebx
1:	mov	%ebx, %eax
	mov	$8, %cx
2:	shr	$1, %eax
	jnc	3f
	xor	$CRC32_POLY, %eax
3:	loop	2b
	stosl
	inc	%bx
	cmp	$256, %bx
	jb	1b

	call	unreal
	mov	$0xffffffff, %edx
	mov	$HEADER_ADDR+HDR_SEGS, %bx
	mov	HEADER_ADDR+HDR_NSEGS, %cx
4:	mov	SEG_PADDR(%bx), %esi
	mov	SEG_FILESZ(%bx), %edi	# bytes left
	test	%edi, %edi
	jz	6f
5:	movzbl	(%esi), %eax
	xor	%dl, %al
	shr	$8, %edx
	xor	CRC_TABLE_ADDR(,%eax,4), %edx
	inc	%esi
	dec	%edi
	jnz	5b
6:	add	$SEG_SIZE, %bx
	dec	%cx
	jnz	4b
	sti
	not	%edx
	mov	$msg_checksum, %si
	cmp	HEADER_ADDR+HDR_CRC, %edx
	jne	fatal
	ret

# 6. Hand over in the PVH entry state (pvh.pandoc): 32-bit protected mode,
#    CS a 4 GiB execute/read segment, DS, ES, SS 4 GiB read/write, base 0;
#    CR0 = PE only, CR4 = 0 (paging off); EFLAGS.IF, TF, VM clear; EBX =
#    start_info. TR is left alone: the firmware has no TSS (neither
#    cpuinit nor TamaGo executes LTR).
start_firmware:
	mov	$msg_starting, %si
	call	puts
	# 6.1 Interrupts off for good, then OCW1 = 0xff masks every line of
	#     both 8259A PICs (8259A datasheet, OCW1), so that nothing arrives
	#     through them once the firmware enables interrupts.
	cli
	mov	$0xff, %al
	out	%al, $PIC2_DATA
	out	%al, $PIC1_DATA
	# 6.2 SDM 10.9.1: LGDT, set CR0.PE, far jump to flush the prefetch
	#     queue and load CS, then load the data segment registers.
	lgdt	gdtr
	mov	$CR0_PE, %eax
	mov	%eax, %cr0
	ljmpl	$CODE32_SEL, $pm32

	.code32
pm32:
	mov	$DATA32_SEL, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %fs
	mov	%ax, %gs
	mov	%ax, %ss
	mov	$STACK_TOP, %esp
	xor	%eax, %eax
	mov	%eax, %cr4
	push	$2			# EFLAGS bit 1 is always set
	popf
	mov	$START_INFO_ADDR, %ebx
	jmp	*HEADER_ADDR+HDR_ENTRY
	.code16

# Null, 32-bit code 0x08 and data 0x10 (base 0, limit 4 GiB, 4 KiB
# granularity), 16-bit code 0x18 (base 0, limit 64 KiB) for unreal mode.
	.balign	8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff
	.quad	0x00cf92000000ffff
	.quad	0x00009a000000ffff
gdt_end:
gdtr:
	.word	gdt_end-gdt-1
	.long	gdt

cmdline:
	.asciz	"loader=bios"
cmdline_end:
msg_no_a20:
	.asciz	"boot: cannot enable A20\r\n"
msg_no_e820:
	.asciz	"boot: no E820 memory map (int 15h EAX=E820h)\r\n"
msg_no_ram:
	.asciz	"boot: memory 0x10000000-0x38000000 is not all RAM: the firmware needs it (E820 memory map)\r\n"
msg_memmap:
	.asciz	"boot: memory map: "
msg_memmap_end:
	.asciz	" E820 entries\r\n"
msg_bad_magic:
	.asciz	"boot: bad firmware header magic or version\r\n"
msg_bad_header:
	.asciz	"boot: bad firmware header: segment table\r\n"
msg_too_large:
	.asciz	"boot: firmware too large: "
msg_too_large_max:
	.asciz	" KiB (max "
msg_kib_end:
	.asciz	" KiB)\r\n"
msg_loading:
	.asciz	"boot: loading firmware, "
msg_kib:
	.asciz	" KiB\r\n"
msg_checksum:
	.asciz	"boot: firmware checksum mismatch: image corrupt\r\n"
msg_starting:
	.asciz	"boot: starting firmware\r\n"
