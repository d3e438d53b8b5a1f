//go:build tamago && linkcpuinit

// CPU entry for PC-compatible machines, replacing TamaGo's default cpuinit
// (build tag linkcpuinit) so that the legacy 8259 PICs are masked before
// anything can enable interrupts (PLATFORM.md: SeaBIOS leaves the PIT
// unmasked on IRQ 0, which arrives as vector 8 and double-faults the CPU).
//
// Entry state, as the PVH boot protocol (x86/HVM direct boot ABI) and this
// project's boot loader leave it: 32-bit protected mode, flat segments,
// paging off, interrupts off. The code up to the far return therefore runs
// in 32-bit mode although it is assembled for amd64: it only uses
// instructions whose encoding means the same in both modes.
//
// Steps (Intel SDM Vol. 3A, 10.8.5 / 9.8.5 "Initializing IA-32e Mode"):
//  1. mask both 8259 PICs (8259A datasheet, OCW1);
//  2. save the entry TSC (for the boot time) and the PVH start_info
//     pointer (EBX), and copy page zero (the BDA with the EBDA segment,
//     QEMU's PVH memory map) before it becomes inaccessible;
//  2b. check that the CPU has RDRAND, with which TamaGo seeds the Go
//     runtime before anything could report the #UD (QEMU's default CPU,
//     qemu64, has none); if not, say so on COM1 and stop;
//  3. build identity page tables for 0-4 GiB: 2 MiB pages, the first 2 MiB
//     in 4 KiB pages with page 0 not present (Go relies on faults there for
//     nil checks), 3-4 GiB (MMIO: LAPIC, IOAPIC, PCI windows) uncached;
//  4. enable PAE, long mode (EFER.LME) and paging;
//  5. load a GDT with a 64-bit code segment and far-return into it;
//  6. load the data segments, enable SSE, set the Go stack, enable
//     interrupts and enter the Go runtime.
//
// The firmware's memory (the Go runtime's RAM and the DMA region) has been
// checked against the memory map before this entry runs, by each way in:
// the PVH entry stub (boot/pvhentry.S, which QEMU's -kernel enters), the
// BIOS loader and the UEFI loader (boot/README.md, "Boot protocol").

#include "textflag.h"

// Page tables. PML4T must be at 0x9000: TamaGo's application processor
// start-up code (amd64/smp.s) loads CR3 with that address.
#define PML4T	0x9000
#define PDPT	0xa000
#define PDT	0xb000	// four tables, 0xb000-0xefff: 2048 x 2 MiB = 4 GiB
#define PT	0xf000	// 512 x 4 KiB = the first 2 MiB
#define TABLES_END 0x10000

// GDT, its descriptor and the values saved for Go, in conventional memory
// below the page tables, above the copy of page zero; the boot stack grows
// down from BOOT_STACK, below TamaGo's AP start-up area (0x4000-0x6fff),
// which is only used later.
#define GDT		0x8f00
#define GDTR		0x8f20
#define ENTRY_TSC	0x8fe8
#define START_INFO_SAVE	0x8ff0
#define PAGE0_COPY	0x7000
#define BOOT_STACK	0x7000

#define MSR_EFER	0xc0000080

#define COM1		0x3f8

// The GDT of 64-bit mode. TamaGo's application processor start-up
// (amd64/smp.s) loads it through amd64.gdtptr, which TamaGo's own cpuinit
// would define.
DATA	·gdt<>+0x00(SB)/8, $0x0000000000000000	// null
DATA	·gdt<>+0x08(SB)/8, $0x00209a0000000000	// 64-bit code, selector 0x08
DATA	·gdt<>+0x10(SB)/8, $0x0000920000000000	// data, selector 0x10
GLOBL	·gdt<>(SB),RODATA,$24

DATA	github·com∕usbarmory∕tamago∕amd64·gdtptr+0x00(SB)/2, $(3*8-1)
DATA	github·com∕usbarmory∕tamago∕amd64·gdtptr+0x02(SB)/8, $·gdt<>(SB)
GLOBL	github·com∕usbarmory∕tamago∕amd64·gdtptr(SB),RODATA,$(2+8)

#define PTE_P	(1<<0)
#define PTE_RW	(1<<1)
#define PTE_PWT	(1<<3)
#define PTE_PCD	(1<<4)
#define PTE_PS	(1<<7)

