//go:build tamago && linkramsize

package pc

import (
	_ "unsafe"
)

// ramSize is the memory given to the Go runtime, from RamStart (0x10000000,
// TamaGo's amd64 default) up to dmaStart (pc.go); TamaGo's own default of 1
// GiB would put the first stack above the RAM of a 1 GiB machine.
//
//go:linkname ramSize runtime/goos.RamSize
var ramSize uint64 = runtimeRAM
