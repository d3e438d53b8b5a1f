// Package sfftest fakes an SFF ATA channel for host tests: the command and
// control block registers of two devices, an SFF-8038i bus master doing
// DMA into fake physical memory, and the INTRQ line as edges. Every port
// access is recorded in order. It also offers IDENTIFY data built from a
// description, and a fake miniport.Port.
//
// The devices behave as ATA8-APT describes and as QEMU's IDE model does
// where the standard leaves room (hw/ide/core.c): a command completes as
// soon as it is written, IDEINTS latches every INTRQ, an absent device on
// a channel with a present one reads all zeros.
package sfftest

import (
	"encoding/binary"
)

// IdentifySpec describes the IDENTIFY data to build (ATA8-ACS IDENTIFY DEVICE and
// IDENTIFY PACKET DEVICE data words).
type IdentifySpec struct {
	ATAPI    bool
	Model    string // words 27-46
	Serial   string // words 10-19
	Firmware string // words 23-26

	Sectors28 uint32 // words 60-61
	Sectors48 uint64 // words 100-103
	LBA48     bool   // word 83 bit 10 (and word 86 bit 10)
	NoLBA     bool   // clear word 49 bit 9

	PIO3, PIO4 bool  // word 64 bits 0, 1 (word 53 bit 1 set)
	MWDMA      uint8 // word 63 bits 2:0
	UDMA       uint8 // word 88 bits 6:0 (word 53 bit 2 set)
	IORDY      bool  // word 49 bit 11

	WriteCache, WriteCacheEnabled bool // words 82, 85 bit 5
	Flush, FlushExt               bool // word 83 bits 12, 13

	LogicalSectorWords uint32 // words 117-118 with word 106 bit 12; 0: 512-byte sectors
	PacketDRQ          uint8  // ATAPI word 0 bits 6:5
	Checksum           bool   // word 255: signature A5h and checksum
	BadChecksum        bool   // with Checksum: store a wrong checksum
	MultipleMax        uint8  // word 47 bits 7:0
}

// BuildIdentify returns the 512 bytes of IDENTIFY data spec describes, as
// the device sends them: little-endian words, strings with the first
// character of each pair in the high byte.
func BuildIdentify(spec IdentifySpec) []byte {
	var w [256]uint16
	put := func(first, n int, s string) {
		b := make([]byte, 2*n)
		for i := range b {
			b[i] = ' '
		}
		copy(b, s)
		for i := 0; i < n; i++ {
			w[first+i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	if spec.ATAPI {
		w[0] = 0x8000 | 5<<8 | uint16(spec.PacketDRQ&3)<<5 // CD/DVD, 12-byte packets
	} else {
		w[0] = 0x0040 // fixed device
	}
	put(10, 10, spec.Serial)
	put(23, 4, spec.Firmware)
	put(27, 20, spec.Model)
	w[47] = 0x8000 | uint16(spec.MultipleMax)
	w[49] = 1 << 8 // DMA
	if !spec.NoLBA {
		w[49] |= 1 << 9
	}
	if spec.IORDY {
		w[49] |= 1 << 11
	}
	w[53] = 1<<1 | 1<<2
	w[60] = uint16(spec.Sectors28)
	w[61] = uint16(spec.Sectors28 >> 16)
	w[63] = uint16(spec.MWDMA & 7)
	if spec.PIO3 {
		w[64] |= 1
	}
	if spec.PIO4 {
		w[64] |= 3
	}
	w[80] = 0x00f0 // ATA/ATAPI-4 to -7
	w[83] = 0x4000
	if spec.WriteCache {
		w[82] |= 1 << 5
	}
	if spec.WriteCacheEnabled {
		w[85] |= 1 << 5
	}
	if spec.Flush {
		w[83] |= 1 << 12
	}
	if spec.FlushExt {
		w[83] |= 1 << 13
	}
	if spec.LBA48 {
		w[83] |= 1 << 10
		w[86] |= 1 << 10
		for i := 0; i < 4; i++ {
			w[100+i] = uint16(spec.Sectors48 >> (16 * i))
		}
	}
	w[88] = uint16(spec.UDMA & 0x7f)
	if spec.LogicalSectorWords != 0 {
		w[106] = 0x4000 | 1<<12
		w[117] = uint16(spec.LogicalSectorWords)
		w[118] = uint16(spec.LogicalSectorWords >> 16)
	}
	b := make([]byte, 512)
	for i, v := range w {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	if spec.Checksum {
		b[510] = 0xa5
		var sum uint8
		for _, v := range b[:511] {
			sum += v
		}
		b[511] = -sum
		if spec.BadChecksum {
			b[511]++
		}
	}
	return b
}