TEXT cpuinit(SB),NOSPLIT|NOFRAME,$0
	CLI
	MOVL	$BOOT_STACK, SP

	// 1. OCW1 = 0xff on the master (0x21) and slave (0xa1) PIC
	MOVB	$0xff, AL
	BYTE	$0xe6; BYTE $0xa1	// out 0xa1, al
	BYTE	$0xe6; BYTE $0x21	// out 0x21, al

	// 2. entry TSC, start_info pointer, page zero
	MOVL	BX, SI
	RDTSC
	MOVL	$ENTRY_TSC, DI
	MOVL	AX, 0(DI)
	MOVL	DX, 4(DI)
	MOVL	SI, BX
	MOVL	$START_INFO_SAVE, DI
	MOVL	BX, (DI)
	XORL	SI, SI
	MOVL	$PAGE0_COPY, DI
	MOVL	$(0x1000/4), CX
	CLD
	REP;	MOVSL

	// 2b. the CPU must have RDRAND
	CALL	·checkRDRAND<>(SB)

	// 3. page tables: clear, then link PML4T -> PDPT -> 4 PDTs
	MOVL	$PML4T, DI
	MOVL	$((TABLES_END-PML4T)/4), CX
	XORL	AX, AX
	CLD
	REP;	STOSL

	MOVL	$PML4T, DI
	MOVL	$(PDPT|PTE_RW|PTE_P), (DI)

	MOVL	$PDPT, DI
	MOVL	$(PDT|PTE_RW|PTE_P), 0(DI)
	MOVL	$((PDT+0x1000)|PTE_RW|PTE_P), 8(DI)
	MOVL	$((PDT+0x2000)|PTE_RW|PTE_P), 16(DI)
	MOVL	$((PDT+0x3000)|PTE_RW|PTE_P), 24(DI)

	// 2 MiB pages over 0-4 GiB
	MOVL	$PDT, DI
	MOVL	$(PTE_PS|PTE_RW|PTE_P), AX
pdt:
	MOVL	AX, (DI)
	ADDL	$8, DI
	ADDL	$(2<<20), AX
	CMPL	DI, $PT
	JB	pdt

	// 3-4 GiB uncached
	MOVL	$(PDT+0x3000), DI
pcd:
	ORL	$(PTE_PCD|PTE_PWT), (DI)
	ADDL	$8, DI
	CMPL	DI, $PT
	JB	pcd

	// the first 2 MiB in 4 KiB pages, page 0 left not present
	MOVL	$(PT+8), DI
	MOVL	$(0x1000|PTE_RW|PTE_P), AX
pt:
	MOVL	AX, (DI)
	ADDL	$8, DI
	ADDL	$0x1000, AX
	CMPL	DI, $TABLES_END
	JB	pt

	MOVL	$PDT, DI
	MOVL	$(PT|PTE_RW|PTE_P), (DI)

	// 4. CR3, CR4.(PAE|PGE), EFER.LME, CR0.(PG|PE)
	MOVL	$PML4T, AX
	MOVL	AX, CR3

	MOVL	CR4, AX
	ORL	$(1<<5 | 1<<7), AX
	MOVL	AX, CR4

	MOVL	$MSR_EFER, CX
	RDMSR
	ORL	$(1<<8), AX
	WRMSR

	MOVL	CR0, AX
	ORL	$(1<<31 | 1<<0), AX
	MOVL	AX, CR0

	// 5. a temporary GDT at a fixed address (32-bit code cannot name
	// symbols), the same as ·gdt: null, 64-bit code 0x08, data 0x10
	MOVL	$GDT, DI
	MOVL	$0, 0(DI)
	MOVL	$0, 4(DI)
	MOVL	$0, 8(DI)
	MOVL	$0x00209a00, 12(DI)
	MOVL	$0, 16(DI)
	MOVL	$0x00009200, 20(DI)

	MOVL	$GDTR, DI
	MOVL	$0, 4(DI)
	MOVL	$0, 8(DI)
	MOVW	$(3*8-1), 0(DI)
	MOVL	$GDT, 2(DI)
	LGDT	(DI)

	// The far return target must be an absolute address, but the Go
	// assembler only emits RIP-relative references to symbols. Executed
	// in 32-bit mode, that LEA (8d 1d disp32) loads disp32 itself, the
	// distance from the end of the LEA to the target; the CALL gives the
	// absolute address where the LEA starts.
	CALL	·eip<>(SB)
	MOVL	$·long64<>(SB), BX	// 6 bytes: lea ebx, [disp32]
	ADDL	$6, AX
	ADDL	BX, AX

	PUSHQ	$0x08			// 32-bit push in this mode
	PUSHQ	AX
	RETFL

