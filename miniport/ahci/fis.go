package ahci

import (
	"encoding/binary"
	"errors"

	"github.com/ataport/firmware/miniport"
)

// System memory structures (AHCI 1.3.1 §4.2).
const (
	// Command list (§4.2.2): 32 command headers of 32 bytes, 1 KiB
	// aligned (PxCLB bits 9:0 are reserved).
	cmdListSize   = 32 * cmdHeaderSize
	cmdListAlign  = 1024
	cmdHeaderSize = 32

	// Received FIS area (§4.2.1): 256 bytes, 256-byte aligned, with the
	// PIO Setup FIS copied at PSFIS, the D2H Register FIS at RFIS and the
	// Set Device Bits FIS at SDBFIS.
	rfisSize   = 256
	rfisAlign  = 256
	PSFIS      = 0x20
	RFIS       = 0x40
	RFISLength = 20 // the D2H Register FIS (SATA 2.6 §10.3.5)
	SDBFIS     = 0x58

	// Command table (§4.2.3): the command FIS at CFIS, the ATAPI
	// command at ACMD, the PRD table at PRDT; 128-byte aligned (CTBA bits
	// 6:0 are reserved).
	CFIS          = 0x00
	ACMD          = 0x40
	PRDT          = 0x80
	cmdTableAlign = 128
	prdEntrySize  = 16

	// prdMax is the largest byte count of one PRD entry (§4.2.3.3, DBC
	// is 22 bits, the count minus one, bit 0 always one: 4 MiB).
	prdMax = 4 << 20

	// prdEntries is how many PRD entries each request's table holds:
	// the port hands one physically contiguous segment per request (its
	// bounce buffer, or the caller's identity-mapped memory), so eight
	// entries carry 32 MiB, the most one 48-bit command moves in
	// 512-byte sectors (65536 sectors).
	prdEntries = 8

	// extHeader is where, after the command table, each request's
	// extension keeps DW0 of the command header that BuildIo composed
	// for StartIo to copy into the slot it claims (msahci keeps its
	// command header in the SRB extension the same way).
	extHeader = PRDT + prdEntries*prdEntrySize
	extSize   = extHeader + 8

	// logData is where the page READ LOG EXT reads lands in the
	// channel's log buffer, after that command's table with its one PRD
	// entry.
	logData = PRDT + prdEntrySize
)

// Command header DW0 fields (§4.2.2).
const (
	HDR_PRDTL = 16 // physical region descriptor table length, bits 31:16
	HDR_C     = 10 // clear busy upon R_OK
	HDR_B     = 9  // BIST
	HDR_R     = 8  // reset
	HDR_P     = 7  // prefetchable
	HDR_W     = 6  // write: host to device
	HDR_A     = 5  // ATAPI: ACMD holds a command packet
	HDR_CFL   = 0  // command FIS length in DWORDs, bits 4:0
)

// PRD entry DW3 fields (§4.2.3.3).
const (
	PRD_I   = 31 // interrupt on completion
	PRD_DBC = 0  // data byte count - 1, bits 21:0, bit 0 always one
)

// FIS types and the H2D Register FIS layout (Serial ATA Revision 2.6,
// §10.3.1 FIS types, §10.3.4 Register - Host to Device).
const (
	FIS_TYPE_REG_H2D      = 0x27
	FIS_TYPE_REG_D2H      = 0x34
	FIS_TYPE_DMA_SETUP    = 0x41
	FIS_TYPE_PIO_SETUP    = 0x5f
	FIS_TYPE_SET_DEV_BITS = 0xa1

	fisH2DLength = 20 // bytes: CFL = 5 DWORDs
	fisH2D_C     = 7  // byte 1 bit 7: the FIS carries a command (not a Device Control update)
)

// READ LOG EXT of the NCQ Command Error log (ATA8-ACS §7.24 READ LOG EXT,
// its log address 10h in SATA 2.6 §13.6.3.3 "NCQ Command Error log"): one
// 512-byte page, PIO data-in, LBA Low the log address, COUNT the pages.
// The page's bytes 0-13 are laid out as a D2H Register FIS's 0-13 are,
// after the tag byte, so readD2H decodes them.
const (
	LOG_NCQ_COMMAND_ERROR = 0x10
	logPageSize           = 512

	NCQLOG_TAG      = 0   // NQ in bit 7, NCQ Tag in bits 4:0
	NCQLOG_NQ       = 7   // the error was of a non-queued command: no tag is named
	NCQLOG_STATUS   = 2   // STATUS of the failed command
	NCQLOG_ERROR    = 3   // ERROR of the failed command
	NCQLOG_LBA      = 4   // LBA 7:0, 15:8, 23:16 at 4-6, DEVICE at 7, LBA 31:24, 39:32, 47:40 at 8-10
	NCQLOG_COUNT    = 12  // COUNT 7:0, 15:8 at 12-13
	NCQLOG_CHECKSUM = 511 // the page's bytes sum to zero (ATA8-ACS data structure checksum)
	ncqlogTagMask   = 0x1f
)

