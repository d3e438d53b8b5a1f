//go:build tamago

#include "textflag.h"

// func readCR8() uint64
TEXT ·readCR8(SB),NOSPLIT,$0-8
	MOVQ	CR8, AX		// mov rax, cr8
	MOVQ	AX, ret+0(FP)
	RET

// func writeCR8(v uint64)
TEXT ·writeCR8(SB),NOSPLIT,$0-8
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR8		// mov cr8, rax
	RET

// func readFlags() uint64
TEXT ·readFlags(SB),NOSPLIT,$0-8
	PUSHFQ
	POPQ	AX
	MOVQ	AX, ret+0(FP)
	RET

// func cli()
TEXT ·cli(SB),NOSPLIT,$0
	CLI
	RET

// func sti()
TEXT ·sti(SB),NOSPLIT,$0
	STI
	RET

// func readTSC() uint64
TEXT ·readTSC(SB),NOSPLIT,$0-8
	RDTSC			// edx:eax = TSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET
