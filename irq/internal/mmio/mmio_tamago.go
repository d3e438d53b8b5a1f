//go:build tamago

package mmio

import "github.com/ataport/firmware/board/mmio"

// Read32 returns the 32-bit register at physical address addr.
//
// Context: any IRQL; does not block or allocate.
func Read32(addr uint32) uint32 {
	return mmio.Read32(uintptr(addr))
}

// Write32 writes v to the 32-bit register at physical address addr.
//
// Context: any IRQL; does not block or allocate.
func Write32(addr uint32, v uint32) {
	mmio.Write32(uintptr(addr), v)
}
