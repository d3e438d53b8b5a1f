package sff

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/ataport/firmware/miniport"
)

// Bus-master IDE registers, offsets from a channel's bus-master base
// (SFF-8038i rev 1.0, register definitions; Intel 82371FB/SB PIIX/PIIX3
// datasheet, "PCI Bus Master IDE Registers", whose names these are).
const (
	BMICX   = 0 // Bus Master IDE Command register, 8 bits
	BMISX   = 2 // Bus Master IDE Status register, 8 bits
	BMIDTPX = 4 // Bus Master IDE Descriptor Table Pointer register, 32 bits
)

// BMICX bits.
const (
	SSBM  = 1 << 0 // Start/Stop Bus Master: 1 starts, 0 stops (aborting a transfer in progress)
	RWCON = 1 << 3 // Bus Master Read/Write Control: 1 = the bus master writes memory (device to host)
)

// BMISX bits. IDEDMAERR and IDEINTS are cleared by writing 1; DMA0CAP and
// DMA1CAP are plain read/write bits the BIOS sets, to be written back
// unchanged.
const (
	BMIDEA    = 1 << 0 // Bus Master IDE Active: set by SSBM, cleared when the last PRD is done
	IDEDMAERR = 1 << 1 // IDE DMA Error: a PCI master or target abort during the transfer
	IDEINTS   = 1 << 2 // IDE Interrupt Status: the device's INTRQ rose (for any command, not only DMA)
	DMA0CAP   = 1 << 5 // Drive 0 DMA capable
	DMA1CAP   = 1 << 6 // Drive 1 DMA capable
)

// Physical Region Descriptor (SFF-8038i, Physical Region Descriptor): two little-endian doublewords,
// the region's physical base address (bit 0 zero) and its byte count in
// bits 15:0 (0 meaning 64 KiB, bit 0 zero) with End Of Table in bit 31.
const (
	PRDEntrySize = 8
	PRD_EOT      = 1 << 31
	PRDAlign     = 2       // a region's base address and byte count are even
	PRDAddrLimit = 1 << 32 // PRD base addresses are 32 bits
	prdRegion    = 0x10000 // most bytes of one PRD, and the boundary none may cross
)

// PRDTableLayout returns the size and alignment of a PRD table of entries
// descriptors: SFF-8038i requires the table to be doubleword aligned and
// not to cross a 64 KiB boundary, which an alignment to its own size (a
// power of two up to 64 KiB) guarantees.
func PRDTableLayout(entries int) (size, align int) {
	size = entries * PRDEntrySize
	align = 4
	for align < size {
		align <<= 1
	}
	return size, align
}

// FillPRD writes the PRD table describing sg into table and returns the
// number of descriptors (libata ata_bmdma_fill_sg). Each region is split
// so that no descriptor crosses a 64 KiB boundary, which also keeps each
// within the 64 KiB a descriptor can count: SFF-8038i, Physical Region Descriptor ("the memory
// region ... cannot cross a 64K boundary"), repeated for Intel's parts by
// ICH2 specification clarification #20, "IDE PRD must not cross a 64K
// boundary and must be dword aligned", in the errata list of ata_piix.c.
// The last descriptor carries EOT.
//
// Context: any IRQL; does not block or allocate. Returns an error, naming
// the segment, for an odd address or length, an address beyond 32 bits,
// an empty list, or a table too small.
func FillPRD(table []byte, sg []miniport.Segment) (int, error) {
	if len(sg) == 0 {
		return 0, errors.New("sff: PRD table for an empty scatter/gather list")
	}
	n := 0
	for i, s := range sg {
		addr, left := s.Addr, uint64(s.Length)
		if left == 0 || addr%PRDAlign != 0 || left%PRDAlign != 0 {
			return 0, errors.New("sff: scatter/gather segment " + strconv.Itoa(i) +
				" at 0x" + strconv.FormatUint(addr, 16) + " length " + strconv.Itoa(s.Length) +
				": address and length must be even and the length nonzero")
		}
		if addr+left > PRDAddrLimit {
			return 0, errors.New("sff: scatter/gather segment " + strconv.Itoa(i) +
				" at 0x" + strconv.FormatUint(addr, 16) + " ends beyond 4 GiB, out of a PRD's reach")
		}
		for left > 0 {
			chunk := prdRegion - addr%prdRegion
			if chunk > left {
				chunk = left
			}
			off := n * PRDEntrySize
			if off+PRDEntrySize > len(table) {
				return 0, errors.New("sff: PRD table of " + strconv.Itoa(len(table)/PRDEntrySize) +
					" entries too small for the scatter/gather list")
			}
			binary.LittleEndian.PutUint32(table[off:], uint32(addr))
			binary.LittleEndian.PutUint32(table[off+4:], uint32(chunk&0xffff)) // 64 KiB is written as 0
			n++
			addr += chunk
			left -= chunk
		}
	}
	last := (n - 1) * PRDEntrySize
	binary.LittleEndian.PutUint32(table[last+4:], binary.LittleEndian.Uint32(table[last+4:])|PRD_EOT)
	return n, nil
}

// BMStatus reads BMISX.
//
// Context: any IRQL; does not block or allocate.
func (p *Ports) BMStatus() uint8 {
	return p.IO.In8(p.BM + BMISX)
}

// BMClear clears IDEINTS and IDEDMAERR in BMISX, writing back the
// DMA0CAP/DMA1CAP bits of st (a value just read) unchanged.
//
// Context: any IRQL; does not block or allocate.
func (p *Ports) BMClear(st uint8) {
	p.IO.Out8(p.BM+BMISX, st&(DMA0CAP|DMA1CAP)|IDEINTS|IDEDMAERR)
}

// BMSetup loads the PRD table address and the direction with the engine
// stopped (SFF-8038i programming sequence, step 2; libata
// ata_bmdma_setup): BMIDTPX may change only while SSBM is 0. toMemory is
// true for a device-to-host transfer.
//
// Context: any IRQL, the engine stopped; does not block or allocate.
func (p *Ports) BMSetup(prd uint32, toMemory bool) {
	p.IO.Out32(p.BM+BMIDTPX, prd)
	var cmd uint8
	if toMemory {
		cmd = RWCON
	}
	p.IO.Out8(p.BM+BMICX, cmd)
}

// BMStart sets SSBM, keeping RWCON (SFF-8038i programming sequence, step
// 4; libata ata_bmdma_start).
//
// Context: any IRQL, after BMSetup and the command; does not block or
// allocate.
func (p *Ports) BMStart() {
	p.IO.Out8(p.BM+BMICX, p.IO.In8(p.BM+BMICX)|SSBM)
}

// BMStop clears SSBM, keeping RWCON (SFF-8038i programming sequence, step
// 7; libata ata_bmdma_stop), then reads ALT STATUS once to let the stop
// settle (libata ata_sff_dma_pause).
//
// Context: any IRQL; does not block or allocate.
func (p *Ports) BMStop() {
	p.IO.Out8(p.BM+BMICX, p.IO.In8(p.BM+BMICX)&^SSBM)
	p.AltStatus()
}
