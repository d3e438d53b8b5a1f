//go:build !tamago

package mmio

import "sync/atomic"

// FakeIOAPIC models the register interface of an 82093AA (datasheet 3.1,
// 3.2) for host tests: IOREGSEL selects, IOWIN reads and writes the
// selected register; IOAPICVER, IOAPICARB and the DELIVS and RIRR bits of
// the redirection entries are read-only; entries reset masked. Writes
// through IOWIN are logged in order. The driver's lock serializes accesses,
// as the hardware needs.
type FakeIOAPIC struct {
	sel  uint32
	regs []uint32
	// Writes lists the (register index, value) pairs written through
	// IOWIN, oldest first.
	Writes [][2]uint32
}

// Offsets and bits the fake needs, as in package ioapic (which imports this
// package, so cannot be imported here).
const (
	fakeIOWIN      = 0x10
	fakeVER        = 0x01
	fakeARB        = 0x02
	fakeREDTBL0    = 0x10
	fakeReadOnlyLo = 1<<12 | 1<<14 // DELIVS, RIRR
	fakeMask       = 1 << 16
)

// NewFakeIOAPIC returns a fake IOAPIC with ID id and pins redirection
// entries, version 0x11.
func NewFakeIOAPIC(id uint8, pins int) *FakeIOAPIC {
	f := &FakeIOAPIC{regs: make([]uint32, fakeREDTBL0+2*pins)}
	f.regs[0] = uint32(id) << 24
	f.regs[fakeVER] = uint32(pins-1)<<16 | 0x11
	for pin := range pins {
		f.regs[fakeREDTBL0+2*pin] = fakeMask
	}
	return f
}

// Entry returns redirection entry pin as the hardware holds it.
func (f *FakeIOAPIC) Entry(pin int) uint64 {
	return uint64(f.regs[fakeREDTBL0+2*pin+1])<<32 | uint64(f.regs[fakeREDTBL0+2*pin])
}

// SetEntry sets redirection entry pin, read-only bits included.
func (f *FakeIOAPIC) SetEntry(pin int, v uint64) {
	f.regs[fakeREDTBL0+2*pin] = uint32(v)
	f.regs[fakeREDTBL0+2*pin+1] = uint32(v >> 32)
}

// Read32 implements Device.
func (f *FakeIOAPIC) Read32(off uint32) uint32 {
	switch {
	case off == 0:
		return f.sel
	case off == fakeIOWIN && int(f.sel) < len(f.regs):
		return f.regs[f.sel]
	}
	return 0
}

// Write32 implements Device.
func (f *FakeIOAPIC) Write32(off uint32, v uint32) {
	switch {
	case off == 0:
		f.sel = v & 0xff
	case off == fakeIOWIN && int(f.sel) < len(f.regs):
		f.Writes = append(f.Writes, [2]uint32{f.sel, v})
		switch {
		case f.sel == fakeVER || f.sel == fakeARB:
		case f.sel >= fakeREDTBL0 && (f.sel-fakeREDTBL0)%2 == 0:
			f.regs[f.sel] = f.regs[f.sel]&fakeReadOnlyLo | v&^fakeReadOnlyLo
		default:
			f.regs[f.sel] = v
		}
	}
}

// FakeLAPIC models a local APIC page for host tests: registers read back
// what was stored, a write to ICRL logs the 64-bit ICR, a write to EOI is
// counted, and Busy keeps the ICR delivery status pending.
type FakeLAPIC struct {
	regs [0x400 / 0x10]atomic.Uint32
	// ICR lists the 64-bit ICR values sent, oldest first.
	ICR []uint64
	// EOIs counts EOI writes.
	EOIs atomic.Int32
	// Busy makes ICRL read with the delivery status bit set.
	Busy atomic.Bool
}

const (
	fakeEOI        = 0xb0
	fakeICRL       = 0x300
	fakeICRH       = 0x310
	fakeDLVStatus  = 1 << 12
	fakeSpuriousFF = 0xff
	fakeSVR        = 0xf0
)

// NewFakeLAPIC returns a fake local APIC with APIC ID id, enabled, with the
// reset spurious vector 0xff.
func NewFakeLAPIC(id uint8) *FakeLAPIC {
	f := &FakeLAPIC{}
	f.Set(0x20, uint32(id)<<24)
	f.Set(fakeSVR, 1<<8|fakeSpuriousFF)
	return f
}

// Set stores v in the register at off, as the hardware would hold it.
func (f *FakeLAPIC) Set(off uint32, v uint32) {
	f.regs[off/0x10].Store(v)
}

// Read32 implements Device.
func (f *FakeLAPIC) Read32(off uint32) uint32 {
	v := f.regs[off/0x10].Load()
	if off == fakeICRL && f.Busy.Load() {
		v |= fakeDLVStatus
	}
	return v
}

// Write32 implements Device.
func (f *FakeLAPIC) Write32(off uint32, v uint32) {
	switch off {
	case fakeEOI:
		f.EOIs.Add(1)
	case fakeICRL:
		f.ICR = append(f.ICR, uint64(f.regs[fakeICRH/0x10].Load())<<32|uint64(v))
		f.regs[off/0x10].Store(v &^ fakeDLVStatus)
	default:
		f.regs[off/0x10].Store(v)
	}
}
