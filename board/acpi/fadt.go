package acpi

import (
	"encoding/binary"
	"fmt"
)

// Generic Address Structure (ACPI 6.0 §5.2.3.2).
const (
	GAS_ADDRESS_SPACE_ID = 0
	GAS_BIT_WIDTH        = 1
	GAS_BIT_OFFSET       = 2
	GAS_ACCESS_SIZE      = 3
	GAS_ADDRESS          = 4 // 64-bit
	GAS_LENGTH           = 12
)

// Address space IDs of a Generic Address Structure (§5.2.3.2).
const (
	SystemMemory = 0x00
	SystemIO     = 0x01
	PCIConfig    = 0x02
)

// FADT field offsets (ACPI 6.0 §5.2.9). A revision 1 FADT (ACPI
// 1.0) ends at FADT_V1_LENGTH; later fields exist only when Length covers
// them.
const (
	FADT_FIRMWARE_CTRL  = 36
	FADT_DSDT           = 40
	FADT_SCI_INT        = 46
	FADT_PM1A_EVT_BLK   = 56
	FADT_PM1B_EVT_BLK   = 60
	FADT_PM1A_CNT_BLK   = 64
	FADT_PM1B_CNT_BLK   = 68
	FADT_PM_TMR_BLK     = 76
	FADT_PM1_EVT_LEN    = 88
	FADT_PM1_CNT_LEN    = 89
	FADT_PM_TMR_LEN     = 91
	FADT_IAPC_BOOT_ARCH = 109
	FADT_FLAGS          = 112
	FADT_V1_LENGTH      = 116
	FADT_RESET_REG      = 116
	FADT_RESET_VALUE    = 128
	FADT_X_DSDT         = 140
	FADT_X_PM1A_EVT_BLK = 148
	FADT_X_PM1B_EVT_BLK = 160
	FADT_X_PM1A_CNT_BLK = 172
	FADT_X_PM1B_CNT_BLK = 184
	FADT_X_PM_TMR_BLK   = 208
)

// Fixed feature flags, bit positions (§5.2.9).
const (
	TMR_VAL_EXT   = 8  // PM timer is 32 bits wide, else 24
	RESET_REG_SUP = 10 // RESET_REG and RESET_VALUE are valid
)

// IA-PC boot architecture flags, bit positions (§5.2.9.3).
const (
	LEGACY_DEVICES = 0 // the machine has ISA/LPC devices the OS may drive
	IAPC_8042      = 1 // an 8042 keyboard controller is present
)

// GenericAddress is a Generic Address Structure (§5.2.3.2).
type GenericAddress struct {
	SpaceID    uint8
	BitWidth   uint8
	BitOffset  uint8
	AccessSize uint8
	Address    uint64
}

// String gives "io 0x608", "mem 0xfed00000" or "none" when the address is 0.
func (g GenericAddress) String() string {
	switch {
	case g.Address == 0:
		return "none"
	case g.SpaceID == SystemIO:
		return fmt.Sprintf("io %#x", g.Address)
	case g.SpaceID == SystemMemory:
		return fmt.Sprintf("mem %#x", g.Address)
	}
	return fmt.Sprintf("space %#x %#x", g.SpaceID, g.Address)
}

// FADT is the part of the Fixed ACPI Description Table (§5.2.9) a board
// uses. The X_ fields are zero when the table is too short to hold them.
type FADT struct {
	Header

	FirmwareCtrl     uint32
	DSDT             uint32
	SCIInterrupt     uint16
	PM1aEventBlock   uint32
	PM1bEventBlock   uint32
	PM1aControlBlock uint32
	PM1bControlBlock uint32
	PMTimerBlock     uint32
	PM1EventLength   uint8
	PM1ControlLength uint8
	PMTimerLength    uint8
	IAPCBootArch     uint16
	Flags            uint32

	ResetReg          GenericAddress
	ResetValue        uint8
	XDSDT             uint64
	XPM1aEventBlock   GenericAddress
	XPM1bEventBlock   GenericAddress
	XPM1aControlBlock GenericAddress
	XPM1bControlBlock GenericAddress
	XPMTimerBlock     GenericAddress
}

