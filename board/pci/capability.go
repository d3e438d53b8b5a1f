package pci

import (
	"errors"
	"fmt"
)

// Capabilities list (PCI Local Bus Specification 3.0, §6.7) and the MSI
// capability (§6.8.1).
const (
	STATUS_CAP_LIST  = 4    // Status bit 4: the function has a capabilities list
	CAP_PTR          = 0x34 // Capabilities Pointer (type 00h header)
	CMD_INTX_DISABLE = 10   // Command bit 10: INTx# emulation disabled (§6.2.2)

	CAP_ID_MSI = 0x05

	// MSI capability registers, offsets from the capability (§6.8.1.3-6).
	MSI_CONTROL    = 0x02
	MSI_ADDRESS    = 0x04
	MSI_ADDRESS_HI = 0x08 // 64-bit capable only
	MSI_DATA_32    = 0x08 // data of a 32-bit capability
	MSI_DATA_64    = 0x0c // data of a 64-bit capable one

	// Message Control bits (§6.8.1.3).
	MSI_CTRL_ENABLE = 0 // MSI Enable
	MSI_CTRL_MME    = 4 // Multiple Message Enable, bits 6:4
	MSI_CTRL_64BIT  = 7 // 64 bit address capable
	MSI_CTRL_PVM    = 8 // per-vector masking capable
)

// maxCapabilities bounds the walk of a capabilities list: 48 dwords of
// device-specific space hold at most 48 capabilities, so a longer list
// loops.
const maxCapabilities = 48

// Capability returns the offset of the function's first capability with
// ID id, walking the list from CAP_PTR (§6.7: each entry holds its ID and
// the next pointer, dword aligned, 0 ending the list). It reports false
// when the function has no list, no such capability, or a list that loops.
//
// Context: PASSIVE; does not allocate.
func (f *Function) Capability(c Config, id uint8) (uint8, bool) {
	if f.Read16(c, STATUS)&(1<<STATUS_CAP_LIST) == 0 {
		return 0, false
	}
	off := f.Read8(c, CAP_PTR) &^ 3
	for n := 0; off >= 0x40 && n < maxCapabilities; n++ {
		if f.Read8(c, off) == id {
			return off, true
		}
		off = f.Read8(c, off+1) &^ 3
	}
	return 0, false
}

// EnableMSI programs the function's MSI capability with one message,
// address and data, and enables it; INTx# is disabled at the same time
// (§6.8.1: a function with MSI enabled does not assert INTx#, and Command
// bit 10 says so to the rest of the system too). It returns whether the
// capability can mask the vector (per-vector masking).
//
// Context: PASSIVE, the function not interrupting yet; does not allocate.
func (f *Function) EnableMSI(c Config, address uint64, data uint16) (perVectorMask bool, err error) {
	off, ok := f.Capability(c, CAP_ID_MSI)
	if !ok {
		return false, errors.New("pci: " + f.id() + ": no MSI capability")
	}
	ctl := f.Read16(c, off+MSI_CONTROL)
	dataOff := uint8(MSI_DATA_32)
	if ctl&(1<<MSI_CTRL_64BIT) != 0 {
		f.Write32(c, off+MSI_ADDRESS_HI, uint32(address>>32))
		dataOff = MSI_DATA_64
	} else if address>>32 != 0 {
		return false, errors.New("pci: " + f.id() + ": MSI address above 4 GiB on a 32-bit capability")
	}
	f.Write32(c, off+MSI_ADDRESS, uint32(address))
	f.Write16(c, off+dataOff, data)
	ctl = ctl&^(7<<MSI_CTRL_MME) | 1<<MSI_CTRL_ENABLE
	f.Write16(c, off+MSI_CONTROL, ctl)
	f.Write16(c, COMMAND, f.Read16(c, COMMAND)|1<<CMD_INTX_DISABLE)
	if f.Read16(c, off+MSI_CONTROL)&(1<<MSI_CTRL_ENABLE) == 0 {
		return false, errors.New("pci: " + f.id() + ": MSI Enable does not read back set")
	}
	return ctl&(1<<MSI_CTRL_PVM) != 0, nil
}

// id names the function in messages: "00:1f.2".
func (f *Function) id() string {
	return fmt.Sprintf("%02x:%02x.%d", f.Bus, f.Dev, f.Fn)
}
