//go:build tamago

package mmio

import (
	"sync/atomic"
	"unsafe"
)

// Read32 returns the 32-bit register at physical address addr.
//
// Context: any IRQL; does not block or allocate.
func Read32(addr uint32) uint32 {
	return atomic.LoadUint32(reg(addr))
}

// Write32 writes v to the 32-bit register at physical address addr.
//
// Context: any IRQL; does not block or allocate.
func Write32(addr uint32, v uint32) {
	atomic.StoreUint32(reg(addr), v)
}

// reg returns a pointer to the identity-mapped register at addr. The address
// is converted through memory rather than with unsafe.Pointer(uintptr),
// which vet rightly rejects for Go heap addresses; this one is device
// memory.
func reg(addr uint32) *uint32 {
	a := uintptr(addr)
	return *(**uint32)(unsafe.Pointer(&a))
}