// checkRDRAND returns when CPUID.01H:ECX.RDRAND[bit 30] is set (Intel SDM
// Vol. 2A, CPUID); otherwise it jumps to rdrandFault. Runs in 32-bit mode;
// uses AX, CX, DX, keeps BX.
TEXT ·checkRDRAND<>(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	BX			// push ebx in 32-bit mode
	MOVL	$1, AX
	XORL	CX, CX
	CPUID
	POPQ	BX
	BTL	$30, CX
	JCS	has
	JMP	·rdrandFault<>(SB)
has:
	RET

// rdrandFault prints rdrandMsg and halts for good (fault). The message's
// absolute address comes from the same LEA trick as cpuinit's far return:
// the MOVL is 6 bytes, lea esi, [disp32].
TEXT ·rdrandFault<>(SB),NOSPLIT|NOFRAME,$0
	CALL	·eip<>(SB)
	MOVL	$·rdrandMsg<>(SB), SI
	ADDL	$6, AX
	ADDL	AX, SI
	JMP	·fault<>(SB)

// fault sets COM1 to 115200 8N1 (PC16550D: LCR.DLAB, divisor 1, LCR
// 8N1), prints the NUL-terminated message at SI and halts for good. Runs
// in 32-bit mode.
TEXT ·fault<>(SB),NOSPLIT|NOFRAME,$0
	MOVL	$(COM1+3), DX
	MOVB	$0x80, AL
	OUTB
	MOVL	$COM1, DX
	MOVB	$1, AL
	OUTB
	MOVL	$(COM1+1), DX
	MOVB	$0, AL
	OUTB
	MOVL	$(COM1+3), DX
	MOVB	$0x03, AL
	OUTB
putc:
	MOVB	(SI), CX
	TESTB	CX, CX
	JEQ	stop
	MOVL	$(COM1+5), DX
thre:
	INB				// LSR; a missing UART reads 0xff
	TESTB	$0x20, AL
	JEQ	thre
	MOVL	$COM1, DX
	MOVB	CX, AX
	OUTB
	INCL	SI
	JMP	putc
stop:
	HLT
	JMP	stop

// rdrandMsg is what rdrandFault prints.
DATA	·rdrandMsg<>+0x00(SB)/8, $"boot: th"
DATA	·rdrandMsg<>+0x08(SB)/8, $"e CPU ha"
DATA	·rdrandMsg<>+0x10(SB)/8, $"s no RDR"
DATA	·rdrandMsg<>+0x18(SB)/8, $"AND (CPU"
DATA	·rdrandMsg<>+0x20(SB)/8, $"ID.01H:E"
DATA	·rdrandMsg<>+0x28(SB)/8, $"CX bit 3"
DATA	·rdrandMsg<>+0x30(SB)/8, $"0), whic"
DATA	·rdrandMsg<>+0x38(SB)/8, $"h the Go"
DATA	·rdrandMsg<>+0x40(SB)/8, $" runtime"
DATA	·rdrandMsg<>+0x48(SB)/8, $" needs; "
DATA	·rdrandMsg<>+0x50(SB)/8, $"under QE"
DATA	·rdrandMsg<>+0x58(SB)/8, $"MU use -"
DATA	·rdrandMsg<>+0x60(SB)/8, $"cpu max\r"
DATA	·rdrandMsg<>+0x68(SB)/8, $"\n\x00\x00\x00\x00\x00\x00\x00"
GLOBL	·rdrandMsg<>(SB),RODATA,$0x70

// eip returns, in AX, its return address (the absolute address following
// the CALL).
TEXT ·eip<>(SB),NOSPLIT|NOFRAME,$0
	MOVL	(SP), AX
	RET

TEXT ·long64<>(SB),NOSPLIT|NOFRAME,$0
	// 6. the permanent GDT, then the data segments
	MOVQ	$github·com∕usbarmory∕tamago∕amd64·gdtptr(SB), AX
	LGDT	(AX)
	MOVL	$0x10, AX
	BYTE	$0x8e; BYTE $0xd8	// mov ds, eax
	BYTE	$0x8e; BYTE $0xc0	// mov es, eax
	BYTE	$0x8e; BYTE $0xd0	// mov ss, eax

	CALL	sse_enable(SB)

	MOVQ	runtime∕goos·RamStart(SB), SP
	MOVQ	runtime∕goos·RamSize(SB), AX
	MOVQ	runtime∕goos·RamStackOffset(SB), BX
	ADDQ	AX, SP
	SUBQ	BX, SP

	// TamaGo's idle loop (wfi) halts with interrupts enabled.
	STI
	JMP	_rt0_tamago_start(SB)
