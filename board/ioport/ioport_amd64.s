//go:build tamago

#include "textflag.h"

// func In8(port uint16) uint8
TEXT ·In8(SB),NOSPLIT,$0-9
	MOVW	port+0(FP), DX
	BYTE	$0xec			// in al, dx
	MOVB	AL, ret+8(FP)
	RET

// func Out8(port uint16, v uint8)
TEXT ·Out8(SB),NOSPLIT,$0-3
	MOVW	port+0(FP), DX
	MOVB	v+2(FP), AL
	BYTE	$0xee			// out dx, al
	RET

// func In16(port uint16) uint16
TEXT ·In16(SB),NOSPLIT,$0-10
	MOVW	port+0(FP), DX
	BYTE	$0x66; BYTE $0xed	// in ax, dx
	MOVW	AX, ret+8(FP)
	RET

// func Out16(port uint16, v uint16)
TEXT ·Out16(SB),NOSPLIT,$0-4
	MOVW	port+0(FP), DX
	MOVW	v+2(FP), AX
	BYTE	$0x66; BYTE $0xef	// out dx, ax
	RET

// func In32(port uint16) uint32
TEXT ·In32(SB),NOSPLIT,$0-12
	MOVW	port+0(FP), DX
	BYTE	$0xed			// in eax, dx
	MOVL	AX, ret+8(FP)
	RET

// func Out32(port uint16, v uint32)
TEXT ·Out32(SB),NOSPLIT,$0-8
	MOVW	port+0(FP), DX
	MOVL	v+4(FP), AX
	BYTE	$0xef			// out dx, eax
	RET

// func InsW(port uint16, buf []uint16)
TEXT ·InsW(SB),NOSPLIT,$0-32
	MOVW	port+0(FP), DX
	MOVQ	buf_base+8(FP), DI
	MOVQ	buf_len+16(FP), CX
	CLD
	BYTE	$0x66; BYTE $0xf3; BYTE $0x6d	// rep insw
	RET

// func OutsW(port uint16, buf []uint16)
TEXT ·OutsW(SB),NOSPLIT,$0-32
	MOVW	port+0(FP), DX
	MOVQ	buf_base+8(FP), SI
	MOVQ	buf_len+16(FP), CX
	CLD
	BYTE	$0x66; BYTE $0xf3; BYTE $0x6f	// rep outsw
	RET

// func InsL(port uint16, buf []uint32)
TEXT ·InsL(SB),NOSPLIT,$0-32
	MOVW	port+0(FP), DX
	MOVQ	buf_base+8(FP), DI
	MOVQ	buf_len+16(FP), CX
	CLD
	BYTE	$0xf3; BYTE $0x6d		// rep insl
	RET

// func OutsL(port uint16, buf []uint32)
TEXT ·OutsL(SB),NOSPLIT,$0-32
	MOVW	port+0(FP), DX
	MOVQ	buf_base+8(FP), SI
	MOVQ	buf_len+16(FP), CX
	CLD
	BYTE	$0xf3; BYTE $0x6f		// rep outsl
	RET
