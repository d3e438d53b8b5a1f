//go:build tamago

#include "textflag.h"

// func haltUnlessExpired(count *uint32)
TEXT ·haltUnlessExpired(SB),NOSPLIT,$0-8
	MOVQ	count+0(FP), AX
	CLI
	MOVL	(AX), BX
	CMPL	BX, $0
	JE	expired
	// STI takes effect after the next instruction, so an interrupt that
	// became pending after the check ends the HLT instead of being taken
	// before it.
	STI
	HLT
	RET
expired:
	STI
	RET
