package ahci

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// fakeHBA models the registers of an AHCI 1.3.1 HBA for host tests, as
// QEMU's ICH9 presents them (CAP: 6 ports, 32 slots, NCQ, SSS clear, no
// S64A unless set; CAP2 0): GHC.HR resets at once, RWC registers clear the
// bits written, ST and FRE are mirrored in CR and FR, PxCI bits are set by
// writes and cleared by run. Disks are byte slices on ports; run executes
// the issued commands from the command list in fake DMA memory.
type fakeHBA struct {
	mem         *sfftest.Memory
	g           map[uint32]uint32
	p           [6]map[uint32]uint32
	disk        [6][]byte
	bad         map[uint64]bool // LBAs whose reads fail with UNC
	busy        bool            // the device keeps BSY after an error, until a COMRESET
	ncqLog      bool            // the device has the NCQ Command Error log; false: it aborts READ LOG EXT, as QEMU 7.2 does
	ncqErr      []byte          // the NCQ Command Error log page after an NCQ error, until it is read or a COMRESET; nil: no error
	runOnStall  bool            // a stall of the miniport runs port 1's issued commands, as time passing would
	log         []string
	issue       []string // PxSACT and PxCI writes, in order
	accesses    []string // with logAccesses: every register read and write the miniport made, in order
	logAccesses bool
	comresets   int
	now         time.Duration    // fake time, advanced by the miniport's stalls
	noPhyUntil  [6]time.Duration // PxSSTS.DET reads 1 until now reaches it: a drive slow to bring its link up
	busyUntil   [6]time.Duration // PxTFD reads BSY until now reaches it: a disk spinning up
}

func newFakeHBA(mem *sfftest.Memory, pi uint32) *fakeHBA {
	h := &fakeHBA{mem: mem, g: map[uint32]uint32{
		CAP: 1<<CAP_SNCQ | 1<<CAP_SAM | 1<<CAP_ISS | 31<<CAP_NCS | 5,
		PI:  pi, VS: 0x00010000,
	}, bad: map[uint64]bool{}}
	for i := range h.p {
		h.p[i] = map[uint32]uint32{PxTFD: 0x7f, PxSIG: 0xffffffff}
	}
	return h
}

// attach puts a disk of n sectors on port p: link up at Gen 1, the ATA
// signature.
func (h *fakeHBA) attach(p int, sectors int) {
	h.disk[p] = make([]byte, sectors*512)
	h.p[p][PxSSTS] = ipmActive<<PxSSTS_IPM | 1<<PxSSTS_SPD | detPresent
	h.p[p][PxSIG] = 0x00000101
	h.p[p][PxTFD] = 0x50
}

// regNames names the registers in the access log.
var regNames = map[uint32]string{IS: "IS", PxIS: "PxIS", PxIE: "PxIE", PxCMD: "PxCMD", PxTFD: "PxTFD", PxSIG: "PxSIG",
	PxSSTS: "PxSSTS", PxSERR: "PxSERR", PxSACT: "PxSACT", PxCI: "PxCI"}

// logAccess notes a register access of the miniport in accesses.
func (h *fakeHBA) logAccess(op string, off uint32) {
	if !h.logAccesses {
		return
	}
	name := regNames[off]
	if off >= portReg {
		name = regNames[(off-portReg)%portLen]
	}
	h.accesses = append(h.accesses, op+" "+name)
}

func (h *fakeHBA) Read32(off uint32) uint32 {
	h.logAccess("r", off)
	if off >= portReg {
		p, r := (off-portReg)/portLen, (off-portReg)%portLen
		switch {
		case r == PxSSTS && h.now < h.noPhyUntil[p]:
			return detNoPhy
		case r == PxTFD && h.now < h.busyUntil[p]:
			return miniport.BSY
		}
		return h.p[p][r]
	}
	return h.g[off]
}

func (h *fakeHBA) Write32(off uint32, v uint32) {
	h.logAccess("w", off)
	if off >= portReg {
		p, r := (off-portReg)/portLen, (off-portReg)%portLen
		h.writePort(int(p), r, v)
		return
	}
	switch off {
	case GHC:
		if v&(1<<GHC_HR) != 0 {
			h.log = append(h.log, "HBA reset")
			h.g[GHC] = h.g[GHC] & (1 << GHC_AE)
			h.g[IS] = 0
			return
		}
		h.g[GHC] = v
	case IS:
		h.g[IS] &^= v
	case BOHC:
		h.g[BOHC] = v
		if v&(1<<BOHC_OOS) != 0 {
			h.log = append(h.log, "OS ownership")
			h.g[BOHC] &^= 1 << BOHC_BOS
		}
	default:
		h.g[off] = v
	}
}

