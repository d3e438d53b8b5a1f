package ata

import (
	"github.com/ataport/firmware/miniport"
)

// PIO transfers use READ MULTIPLE and WRITE MULTIPLE (ATA8-ACS 7.26, 7.61
// and their EXT forms) when the device takes them: their DRQ data blocks
// are the number of sectors SET MULTIPLE MODE set (ATA8-ACS 7.51), so the
// device interrupts once per block instead of once per sector, as libata
// does with its multi_count. Each interrupt costs a delivery, the entry,
// a safe point and an EOI, more than moving a sector through the DATA
// register under an emulator.

// multipleBlock returns the DRQ block, in sectors, to ask of a device
// whose IDENTIFY word 47 allows at most max: the largest power of two not
// above max and 128 (ATA8-ACS SET MULTIPLE MODE takes 1, 2, 4 ... 128),
// 0 when the device has no multiple mode.
func multipleBlock(max int) int {
	b := 0
	for n := 1; n <= max && n <= 128; n <<= 1 {
		b = n
	}
	return b
}

// setMultiple sends an ATA device SET MULTIPLE MODE for the largest DRQ
// block it allows and records the block its PIO commands then use; a
// device without the feature, or that refuses it, moves one sector per
// DRQ block with READ/WRITE SECTORS.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) setMultiple(d *Device) {
	d.multiple.Store(0)
	n := multipleBlock(d.ident.MultipleMax)
	if d.typ != miniport.DeviceATA || n == 0 {
		return
	}
	r := ch.ownRequest()
	r.reset(miniport.FunctionATA, d.target, ch.timeout)
	r.irb.TaskFile.Current = miniport.Registers{Count: uint8(n), Command: uint8(miniport.SET_MULTIPLE_MODE)}
	r.irb.Flags = miniport.FlagDRDYRequired
	ch.execInternal(r)
	if err := completionError(d.name, &r.irb, miniport.SET_MULTIPLE_MODE.String(), 0, 0, false, ch.timeout, ch.busyTimeout); err != nil {
		ch.log("%v; PIO moves one sector per interrupt", err)
		return
	}
	d.multiple.Store(int32(n))
}

// useMultiple turns a PIO read or write command into its READ/WRITE
// MULTIPLE counterpart when the device has a multiple block set.
func (c *rwCommand) useMultiple(on bool) {
	if !on || c.dma {
		return
	}
	switch c.cmd {
	case miniport.READ_SECTORS:
		c.cmd = miniport.READ_MULTIPLE
	case miniport.READ_SECTORS_EXT:
		c.cmd = miniport.READ_MULTIPLE_EXT
	case miniport.WRITE_SECTORS:
		c.cmd = miniport.WRITE_MULTIPLE
	case miniport.WRITE_SECTORS_EXT:
		c.cmd = miniport.WRITE_MULTIPLE_EXT
	}
}
