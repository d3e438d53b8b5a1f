//go:build tamago

#include "textflag.h"

// func haltUnlessExpired(count *uint32, lock *bool, seen bool)
TEXT ·haltUnlessExpired(SB),NOSPLIT,$0-17
	MOVQ	count+0(FP), AX
	MOVQ	lock+8(FP), CX
	MOVB	seen+16(FP), DX
	CLI
	MOVL	(AX), BX
	CMPL	BX, $0
	JE	expired
	MOVB	(CX), BX
	CMPB	BX, DX
	JNE	expired
	// STI takes effect after the next instruction, so an interrupt that
	// became pending after the check ends the HLT instead of being taken
	// before it.
	STI
	HLT
	RET
expired:
	STI
	RET