func (h *fakeHBA) writePort(p int, r, v uint32) {
	regs := h.p[p]
	switch r {
	case PxIS, PxSERR:
		regs[r] &^= v
	case PxCI:
		regs[PxCI] |= v
		h.issue = append(h.issue, fmt.Sprintf("CI %#x", v))
	case PxSACT:
		regs[PxSACT] |= v
		h.issue = append(h.issue, fmt.Sprintf("SACT %#x", v))
	case PxCMD:
		v &^= 1<<PxCMD_CR | 1<<PxCMD_FR
		if v&(1<<PxCMD_ST) != 0 {
			v |= 1 << PxCMD_CR
		}
		if v&(1<<PxCMD_FRE) != 0 {
			v |= 1 << PxCMD_FR
		}
		if regs[PxCMD]&(1<<PxCMD_ST) != 0 && v&(1<<PxCMD_ST) == 0 {
			regs[PxCI], regs[PxSACT] = 0, 0 // §3.3.14: clearing ST clears PxCI
		}
		regs[r] = v
	case PxSCTL:
		if regs[PxSCTL]&0xf == sctlDETComreset && v&0xf == 0 && h.disk[p] != nil {
			h.comresets++
			h.busy = false
			h.ncqErr = nil
			regs[PxIE] = 0 // as QEMU 7.2's ahci_reset_port does
			regs[PxTFD] = 0x50
			regs[PxSSTS] = ipmActive<<PxSSTS_IPM | 1<<PxSSTS_SPD | detPresent
		}
		regs[r] = v
	default:
		regs[r] = v
	}
}

