//go:build tamago && linkramsize

package pc

import (
	_ "unsafe"
)

// ramSize is the memory given to the Go runtime, from RamStart (0x10000000,
// TamaGo's amd64 default) up to dmaStart. QEMU must be given at least 2 GiB
// so that both fit below the PCI hole (PLATFORM.md).
//
//go:linkname ramSize runtime/goos.RamSize
var ramSize uint64 = dmaStart - ramStart
