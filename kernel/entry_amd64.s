//go:build tamago

#include "textflag.h"

// The firmware's interrupt entry (intr.go, docs/DESIGN.md "From the IDT to
// the ISR"). References: SDM Vol 3A 6.12 "Exception and Interrupt
// Handling", 6.14 "Exception and Interrupt Handling in 64-bit Mode" (the
// stack frame, IRETQ), and the APIC chapter (10/11), "End-of-Interrupt
// (EOI)" and "Spurious Interrupt".

#define LAPIC_ID_ADDR	0xfee00020	// LAPIC_ID, APIC ID in bits 31:24
#define LAPIC_EOI_ADDR	0xfee000b0	// LAPIC_EOI
#define FIRST		0x20		// FirstVector
#define WAKE		0xef		// WakeVector
#define SPURIOUS	0xff		// SpuriousVector

#define E CALL ·vectorEntry(SB)
#define E8 E; E; E; E; E; E; E; E
#define E32 E8; E8; E8; E8

// vectorTable holds one 5-byte CALL (E8 rel32) per vector from FIRST to
// 255; the IDT gate of vector v points at entry v-FIRST, so the return
// address the CALL pushes tells vectorEntry the vector.
TEXT ·vectorTable(SB),NOSPLIT|NOFRAME,$0
	E32; E32; E32; E32; E32; E32; E32	// 224 vectors

// vectorEntry runs with IF=0 on the interrupted stack (no IST), under the
// frame the CPU pushed and the table's return address. It uses 32 bytes
// more of that stack and touches no Go runtime state.
TEXT ·vectorEntry(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	PUSHQ	BX
	PUSHQ	CX
	PUSHQ	DX

	// 1. The vector: 5*(index+1) bytes past the table, divided by 5
	// with the multiplicative inverse (x * 0xcccccccccccccccd) >> 66.
	MOVQ	32(SP), AX
	MOVQ	$·vectorTable(SB), BX
	SUBQ	BX, AX
	MOVQ	$0xcccccccccccccccd, BX
	MULQ	BX
	SHRQ	$2, DX
	ADDQ	$(FIRST-1), DX
	MOVQ	DX, CX			// CX = vector

	// 2. The row of this CPU: its local APIC ID, through GS once
	// setupCPUID pointed GS at it (hw_tamago.go), before that from
	// LAPIC_ID, an MMIO read.
	MOVL	·gsIsAPICID(SB), AX
	TESTL	AX, AX
	JZ	3(PC)
	MOVBLZX	0(GS), BX
	JMP	4(PC)
	MOVL	$LAPIC_ID_ADDR, AX
	MOVL	(AX), BX
	SHRL	$24, BX
	SHLQ	$8, BX
	ADDQ	CX, BX			// BX = apic*256 + vector

	// 3. Count and stamp the acceptance.
	MOVQ	$·accepted(SB), AX
	LOCK
	INCL	(AX)(BX*4)
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	$·acceptTSC(SB), DX
	MOVQ	AX, (DX)(BX*8)

	// 4. The spurious vector sets no in-service bit: no EOI.
	CMPQ	CX, $SPURIOUS
	JEQ	done
	// 5. The wake vector only ends a HLT, and is the highest in
	// service now that it was accepted: end it here.
	CMPQ	CX, $WAKE
	JEQ	eoi

	// 6. Leave the vector pending for the dispatcher (service), in
	// service at the local APIC until then.
	SHRQ	$8, BX
	SHLQ	$5, BX			// apic * 32 bytes
	MOVQ	$·pendingVec(SB), AX
	ADDQ	BX, AX
	LOCK
	BTSQ	CX, (AX)
	JMP	done
eoi:
	MOVL	$LAPIC_EOI_ADDR, AX
	MOVL	$0, (AX)
done:
	POPQ	DX
	POPQ	CX
	POPQ	BX
	POPQ	AX
	ADDQ	$8, SP			// the table's return address
	IRETQ

// nmiEntry counts an NMI and returns. NMIs set no in-service bit, so no EOI
// (TamaGo's own NMI handler sends one, which would end a device vector).
// TamaGo wakes halted application processors with NMIs (CPU.Task).
TEXT ·nmiEntry(SB),NOSPLIT|NOFRAME,$0
	PUSHQ	AX
	PUSHQ	BX
	MOVL	$LAPIC_ID_ADDR, AX
	MOVL	(AX), BX
	SHRL	$24, BX
	MOVQ	$·nmis(SB), AX
	LOCK
	INCL	(AX)(BX*4)
	POPQ	BX
	POPQ	AX
	IRETQ

// func idtBase() uint64
TEXT ·idtBase(SB),NOSPLIT,$16-8
	SIDT	0(SP)			// 2-byte limit, 8-byte base
	MOVQ	2(SP), AX
	MOVQ	AX, ret+0(FP)
	RET

// func vectorTableAddr() uint64
TEXT ·vectorTableAddr(SB),NOSPLIT,$0-8
	MOVQ	$·vectorTable(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func nmiEntryAddr() uint64
TEXT ·nmiEntryAddr(SB),NOSPLIT,$0-8
	MOVQ	$·nmiEntry(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
