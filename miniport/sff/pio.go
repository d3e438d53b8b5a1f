package sff

import (
	"github.com/ataport/firmware/miniport"
)

// DataXfer moves one PIO data block between buf and the DATA register at
// port (the sff_data_xfer hook of libata); write is true for host to
// device. len(buf) is even.
//
// Context: the channel's DIRQL with its interrupt lock held, DRQ set; must
// not block or allocate.
type DataXfer func(io miniport.PortIO, port uint16, buf []byte, write bool)

// DataXfer16 moves the block as 16-bit words, rep insw / rep outsw (libata
// ata_sff_data_xfer): what every ATA host and device supports.
func DataXfer16(io miniport.PortIO, port uint16, buf []byte, write bool) {
	if write {
		io.OutsW(port, buf)
	} else {
		io.InsW(port, buf)
	}
}

// DataXfer32 moves the block as 32-bit doublewords, rep insl / rep outsl,
// with a trailing word, if any, moved as 16 bits (libata
// ata_sff_data_xfer32). Only hosts whose DATA port accepts doubleword
// accesses, which the host splits into two device words, may use it: the
// PIIX family does (libata's ata_bmdma32_port_ops, inherited by ata_piix).
func DataXfer32(io miniport.PortIO, port uint16, buf []byte, write bool) {
	n := len(buf) &^ 3
	if write {
		io.OutsL(port, buf[:n])
	} else {
		io.InsL(port, buf[:n])
	}
	if n < len(buf) {
		DataXfer16(io, port, buf[n:], write)
	}
}
