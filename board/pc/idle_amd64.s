//go:build tamago

#include "textflag.h"

// func haltUnlessPending(count uintptr, pending *[4]uint64)
TEXT ·haltUnlessPending(SB),NOSPLIT,$0-16
	MOVQ	count+0(FP), AX
	MOVQ	pending+8(FP), CX
	CLI
	MOVL	(AX), BX
	CMPL	BX, $0
	JE	skip
	MOVQ	0(CX), BX
	ORQ	8(CX), BX
	ORQ	16(CX), BX
	ORQ	24(CX), BX
	JNE	skip
	// STI takes effect after the next instruction, so an interrupt that
	// became pending after the check ends the HLT instead of being taken
	// before it.
	STI
	HLT
	RET
skip:
	STI
	RET

// func stop()
TEXT ·stop(SB),NOSPLIT,$0
	CLI
halt:
	HLT
	JMP	halt