// run executes the commands issued on port p, in slot order, as the HBA
// does: an H2D FIS from the command table, data through the PRD table,
// PRDBC updated, the D2H FIS copied to RFIS (an SDB FIS to SDBFIS for an
// NCQ command, a PIO Setup FIS to PSFIS for IDENTIFY DEVICE), PxIS.DHRS
// (SDBS) and IS set. A read of a bad LBA ends
// with TFES, STATUS DRDY|ERR, ERROR UNC, and the command list stops; a
// non-queued command stays in PxCI and PxCMD.CCS; a queued one leaves the
// NCQ Command Error log page (SATA 2.6 §13.6.3.3) naming its tag, and the
// device then aborts every command but READ LOG EXT until the page is
// read or a COMRESET, as SATA 2.6 §13.6.3.3 has it. Without ncqLog READ
// LOG EXT ends with ABRT.
func (h *fakeHBA) run(p int) {
	regs := h.p[p]
	le := binary.LittleEndian
	for s := 0; s < 32; s++ {
		if regs[PxCI]&(1<<s) == 0 || regs[PxCMD]&(1<<PxCMD_ST) == 0 || regs[PxIS]&(1<<PxIS_TFES) != 0 {
			continue
		}
		clb := uint64(regs[PxCLB]) | uint64(regs[PxCLBU])<<32
		hdr, _ := h.mem.Slice(clb+uint64(s)*cmdHeaderSize, cmdHeaderSize)
		dw0 := le.Uint32(hdr)
		ctba := uint64(le.Uint32(hdr[8:])) | uint64(le.Uint32(hdr[12:]))<<32
		prdtl := int(dw0 >> HDR_PRDTL)
		ct, _ := h.mem.Slice(ctba, PRDT+prdtl*prdEntrySize)
		fis := ct[CFIS:]
		cmd := miniport.Command(fis[2])
		lba := uint64(fis[4]) | uint64(fis[5])<<8 | uint64(fis[6])<<16 | uint64(fis[8])<<24 | uint64(fis[9])<<32 | uint64(fis[10])<<40
		count := int(fis[12]) | int(fis[13])<<8
		var data []byte
		status, errb := uint8(0x50), uint8(0)
		switch {
		case cmd == miniport.READ_LOG_EXT && fis[4] == LOG_NCQ_COMMAND_ERROR && h.ncqLog && count == 1:
			data = make([]byte, 512)
			copy(data, h.ncqErr)
			h.ncqErr = nil
			cmd = 0
		case cmd == miniport.READ_LOG_EXT || h.ncqErr != nil:
			status, errb = miniport.DRDY|miniport.ERR, miniport.ABRT
			cmd = 0
		}
		switch cmd {
		case miniport.IDENTIFY_DEVICE:
			data = make([]byte, 512)
			le.PutUint16(data[0:], 0x0040)
			le.PutUint16(data[98:], 1<<9)
			le.PutUint16(data[166:], 1<<10)
			le.PutUint64(data[200:], uint64(len(h.disk[p])/512))
		case miniport.READ_FPDMA_QUEUED, miniport.WRITE_FPDMA_QUEUED:
			if tag := int(fis[12] >> 3); tag != s || regs[PxSACT]&(1<<s) == 0 {
				panic(fmt.Sprintf("fake HBA: NCQ command in slot %d with tag %d, PxSACT %#x", s, tag, regs[PxSACT]))
			}
			count = int(fis[3]) | int(fis[11])<<8
			fallthrough
		case miniport.READ_DMA_EXT, miniport.WRITE_DMA_EXT:
			data = h.disk[p][lba*512 : (lba+uint64(count))*512]
			if cmd == miniport.READ_DMA_EXT || cmd == miniport.READ_FPDMA_QUEUED {
				for l := lba; l < lba+uint64(count); l++ {
					if h.bad[l] {
						status, errb = miniport.DRDY|miniport.ERR, miniport.UNC
						lba = l
						break
					}
				}
			}
		case miniport.FLUSH_CACHE_EXT:
		}
		moved := 0
		if status&miniport.ERR == 0 {
			for i := 0; i < prdtl; i++ {
				e := ct[PRDT+i*prdEntrySize:]
				n := int(le.Uint32(e[12:])&0x3fffff) + 1
				buf, _ := h.mem.Slice(uint64(le.Uint32(e)), n)
				if dw0&(1<<HDR_W) != 0 {
					copy(data[moved:], buf)
				} else {
					copy(buf, data[moved:])
				}
				moved += n
			}
		}
		le.PutUint32(hdr[4:], uint32(min(moved, len(data))))
		fb := uint64(regs[PxFB]) | uint64(regs[PxFBU])<<32
		ncq := cmd == miniport.READ_FPDMA_QUEUED || cmd == miniport.WRITE_FPDMA_QUEUED
		switch {
		case ncq:
			sdb, _ := h.mem.Slice(fb+SDBFIS, 8)
			sdb[0], sdb[2], sdb[3] = FIS_TYPE_SET_DEV_BITS, status&0x77, errb
		case cmd == miniport.IDENTIFY_DEVICE && status&miniport.ERR == 0:
			// PIO data-in: the PIO Setup FIS's E_Status ends it, and no
			// D2H Register FIS follows (SATA 2.6 §10.3.11).
			ps, _ := h.mem.Slice(fb+PSFIS, 20)
			ps[0], ps[2], ps[15] = FIS_TYPE_PIO_SETUP, status|miniport.DRQ, status
			ps[4], ps[5], ps[6], ps[7], ps[12] = 0, 0, 0, 0xa0, 1 // one DRQ block
		default:
			rfis, _ := h.mem.Slice(fb+RFIS, 20)
			rfis[0], rfis[2], rfis[3] = FIS_TYPE_REG_D2H, status, errb
			rfis[4], rfis[5], rfis[6], rfis[7] = uint8(lba), uint8(lba>>8), uint8(lba>>16), 0x40
			rfis[8], rfis[9], rfis[10] = uint8(lba>>24), uint8(lba>>32), uint8(lba>>40)
			rfis[12], rfis[13] = 0, 0
		}
		regs[PxTFD] = uint32(errb)<<8 | uint32(status)
		switch {
		case status&miniport.ERR != 0 && ncq:
			// §6.2.2.2: the command left PxCI when the device took it;
			// its PxSACT bit, and every other outstanding one, stay.
			regs[PxCI] &^= 1 << s
			regs[PxIS] |= 1 << PxIS_TFES
			page := make([]byte, 512)
			page[NCQLOG_TAG], page[NCQLOG_STATUS], page[NCQLOG_ERROR] = uint8(s), status, errb
			page[NCQLOG_LBA], page[NCQLOG_LBA+1], page[NCQLOG_LBA+2], page[NCQLOG_LBA+3] = uint8(lba), uint8(lba>>8), uint8(lba>>16), 0x40
			page[NCQLOG_LBA+4], page[NCQLOG_LBA+5], page[NCQLOG_LBA+6] = uint8(lba>>24), uint8(lba>>32), uint8(lba>>40)
			page[NCQLOG_COUNT] = uint8(count)
			var sum uint8
			for _, v := range page {
				sum += v
			}
			page[NCQLOG_CHECKSUM] = -sum
			h.ncqErr = page
		case status&miniport.ERR != 0:
			regs[PxIS] |= 1 << PxIS_TFES
			regs[PxCMD] = regs[PxCMD]&^(0x1f<<PxCMD_CCS) | uint32(s)<<PxCMD_CCS
			if h.busy {
				regs[PxTFD] |= miniport.BSY
			}
		case ncq:
			regs[PxCI] &^= 1 << s
			regs[PxSACT] &^= 1 << s
			regs[PxIS] |= 1 << PxIS_SDBS
		default:
			regs[PxCI] &^= 1 << s
			regs[PxIS] |= 1 << PxIS_DHRS
		}
		if regs[PxIS]&regs[PxIE] != 0 {
			h.g[IS] |= 1 << p
		}
	}
}