// decodeFADT decodes b, the checked bytes of the FADT described by h.
func decodeFADT(h Header, b []byte) (*FADT, error) {
	if len(b) < FADT_V1_LENGTH {
		return nil, h.errorf("%w: length %d is shorter than the %d bytes of an ACPI 1.0 FADT", ErrTruncated, len(b), FADT_V1_LENGTH)
	}
	le := binary.LittleEndian
	f := &FADT{
		Header:           h,
		FirmwareCtrl:     le.Uint32(b[FADT_FIRMWARE_CTRL:]),
		DSDT:             le.Uint32(b[FADT_DSDT:]),
		SCIInterrupt:     le.Uint16(b[FADT_SCI_INT:]),
		PM1aEventBlock:   le.Uint32(b[FADT_PM1A_EVT_BLK:]),
		PM1bEventBlock:   le.Uint32(b[FADT_PM1B_EVT_BLK:]),
		PM1aControlBlock: le.Uint32(b[FADT_PM1A_CNT_BLK:]),
		PM1bControlBlock: le.Uint32(b[FADT_PM1B_CNT_BLK:]),
		PMTimerBlock:     le.Uint32(b[FADT_PM_TMR_BLK:]),
		PM1EventLength:   b[FADT_PM1_EVT_LEN],
		PM1ControlLength: b[FADT_PM1_CNT_LEN],
		PMTimerLength:    b[FADT_PM_TMR_LEN],
		Flags:            le.Uint32(b[FADT_FLAGS:]),
	}
	// IAPC_BOOT_ARCH was reserved in ACPI 1.0: read it from revision 2 on.
	if h.Revision >= 2 {
		f.IAPCBootArch = le.Uint16(b[FADT_IAPC_BOOT_ARCH:])
	}
	if len(b) > FADT_RESET_VALUE {
		f.ResetReg = decodeGAS(b[FADT_RESET_REG:])
		f.ResetValue = b[FADT_RESET_VALUE]
	}
	if len(b) >= FADT_X_DSDT+8 {
		f.XDSDT = le.Uint64(b[FADT_X_DSDT:])
	}
	for _, x := range []struct {
		off int
		gas *GenericAddress
	}{
		{FADT_X_PM1A_EVT_BLK, &f.XPM1aEventBlock},
		{FADT_X_PM1B_EVT_BLK, &f.XPM1bEventBlock},
		{FADT_X_PM1A_CNT_BLK, &f.XPM1aControlBlock},
		{FADT_X_PM1B_CNT_BLK, &f.XPM1bControlBlock},
		{FADT_X_PM_TMR_BLK, &f.XPMTimerBlock},
	} {
		if len(b) >= x.off+GAS_LENGTH {
			*x.gas = decodeGAS(b[x.off:])
		}
	}
	return f, nil
}

func decodeGAS(b []byte) GenericAddress {
	return GenericAddress{
		SpaceID:    b[GAS_ADDRESS_SPACE_ID],
		BitWidth:   b[GAS_BIT_WIDTH],
		BitOffset:  b[GAS_BIT_OFFSET],
		AccessSize: b[GAS_ACCESS_SIZE],
		Address:    binary.LittleEndian.Uint64(b[GAS_ADDRESS:]),
	}
}

// DSDTAddress is where the DSDT is: X_DSDT when set, DSDT otherwise, as
// §5.2.9 orders (X_DSDT takes precedence).
func (f *FADT) DSDTAddress() uint64 {
	if f.XDSDT != 0 {
		return f.XDSDT
	}
	return uint64(f.DSDT)
}