// ncqLogTag returns the tag an NCQ Command Error log page names (SATA 2.6
// §13.6.3.3). It reports false for a page whose checksum does not add up
// and for one with NQ set (the last error was of a non-queued command).
func ncqLogTag(page []byte) (int, bool) {
	var sum uint8
	for _, b := range page[:logPageSize] {
		sum += b
	}
	return int(page[NCQLOG_TAG] & ncqlogTagMask), sum == 0 && page[NCQLOG_TAG]&(1<<NCQLOG_NQ) == 0
}

var (
	errPRDTooSmall = errors.New("PRD table too small for the segments")
	errPRDOdd      = errors.New("segment address or length odd (PRD DBA bit 0 and DBC bit 0 are reserved)")
	errPRDLimit    = errors.New("segment above 4 GiB on an HBA without 64-bit addressing (CAP.S64A)")
)

// buildH2D writes req's task file as a Register - Host to Device FIS with
// C set into cfis (SATA 2.6 §10.3.4): the current registers in the low
// bytes, the previous ones (48-bit commands) as LBA 31:24, 39:32, 47:40,
// FEATURES 15:8 and COUNT 15:8.
func buildH2D(cfis []byte, tf *miniport.TaskFile) {
	c, p := &tf.Current, &tf.Previous
	clear(cfis[:fisH2DLength])
	cfis[0] = FIS_TYPE_REG_H2D
	cfis[1] = 1 << fisH2D_C
	cfis[2] = c.Command
	cfis[3] = c.Features
	cfis[4] = c.LBALow
	cfis[5] = c.LBAMid
	cfis[6] = c.LBAHigh
	cfis[7] = c.Device
	cfis[8] = p.LBALow
	cfis[9] = p.LBAMid
	cfis[10] = p.LBAHigh
	cfis[11] = p.Features
	cfis[12] = c.Count
	cfis[13] = p.Count
}

// readD2H fills tf from a D2H Register FIS (SATA 2.6 §10.3.5), the copy the
// HBA keeps at RFIS: STATUS and ERROR land in Command and Features as
// they do when the task file of an SFF device is read back, the LBA and
// COUNT in both halves.
func readD2H(fis []byte, tf *miniport.TaskFile) {
	tf.Current = miniport.Registers{
		Command: fis[2], Features: fis[3],
		LBALow: fis[4], LBAMid: fis[5], LBAHigh: fis[6], Device: fis[7],
		Count: fis[12],
	}
	tf.Previous = miniport.Registers{
		LBALow: fis[8], LBAMid: fis[9], LBAHigh: fis[10], Count: fis[13],
	}
}

// fillPRD writes the PRD table for segs into prdt (§4.2.3.3): each segment
// split into entries of at most prdMax bytes, DBC holding the count minus
// one, the interrupt bit clear (the D2H FIS at the end interrupts). It
// returns the number of entries.
func fillPRD(prdt []byte, segs []miniport.Segment, s64a bool) (int, error) {
	n := 0
	le := binary.LittleEndian
	for _, s := range segs {
		if s.Addr&1 != 0 || s.Length&1 != 0 || s.Length <= 0 {
			return 0, errPRDOdd
		}
		if !s64a && s.Addr+uint64(s.Length) > 1<<32 {
			return 0, errPRDLimit
		}
		for addr, left := s.Addr, s.Length; left > 0; n++ {
			if (n+1)*prdEntrySize > len(prdt) {
				return 0, errPRDTooSmall
			}
			size := min(left, prdMax)
			e := prdt[n*prdEntrySize:]
			le.PutUint32(e[0:], uint32(addr))
			le.PutUint32(e[4:], uint32(addr>>32))
			le.PutUint32(e[8:], 0)
			le.PutUint32(e[12:], uint32(size-1)<<PRD_DBC)
			addr += uint64(size)
			left -= size
		}
	}
	return n, nil
}
