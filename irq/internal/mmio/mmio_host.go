//go:build !tamago

package mmio

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// Device is a fake memory-mapped device for host tests; off is the offset of
// a register from the device's base address.
type Device interface {
	Read32(off uint32) uint32
	Write32(off uint32, v uint32)
}

type window struct {
	base, size uint32
	dev        Device
}

var (
	attachMu sync.Mutex
	// windows is replaced, never modified, so that accesses from pinned
	// goroutines (which must not take a mutex) read it with one load.
	windows atomic.Pointer[[]window]
)

// Attach maps dev at [base, base+size) on the fake bus and returns a function
// that removes it.
//
// Context: host tests only, PASSIVE.
func Attach(base, size uint32, dev Device) (detach func()) {
	attachMu.Lock()
	defer attachMu.Unlock()
	var ws []window
	if p := windows.Load(); p != nil {
		ws = append(ws, *p...)
	}
	ws = append(ws, window{base, size, dev})
	windows.Store(&ws)
	return func() {
		attachMu.Lock()
		defer attachMu.Unlock()
		var rest []window
		for _, w := range *windows.Load() {
			if w.dev != dev || w.base != base {
				rest = append(rest, w)
			}
		}
		windows.Store(&rest)
	}
}

func find(addr uint32) (Device, uint32) {
	if p := windows.Load(); p != nil {
		for _, w := range *p {
			if addr >= w.base && addr-w.base < w.size {
				return w.dev, addr - w.base
			}
		}
	}
	panic("mmio: no fake device at 0x" + strconv.FormatUint(uint64(addr), 16))
}

// Read32 returns the register at addr of the fake device mapped there.
//
// Context: any IRQL; does not block.
func Read32(addr uint32) uint32 {
	d, off := find(addr)
	return d.Read32(off)
}

// Write32 writes v to the register at addr of the fake device mapped there.
//
// Context: any IRQL; does not block.
func Write32(addr uint32, v uint32) {
	d, off := find(addr)
	d.Write32(off, v)
}