// fixedBlock picks the X_ form of a fixed register block when it is set and
// the 32-bit System I/O form otherwise (§5.2.9: the X_ field supersedes it).
func fixedBlock(x GenericAddress, legacy uint32, length uint8) GenericAddress {
	if x.Address != 0 {
		return x
	}
	if legacy == 0 {
		return GenericAddress{}
	}
	return GenericAddress{SpaceID: SystemIO, BitWidth: 8 * length, Address: uint64(legacy)}
}

// PMTimer is the PM timer register (PM_TMR, §4.8.3.3): X_PM_TMR_BLK or
// PM_TMR_BLK. Its Address is 0 when the machine has no PM timer.
func (f *FADT) PMTimer() GenericAddress {
	return fixedBlock(f.XPMTimerBlock, f.PMTimerBlock, f.PMTimerLength)
}

// PMTimerPort returns the I/O port of the PM timer, the form every IA-PC
// uses, or an error when there is none or it is not in System I/O space.
func (f *FADT) PMTimerPort() (uint16, error) {
	t := f.PMTimer()
	switch {
	case t.Address == 0:
		return 0, f.errorf("no PM timer (PM_TMR_BLK and X_PM_TMR_BLK are 0)")
	case t.SpaceID != SystemIO:
		return 0, f.errorf("PM timer at %v is not in System I/O space", t)
	case t.Address > 0xffff:
		return 0, f.errorf("PM timer port %#x is above 0xffff", t.Address)
	}
	return uint16(t.Address), nil
}

// PMTimerWidth is the number of counting bits of TMR_VAL: 32 with
// TMR_VAL_EXT set, 24 otherwise (§4.8.3.3).
func (f *FADT) PMTimerWidth() int {
	if f.Flags&(1<<TMR_VAL_EXT) != 0 {
		return 32
	}
	return 24
}

// PM1Control returns the PM1a and PM1b control registers, which take
// SLP_TYP and SLP_EN to enter a sleep state (§4.8.3.2.1). b.Address is 0 when
// there is no PM1b block.
func (f *FADT) PM1Control() (a, b GenericAddress) {
	return fixedBlock(f.XPM1aControlBlock, f.PM1aControlBlock, f.PM1ControlLength),
		fixedBlock(f.XPM1bControlBlock, f.PM1bControlBlock, f.PM1ControlLength)
}

// Reset returns the reset register and the value to write to it, ok only
// when RESET_REG_SUP is set and the FADT holds the fields (§4.8.3.6).
func (f *FADT) Reset() (reg GenericAddress, value uint8, ok bool) {
	if f.Flags&(1<<RESET_REG_SUP) == 0 || f.ResetReg.Address == 0 {
		return GenericAddress{}, 0, false
	}
	return f.ResetReg, f.ResetValue, true
}

// LegacyDevices tells whether the machine has legacy ISA/LPC devices. A
// revision 1 FADT has no IAPC_BOOT_ARCH, and an ACPI 1.0 PC has them.
func (f *FADT) LegacyDevices() bool {
	return f.Revision < 2 || f.IAPCBootArch&(1<<LEGACY_DEVICES) != 0
}

// Has8042 tells whether an 8042 keyboard controller is present; assumed for
// a revision 1 FADT, as Linux does.
func (f *FADT) Has8042() bool {
	return f.Revision < 2 || f.IAPCBootArch&(1<<IAPC_8042) != 0
}

// String summarises the FADT on one line.
func (f *FADT) String() string {
	tmr := f.PMTimer()
	a, b := f.PM1Control()
	s := fmt.Sprintf("FADT rev %d SCI %d PM_TMR %v (%d-bit) PM1a_CNT %v", f.Revision, f.SCIInterrupt, tmr, f.PMTimerWidth(), a)
	if b.Address != 0 {
		s += fmt.Sprintf(" PM1b_CNT %v", b)
	}
	if reg, v, ok := f.Reset(); ok {
		s += fmt.Sprintf(" RESET %v value %#x", reg, v)
	}
	return s + fmt.Sprintf(" DSDT %#x IAPC_BOOT_ARCH %#x flags %#x", f.DSDTAddress(), f.IAPCBootArch, f.Flags)
}
