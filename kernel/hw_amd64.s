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

// APIC_ID_TO_AX leaves the executing CPU's local APIC ID in AX: the byte
// at GS:0 once ·gsIsAPICID is set (publishCPUID), before that LAPIC_ID bits
// 31:24 (lapicBase + lapicIDReg). Clobbers BX.
#define APIC_ID_TO_AX \
	MOVL	·gsIsAPICID(SB), AX \
	TESTL	AX, AX \
	JZ	3(PC) \
	MOVBLZX	0(GS), AX \
	JMP	4(PC) \
	MOVL	$0xfee00020, BX \
	MOVL	(BX), AX \
	SHRL	$24, AX

// func localAPICID() uint8
TEXT ·localAPICID(SB),NOSPLIT,$0-1
	APIC_ID_TO_AX
	MOVB	AX, ret+0(FP)
	RET

// Offsets in TamaGo 1.26.0's runtime structures (runtime/runtime2.go):
// g.m, and m.locks, the count runtime.procPin raises; Go code outside the
// runtime cannot name them. checkPinLayout compares them with procPin at
// boot.
#define g_m	48
#define m_locks	216

// func pinSetCR8(v uint64) (apic uint8)
TEXT ·pinSetCR8(SB),NOSPLIT,$0-9
	MOVQ	(TLS), BX	// g
	MOVQ	g_m(BX), BX
	ADDL	$1, m_locks(BX)	// runtime.procPin, as in proc.go
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR8		// mov cr8, rax
	APIC_ID_TO_AX
	MOVB	AX, apic+8(FP)
	RET

// func lowerCR8(v uint64) (apic uint8)
TEXT ·lowerCR8(SB),NOSPLIT,$0-9
	MOVQ	v+0(FP), AX
	MOVQ	AX, CR8		// mov cr8, rax
	TESTQ	AX, AX
	JNZ	apic
	MOVQ	(TLS), BX	// g
	MOVQ	g_m(BX), BX
	SUBL	$1, m_locks(BX)	// runtime.procUnpin, as in proc.go
apic:
	APIC_ID_TO_AX
	MOVB	AX, apic+8(FP)
	RET

// func mLocks() int32
TEXT ·mLocks(SB),NOSPLIT,$0-4
	MOVQ	(TLS), BX
	MOVQ	g_m(BX), BX
	MOVL	m_locks(BX), AX
	MOVL	AX, ret+0(FP)
	RET
