//go:build tamago

package pc

import (
	"sync/atomic"

	"github.com/ataport/firmware/board/ioport"
)

// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0,
// 3.2.2.3.2): CONFIG_ADDRESS selects bus, device, function and register,
// CONFIG_DATA moves the doubleword.
const (
	CONFIG_ADDRESS = 0xcf8
	CONFIG_DATA    = 0xcfc
	CONFIG_ENABLE  = 31
)

// PCIConfig accesses PCI configuration space through mechanism #1. Its
// methods may be called at any IRQL and from any CPU.
type PCIConfig struct {
	// busy serialises the CONFIG_ADDRESS/CONFIG_DATA pair between CPUs.
	// The critical section calls only NOSPLIT assembly, so the goroutine
	// cannot be preempted while holding it and a plain spin suffices.
	busy atomic.Uint32
}

// PCI is the machine's configuration space.
var PCI = &PCIConfig{}

func configAddress(bus, dev, fn, off uint8) uint32 {
	return 1<<CONFIG_ENABLE | uint32(bus)<<16 | uint32(dev&0x1f)<<11 | uint32(fn&7)<<8 | uint32(off&0xfc)
}

// Read32 reads the configuration doubleword at off (rounded down to 4).
//
//go:nosplit
func (c *PCIConfig) Read32(bus, dev, fn, off uint8) uint32 {
	for !c.busy.CompareAndSwap(0, 1) {
	}
	ioport.Out32(CONFIG_ADDRESS, configAddress(bus, dev, fn, off))
	v := ioport.In32(CONFIG_DATA)
	c.busy.Store(0)
	return v
}

// Write32 writes the configuration doubleword at off (rounded down to 4).
//
//go:nosplit
func (c *PCIConfig) Write32(bus, dev, fn, off uint8, v uint32) {
	for !c.busy.CompareAndSwap(0, 1) {
	}
	ioport.Out32(CONFIG_ADDRESS, configAddress(bus, dev, fn, off))
	ioport.Out32(CONFIG_DATA, v)
	c.busy.Store(0)
}
