//go:build tamago

// Package ioport gives Go code the x86 I/O instructions (IN, OUT and their
// REP string forms), which Go cannot express.
//
// Reference: Intel 64 and IA-32 Architectures SDM, Vol. 2, "IN", "OUT",
// "INS/INSB/INSW/INSD", "OUTS/OUTSB/OUTSW/OUTSD" and "REP".
package ioport

// defined in ioport_amd64.s

// In8 reads a byte from port (in al, dx).
func In8(port uint16) uint8

// Out8 writes a byte to port (out dx, al).
func Out8(port uint16, v uint8)

// In16 reads a word from port (in ax, dx).
func In16(port uint16) uint16

// Out16 writes a word to port (out dx, ax).
func Out16(port uint16, v uint16)

// In32 reads a doubleword from port (in eax, dx).
func In32(port uint16) uint32

// Out32 writes a doubleword to port (out dx, eax).
func Out32(port uint16, v uint32)

// InsW reads len(buf) words from port into buf (rep insw).
func InsW(port uint16, buf []uint16)

// OutsW writes buf to port as words (rep outsw).
func OutsW(port uint16, buf []uint16)

// InsL reads len(buf) doublewords from port into buf (rep insl).
func InsL(port uint16, buf []uint32)

// OutsL writes buf to port as doublewords (rep outsl).
func OutsL(port uint16, buf []uint32)
