// Package apicbase decodes IA32_APIC_BASE, the MSR that says where a CPU's
// local APIC is and in which mode it runs, and plans the writes that put it
// in xAPIC mode at the address the firmware drives it (Intel SDM Vol. 3A,
// "Local APIC Status and Location", Figure "IA32_APIC_BASE MSR Supporting
// x2APIC", and "x2APIC State Transitions"; 11.4.4 and 11.12.5 in recent
// editions).
//
// TamaGo's amd64 package and this firmware reach the local APIC through its
// memory-mapped xAPIC registers at 0xFEE00000. A boot firmware may leave it
// in x2APIC mode, where those registers are not decoded (many UEFI PCs with
// VT-d do, and SeaBIOS and OVMF do on machines with more than 255 CPUs), or
// disabled. The package is pure logic; board/pc reads and writes the MSR.
package apicbase

import (
	"errors"
	"fmt"
)

// IA32_APIC_BASE is the MSR's address.
const IA32_APIC_BASE = 0x1b

// Fields of IA32_APIC_BASE.
const (
	BSP  = 1 << 8  // this CPU is the bootstrap processor (read-only)
	EXTD = 1 << 10 // x2APIC mode enable
	EN   = 1 << 11 // APIC global enable
	// BASE_MASK covers the base address, bits 12 up to MAXPHYADDR-1 (at
	// most 51); the bits above MAXPHYADDR read 0.
	BASE_MASK = 0x000f_ffff_ffff_f000
)

// Mode is the state of a local APIC as EN and EXTD encode it.
type Mode int

// Modes (SDM "x2APIC State Transitions": EN=0 EXTD=1 is invalid).
const (
	Disabled Mode = iota
	XAPIC
	X2APIC
	Invalid
)

func (m Mode) String() string {
	return [...]string{"disabled", "xAPIC", "x2APIC", "invalid (EXTD without EN)"}[m]
}

// ModeOf returns the mode v encodes.
func ModeOf(v uint64) Mode {
	switch v & (EN | EXTD) {
	case 0:
		return Disabled
	case EN:
		return XAPIC
	case EN | EXTD:
		return X2APIC
	}
	return Invalid
}

// ErrLocked is returned for an x2APIC that cannot leave x2APIC mode.
var ErrLocked = errors.New("locked in x2APIC mode (IA32_XAPIC_DISABLE_STATUS.LEGACY_XAPIC_DISABLED): the firmware drives the xAPIC, which this CPU no longer offers")

// ToXAPIC returns, for a CPU whose IA32_APIC_BASE reads v, the values to
// write to it, in order, so that its local APIC runs in xAPIC mode at
// address base, and the mode it was in. An x2APIC goes through disabled,
// the only way out of x2APIC mode (a direct write of EXTD=0 with EN=1
// faults); a disabled APIC is enabled. Leaving x2APIC or disabled mode
// resets the local APIC's registers, as a power-up does: every LVT entry
// masked, the SVR's software enable clear, the APIC ID its initial one.
// locked reports that the CPU forbids leaving x2APIC mode.
//
// Returns an error, and no writes, when the APIC is at another address
// (TamaGo's amd64 package drives it at base alone), when v encodes the
// invalid state, and for a locked x2APIC.
func ToXAPIC(v, base uint64, locked bool) (writes []uint64, was Mode, err error) {
	was = ModeOf(v)
	if at := v & BASE_MASK; at != base {
		return nil, was, fmt.Errorf("at %#x (IA32_APIC_BASE %#x), not at %#x where the firmware drives it", at, v, base)
	}
	switch was {
	case XAPIC:
		return nil, was, nil
	case Disabled:
		return []uint64{v | EN}, was, nil
	case X2APIC:
		if locked {
			return nil, was, ErrLocked
		}
		return []uint64{v &^ (EN | EXTD), v&^EXTD | EN}, was, nil
	}
	return nil, was, fmt.Errorf("in an invalid state, x2APIC enabled while disabled (IA32_APIC_BASE %#x)", v)
}
