//go:build tamago

package ahci

import (
	"sync/atomic"
	"unsafe"
)

// MMIO is Regs on the HBA's memory registers at ABAR, which the board
// identity-maps (board/pc: 0-4 GiB) uncached by the MTRRs the BIOS set for
// PCI memory. Each access is one aligned 32-bit load or store (atomic, so
// the compiler neither merges nor drops it), as §3 requires.
type MMIO uintptr

// Read32 implements Regs.
//
// Context: any IRQL; does not block or allocate.
func (m MMIO) Read32(off uint32) uint32 { return atomic.LoadUint32(m.reg(off)) }

// Write32 implements Regs.
//
// Context: any IRQL; does not block or allocate.
func (m MMIO) Write32(off uint32, v uint32) { atomic.StoreUint32(m.reg(off), v) }

// reg returns a pointer to the register at off. The address goes through
// memory rather than unsafe.Pointer(uintptr), which vet rightly rejects
// for Go heap addresses; this one is device memory.
func (m MMIO) reg(off uint32) *uint32 {
	a := uintptr(m) + uintptr(off)
	return *(**uint32)(unsafe.Pointer(&a))
}
