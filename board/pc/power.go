//go:build tamago

package pc

import (
	"errors"
	"fmt"

	"github.com/usbarmory/tamago/amd64"

	"github.com/ataport/firmware/board/ioport"
)

// PM1 control register fields (ACPI 6.4, 4.8.3.2.1, Table 4.13).
const (
	SLP_TYP = 10
	SLP_EN  = 13
)

// acpiSpaceIO is the Generic Address Structure's system I/O space
// (ACPI 6.4, 5.2.3.2).
const acpiSpaceIO = 1

// PowerOff enters the ACPI S5 soft-off state: SLP_TYP from the DSDT's \_S5
// object and SLP_EN written to the PM1a (and PM1b) control blocks. On
// QEMU this ends the emulator with exit status 0. It returns only if the
// machine did not power off.
func PowerOff() error {
	if tables == nil || tables.FADT == nil {
		return errors.New("power off: no ACPI FADT")
	}
	if tables.S5 == nil {
		return errors.New("power off: the DSDT has no \\_S5 object")
	}
	a, b := tables.FADT.PM1Control()
	if a.SpaceID != acpiSpaceIO || a.Address == 0 {
		return fmt.Errorf("power off: PM1a control block %v is not an I/O port", a)
	}
	pm1a := ioport.In16(uint16(a.Address))
	ioport.Out16(uint16(a.Address), pm1a&^(7<<SLP_TYP)|uint16(tables.S5.SLPTypA)<<SLP_TYP|1<<SLP_EN)
	if b.SpaceID == acpiSpaceIO && b.Address != 0 {
		pm1b := ioport.In16(uint16(b.Address))
		ioport.Out16(uint16(b.Address), pm1b&^(7<<SLP_TYP)|uint16(tables.S5.SLPTypB)<<SLP_TYP|1<<SLP_EN)
	}
	Stall(1e9)
	return fmt.Errorf("power off: still running 1 s after writing SLP_EN to %v", a)
}

// Reset resets the machine: through the FADT reset register when the
// firmware declares one, then through the 8042 keyboard controller, then
// by a triple fault.
func Reset() error {
	if tables != nil && tables.FADT != nil {
		if reg, value, ok := tables.FADT.Reset(); ok && reg.SpaceID == acpiSpaceIO {
			ioport.Out8(uint16(reg.Address), value)
			Stall(5e8)
		}
	}
	// 8042 pulse of the CPU reset line
	AMD64.Reset()
	Stall(5e8)
	amd64.Fault()
	return errors.New("reset: the machine did not reset")
}

// Stall busy-waits ns nanoseconds on the TSC.
func Stall(ns int64) {
	end := AMD64.GetTime() + ns
	for AMD64.GetTime() < end {
	}
}
