package ahci

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// target is what Initialize learnt about the port's device.
type target struct {
	atapi      bool
	packetSize int
	flushExt   bool
	ncqDepth   int // tags the device takes (IDENTIFY word 75) when it and the HBA do NCQ; 0: none
}

// Channel is one AHCI port driven as an ataport channel; it implements
// miniport.Channel.
type Channel struct {
	ctl   *Controller
	p     int    // port number
	base  uint32 // offset of the port's registers
	regs  Regs
	port  miniport.Port
	stall func(time.Duration)
	clb   miniport.DMABuffer // command list (§4.2.2)
	rfis  miniport.DMABuffer // received FIS area (§4.2.1)
	log   miniport.DMABuffer // READ LOG EXT's command table, then at logData the page it reads
	s64a  bool
	mask  uint32 // the slots the HBA implements (CAP.NCS)
	dev   target // written by Initialize with nothing in flight

	// Shared with the ISR: read and written only at the channel's DIRQL
	// holding its interrupt lock (StartIo, Interrupt, Pending, Reset and
	// synchronized routines).
	issued uint32                // slots set in PxCI by StartIo and not completed yet
	queued uint32                // the issued slots that hold NCQ commands (also set in PxSACT)
	slot   [32]*miniport.Request // the request of each issued slot
	fatal  uint32                // PxIS fatal bits the ISR left to recoverSync; 0: none
	ie     uint32                // PxIE as HwControl(IdeStart) set it, restored after a COMRESET
	link   bool                  // PxSSTS.DET showed a device at the last look (linkUp)

	maxActive atomic.Int32 // the most NCQ commands PxSACT showed the ISR at once
	maxIssued atomic.Int32 // the most slots issued at once

	// Callbacks given to the port, made once: a method value allocates.
	recoverFn     miniport.TimerRoutine
	recoverSyncFn miniport.SynchronizedRoutine
}

var _ miniport.Channel = (*Channel)(nil)

// ChannelInit sets up port ch (AtaChannelInitRoutine; AHCI 1.3.1 §10.1.2
// steps 5-7 and §10.3.1):
//
//  1. reserve the command list, the received FIS area, and the command
//     table and page of the READ LOG EXT that an NCQ error recovery
//     issues (reserved now: the recovery runs at DIRQL);
//  2. write PxCLB/PxCLBU and PxFB/PxFBU (the port is idle since the
//     controller start), clear PxSERR, set PxCMD.FRE so that the device's
//     FISes (its signature first) land in the received FIS area;
//  3. wait for the device to show neither BSY nor DRQ in PxTFD, up to
//     10 s for a disk still spinning up, then set PxCMD.ST.
//
// Interrupts stay disabled in PxIE until HwControl(IdeStart).
//
// Context: PASSIVE, IF=1, the channel's interrupt not connected; may block
// and allocate.
func (c *Controller) ChannelInit(ch int, port miniport.Port) (miniport.Channel, miniport.ChannelInfo, error) {
	kernel.AssertLevel("ahci.ChannelInit", kernel.PASSIVE, kernel.PASSIVE)
	if c.ChannelEnabled(ch) != miniport.ChannelEnabled {
		return nil, miniport.ChannelInfo{}, fmt.Errorf("ahci: port %d is not implemented or has no link", ch)
	}
	pc := &Channel{
		ctl: c, p: ch, base: portBase(ch), regs: c.regs, port: port, stall: c.stall,
		s64a: c.cap&(1<<CAP_S64A) != 0,
		mask: uint32(1<<c.slots - 1),
	}
	pc.recoverFn = pc.recover
	pc.recoverSyncFn = pc.recoverSync
	// 1.
	var err error
	if pc.clb, err = port.AllocateCommonBuffer(cmdListSize, cmdListAlign); err != nil {
		return nil, miniport.ChannelInfo{}, fmt.Errorf("ahci: port %d: command list: %w", ch, err)
	}
	if pc.rfis, err = port.AllocateCommonBuffer(rfisSize, rfisAlign); err != nil {
		return nil, miniport.ChannelInfo{}, fmt.Errorf("ahci: port %d: received FIS area: %w", ch, err)
	}
	if pc.log, err = port.AllocateCommonBuffer(logData+logPageSize, cmdTableAlign); err != nil {
		return nil, miniport.ChannelInfo{}, fmt.Errorf("ahci: port %d: READ LOG EXT buffer: %w", ch, err)
	}
	if !pc.s64a && (pc.clb.Addr+cmdListSize > 1<<32 || pc.rfis.Addr+rfisSize > 1<<32 || pc.log.Addr+logData+logPageSize > 1<<32) {
		return nil, miniport.ChannelInfo{}, fmt.Errorf("ahci: port %d: DMA memory above 4 GiB on an HBA without CAP.S64A", ch)
	}
	// 2.
	r, b := c.regs, pc.base
	r.Write32(b+PxCLB, uint32(pc.clb.Addr))
	r.Write32(b+PxCLBU, uint32(pc.clb.Addr>>32))
	r.Write32(b+PxFB, uint32(pc.rfis.Addr))
	r.Write32(b+PxFBU, uint32(pc.rfis.Addr>>32))
	r.Write32(b+PxSERR, 0xffffffff)
	r.Write32(b+PxIE, 0)
	r.Write32(b+PxCMD, r.Read32(b+PxCMD)|1<<PxCMD_FRE)
	// 3.
	if err := pc.start(spinUpWait); err != nil {
		return nil, miniport.ChannelInfo{}, err
	}
	c.ch[ch] = pc
	info := miniport.ChannelInfo{
		DMA:          true,
		MaxTransfer:  prdEntries * prdMax,
		DMAAlignment: 2, // §4.2.3.3: DBA bit 0 and DBC bit 0 are reserved
		QueueDepth:   c.slots,
		PIOByDMA:     true, // §4.2.3.3: PIO data moves through the PRD table too
	}
	if !pc.s64a {
		info.DMALimit = 1 << 32
	}
	return pc, info, nil
}

// errNotReady is start's answer when the device keeps BSY or DRQ.
var errNotReady = errors.New("device busy (PxTFD BSY or DRQ) after the link came up")

// start sets PxCMD.ST once the device shows neither BSY nor DRQ (§10.3.1:
// software sets ST only with FRE set and the task file idle); waiting at
// most wait: spinUpWait for the first start, readyTimeout after a COMRESET.
//
// Context: PASSIVE, or the channel's DIRQL with the interrupt masked; does
// not block or allocate; stalls at most wait.
func (c *Channel) start(wait time.Duration) error {
	r, b := c.regs, c.base
	ready := waitFor(c.stall, wait, func() bool {
		return r.Read32(b+PxTFD)&(miniport.BSY|miniport.DRQ) == 0
	})
	if !ready {
		return fmt.Errorf("ahci: port %d: %w (PxTFD 0x%x)", c.p, errNotReady, r.Read32(b+PxTFD))
	}
	r.Write32(b+PxCMD, r.Read32(b+PxCMD)|1<<PxCMD_FRE|1<<PxCMD_ST)
	return nil
}

// linkUp reads PxSSTS.DET into the channel's view of the link (§3.3.10),
// which StartIo answers from without reading the register: the view is
// taken when the port's interrupts are enabled (HwControl(IdeStart), which
// the port calls before any request), after each COMRESET, and when the ISR
// sees a link change (PxIS.PCS or PRCS, which PxIE enables; an event that
// arrives while the interrupt is masked stays in PxIS and is taken at
// unmask). It reports the link.
//
// Context: PASSIVE before the port's interrupts are enabled in PxIE, or
// the channel's DIRQL holding its interrupt lock; does not block or
// allocate.
func (c *Channel) linkUp() bool {
	c.link = c.regs.Read32(c.base+PxSSTS)&sstsDETMask == detPresent
	return c.link
}

// assertSynchronized is the entry check of the routines that run at the
// channel's DIRQL holding its interrupt lock.
//
// Context: the channel's DIRQL, lock held; does not block or allocate
// unless it panics.
func (c *Channel) assertSynchronized(routine string) {
	kernel.AssertLevel(routine, kernel.DIRQLMin, kernel.DIRQLMax)
	if !c.port.InterruptLockHeld() {
		kernel.Bugcheck("ahci: " + routine + " on " + c.port.Name() + " without the channel interrupt lock")
	}
}

// Initialize records what the miniport needs of the port's device
// (IdeHwInitialize): ATAPI or not, its packet size and its flush command.
//
// Context: PASSIVE, IF=1, line unmasked, no lock held, no request of this
// device in flight; may block.
func (c *Channel) Initialize(dev *miniport.DeviceParameters) error {
	kernel.AssertLevel("ahci.Initialize", kernel.PASSIVE, kernel.PASSIVE)
	if dev.Target != 0 || dev.Identify == nil {
		return errors.New("ahci: Initialize of " + c.port.Name() + ": an AHCI port has target 0 only, with IDENTIFY data")
	}
	c.dev = target{
		atapi:      dev.Type == miniport.DeviceATAPI,
		packetSize: dev.Identify.PacketSize,
		flushExt:   dev.Identify.FlushCacheExt && dev.Identify.LBA48,
	}
	if dev.Identify.NCQ && c.ctl.cap&(1<<CAP_SNCQ) != 0 {
		c.dev.ncqDepth = min(dev.Identify.NCQDepth, c.ctl.slots)
	}
	return nil
}

// invalid completes req in BuildIo or StartIo with status s.
func invalid(req *miniport.Request, s miniport.Status) bool {
	req.Status = s
	return false
}

// BuildIo prepares req in its extension, its command table (IdeHwBuildIo;
// §4.2.3, §5.5.1 steps 1-2 of "Software Manipulation"):
//
//  1. check the request: target 0 only, one direction that agrees with
//     the data;
//  2. complete the task file for a flush (FLUSH CACHE EXT when the device
//     has it) or a PACKET command, and copy the command packet into ACMD;
//  3. write the PRD table from the port's scatter/gather list; every data
//     transfer goes through it, PIO protocols included (the HBA moves the
//     PIO data itself);
//  4. write the command FIS (Register H2D, SATA 2.6 §10.3.4) into CFIS;
//  5. compose DW0 of the command header (CFL, ATAPI, write, PRDTL) into
//     the extension, for StartIo to copy into the slot it claims.
//
// It touches no register and nothing the ISR reads.
//
// Context: PASSIVE or DISPATCH, IF=1, line unmasked, no lock held, not
// synchronized with Interrupt; must not block or allocate.
func (c *Channel) BuildIo(req *miniport.Request) bool {
	kernel.AssertLevel("ahci.BuildIo", kernel.PASSIVE, kernel.DISPATCH)
	// 1.
	if req.Function == miniport.FunctionMiniport {
		if req.Miniport != miniport.MiniportProbe {
			return invalid(req, miniport.StatusInvalidRequest)
		}
		return true // StartIo answers from PxSIG and PxTFD
	}
	if req.Target != 0 {
		return invalid(req, miniport.StatusSelectionTimeout)
	}
	dir, ok := req.DataDirection()
	if !ok || len(req.Extension.Buf) < extSize || req.Extension.Addr&(cmdTableAlign-1) != 0 {
		return invalid(req, miniport.StatusInvalidRequest)
	}
	ct := req.Extension.Buf
	var hdr uint32 = fisH2DLength / 4 << HDR_CFL
	// 2.
	switch req.Function {
	case miniport.FunctionFlush:
		if c.dev.atapi || dir != 0 {
			return invalid(req, miniport.StatusInvalidRequest)
		}
		req.SetFlush(c.dev.flushExt)
	case miniport.FunctionATA:
		if req.Flags&miniport.FlagQueued != 0 && !c.queue(req) {
			return invalid(req, miniport.StatusInvalidRequest)
		}
	case miniport.FunctionATAPI:
		if !req.PacketValid(c.dev.packetSize) {
			return invalid(req, miniport.StatusInvalidRequest)
		}
		req.SetPacket()
		clear(ct[ACMD : ACMD+16])
		copy(ct[ACMD:], req.Cdb[:req.CdbLength])
		hdr |= 1 << HDR_A
	default:
		return invalid(req, miniport.StatusInvalidRequest)
	}
	// 3.
	n := 0
	if dir != 0 {
		segs := c.port.ScatterGather(req)
		total := 0
		for _, s := range segs {
			total += s.Length
		}
		if total < len(req.Data) {
			// The HBA moves every byte, PIO included, through the PRD
			// table: data without segments to cover it cannot move.
			return invalid(req, miniport.StatusInvalidRequest)
		}
		var err error
		if n, err = fillPRD(ct[PRDT:extHeader], segs, c.s64a); err != nil {
			return invalid(req, miniport.StatusInvalidRequest)
		}
	}
	if dir == miniport.FlagDataOut {
		hdr |= 1 << HDR_W
	}
	hdr |= uint32(n) << HDR_PRDTL
	// 4.
	buildH2D(ct[CFIS:], &req.TaskFile)
	// 5.
	binary.LittleEndian.PutUint32(ct[extHeader:], hdr)
	return true
}

// queue turns req, a READ or WRITE DMA EXT with FlagQueued, into READ or
// WRITE FPDMA QUEUED (SATA 2.6 §13.6.4.1, §13.6.5.1): the sector count
// moves to FEATURES 15:0, COUNT 7:3 will hold the tag (StartIo writes it
// into the FIS once it has picked the slot), DEVICE bit 6 is set as the
// command requires, FUA and the priority stay zero. A request already
// turned is left as it is: the port builds a request again when a channel
// reset sent it back to its queue (ata/completion.go retire), and the
// error line names the command the device got. It reports false when the
// device does no NCQ or req is not such a command.
//
// Context: BuildIo's.
func (c *Channel) queue(req *miniport.Request) bool {
	if c.dev.ncqDepth == 0 || req.Flags&(miniport.FlagDMA|miniport.Flag48Bit) != miniport.FlagDMA|miniport.Flag48Bit {
		return false
	}
	tf := &req.TaskFile
	var cmd miniport.Command
	switch miniport.Command(tf.Current.Command) {
	case miniport.READ_DMA_EXT:
		cmd = miniport.READ_FPDMA_QUEUED
	case miniport.WRITE_DMA_EXT:
		cmd = miniport.WRITE_FPDMA_QUEUED
	case miniport.READ_FPDMA_QUEUED, miniport.WRITE_FPDMA_QUEUED:
		return true
	default:
		return false
	}
	tf.Current.Features, tf.Previous.Features = tf.Current.Count, tf.Previous.Count
	tf.Current.Count, tf.Previous.Count = 0, 0
	tf.Current.Device = miniport.DeviceLBA
	tf.Current.Command = uint8(cmd)
	return true
}

// StartIo issues req (IdeHwStartIo; §5.5.1 steps 3-5):
//
//  1. a probe is answered from the port's registers: StatusSelectionTimeout
//     without a device on the link (PxSSTS.DET), else the signature the
//     device sent (PxSIG, §3.3.9) in the task file and PxTFD's STATUS;
//     any other request is answered StatusSelectionTimeout when the
//     channel's view of the link (linkUp) has no device;
//  2. while a fatal error waits for its recovery, with nothing issued and
//     the device showing BSY or DRQ in PxTFD (read only then: with
//     commands issued the device is busy with them), or when req would
//     mix queued and non-queued commands on the device (SATA 2.6 §13.6.1:
//     a non-queued command while queued ones are outstanding aborts them
//     all), answer StatusBusy;
//  3. claim the lowest slot free in PxCI and PxSACT, below the device's
//     queue depth for an NCQ command, or answer StatusBusy when none is.
//     The channel's record of issued slots tells without reading the
//     registers (two MMIO reads that leave TCG's translated code on every
//     request): only StartIo sets a bit in PxCI or PxSACT, always with the
//     slot's bit in the record, and a bit leaves the record only once the
//     ISR or the recovery saw the slot clear in both (completeDone) or
//     the port stopped (PxCMD.ST clear empties both, §3.3.7);
//  4. copy the command header into the slot: DW0 from BuildIo, PRDBC
//     zero, CTBA the extension's address; an NCQ command gets the slot as
//     its tag in the FIS;
//  5. for NCQ set the slot's bit in PxSACT first (§3.3.13: software sets
//     PxSACT before PxCI), then in PxCI.
//
// With commands issued, a request so reaches the HBA with the one or two
// MMIO writes of step 5 and no read, as libahci's ahci_qc_issue: under an
// emulator each access leaves the translated code and may wait for the
// device model's lock.
//
// Context: the channel's DIRQL, IF=1, line unmasked, channel interrupt lock
// held; must not block or allocate.
func (c *Channel) StartIo(req *miniport.Request) bool {
	c.assertSynchronized("ahci.StartIo")
	r, b := c.regs, c.base
	if req.Target != 0 {
		return invalid(req, miniport.StatusSelectionTimeout)
	}
	// 1.
	if req.Function == miniport.FunctionMiniport {
		if !c.linkUp() {
			return invalid(req, miniport.StatusSelectionTimeout)
		}
		tfd := r.Read32(b + PxTFD)
		req.AtaStatus = uint8(tfd)
		if tfd&miniport.BSY != 0 {
			return invalid(req, miniport.StatusBusy)
		}
		sig := r.Read32(b + PxSIG)
		req.TaskFile.Current = miniport.Registers{
			Count: uint8(sig), LBALow: uint8(sig >> 8), LBAMid: uint8(sig >> 16), LBAHigh: uint8(sig >> 24),
			Command: uint8(tfd),
		}
		req.Status = miniport.StatusSuccess
		c.port.Complete(req)
		return true
	}
	if !c.link {
		return invalid(req, miniport.StatusSelectionTimeout)
	}
	// 2.
	queued := req.Flags&miniport.FlagQueued != 0
	if c.fatal != 0 || queued && c.issued&^c.queued != 0 || !queued && c.queued != 0 {
		return invalid(req, miniport.StatusBusy)
	}
	if c.issued == 0 {
		tfd := r.Read32(b + PxTFD)
		req.AtaStatus = uint8(tfd)
		if tfd&(miniport.BSY|miniport.DRQ) != 0 {
			return invalid(req, miniport.StatusBusy)
		}
	}
	// 3.
	free := c.mask &^ c.issued
	if queued {
		free &= uint32(1<<c.dev.ncqDepth - 1)
	}
	if free == 0 {
		return invalid(req, miniport.StatusBusy)
	}
	s := bits.TrailingZeros32(free)
	// 4.
	h := c.clb.Buf[s*cmdHeaderSize : (s+1)*cmdHeaderSize]
	le := binary.LittleEndian
	le.PutUint32(h[0:], le.Uint32(req.Extension.Buf[extHeader:]))
	le.PutUint32(h[4:], 0)
	le.PutUint32(h[8:], uint32(req.Extension.Addr))
	le.PutUint32(h[12:], uint32(req.Extension.Addr>>32))
	clear(h[16:])
	c.issued |= 1 << s
	c.slot[s] = req
	req.Transferred = 0
	if n := int32(bits.OnesCount32(c.issued)); n > c.maxIssued.Load() {
		c.maxIssued.Store(n)
	}
	// 5.
	if queued {
		req.Extension.Buf[CFIS+12] = uint8(s) << 3
		c.queued |= 1 << s
		r.Write32(b+PxSACT, 1<<s)
	}
	r.Write32(b+PxCI, 1<<s)
	return true
}

// Interrupt services the port's interrupt (IdeHwInterrupt; §10.7.2
// "Software interrupt service", §5.5.3 "Processing completed commands"):
//
//  1. read PxIS; without a bit set the interrupt is not this port's;
//  2. clear PxIS with the bits read, then the port's bit in IS (IS last:
//     it stays set while an enabled PxIS bit does);
//  3. on a fatal error (TFES, HBFS, HBDS, IFS) or an overflow (OFS),
//     leave the slots alone and have recoverSync run, from a timer
//     routine, with the interrupt masked: the command list has stopped
//     and the recovery's waits do not belong in an ISR;
//  4. otherwise complete exactly the issued slots that left PxCI and
//     PxSACT (an NCQ command leaves PxCI when the device accepts it and
//     PxSACT when its Set Device Bits FIS reports it done, §5.6.4). Since
//     StartIo never mixes them, the issued commands are all queued or all
//     not: PxSACT alone tells which queued ones are done (StartIo set
//     their bits in it before PxCI), PxCI alone which non-queued ones, as
//     libahci's ahci_handle_port_interrupt reads one or the other; with
//     nothing issued neither is read. Their STATUS comes from the
//     received FIS area in memory (fisStatus), not from PxTFD.
//
// A link change (PCS, PRCS) also refreshes the channel's view of the link
// (linkUp).
//
// Context: the channel's DIRQL, IF=1, the vector in service, channel
// interrupt lock held; must not block or allocate.
func (c *Channel) Interrupt() bool {
	c.assertSynchronized("ahci.Interrupt")
	r, b := c.regs, c.base
	// 1.
	is := r.Read32(b + PxIS)
	if is == 0 {
		return false
	}
	// 2.
	r.Write32(b+PxIS, is)
	r.Write32(IS, 1<<c.p)
	if is&(1<<PxIS_PCS|1<<PxIS_PRCS) != 0 {
		r.Write32(b+PxSERR, 0xffffffff) // PCS stays set until SERR.DIAG.X is cleared (§3.3.5)
		c.linkUp()
	}
	// 3.
	if is&(pxisFatal|1<<PxIS_OFS) != 0 {
		if c.fatal == 0 {
			c.port.RequestTimer(c.recoverFn, 0)
		}
		c.fatal |= is
		return true
	}
	// 4.
	switch {
	case c.fatal != 0 || c.issued == 0:
	case c.queued != 0:
		sact := r.Read32(b + PxSACT)
		if n := int32(bits.OnesCount32(sact)); n > c.maxActive.Load() {
			c.maxActive.Store(n)
		}
		c.completeDone(sact)
	default:
		c.completeDone(r.Read32(b + PxCI))
	}
	return true
}

// completeDone completes, with success, the issued slots that are not set
// in ci.
//
// Context: the channel's DIRQL with its interrupt lock held; does not
// block or allocate.
func (c *Channel) completeDone(ci uint32) {
	done := c.issued &^ ci
	for done != 0 {
		s := bits.TrailingZeros32(done)
		done &^= 1 << s
		req := c.slot[s]
		req.AtaStatus = c.fisStatus(s, req)
		req.Status = miniport.StatusSuccess
		c.finish(s, req)
	}
}

// endingFIS is the offset in the received FIS area of the FIS that ended a
// command like req in slot s, as libahci's ahci_qc_fill_rtf and
// ahci_qc_ncq_fill_rtf choose it: an NCQ command ends with a Set Device
// Bits FIS (SATA 2.6 §10.3.6), a PIO data-in command with the PIO Setup
// FIS, whose E_Status is the ending STATUS (§10.3.11: the device sends no
// D2H Register FIS after it), any other with a D2H Register FIS
// (§10.3.5). Only the last FIS of each type is kept, so the D2H FIS area
// holds an earlier command's after the first two.
//
// Context: the channel's DIRQL with its interrupt lock held; does not
// block or allocate.
func (c *Channel) endingFIS(s int, req *miniport.Request) int {
	switch {
	case c.queued&(1<<s) != 0:
		return SDBFIS
	case req.Flags&(miniport.FlagDataIn|miniport.FlagDMA) == miniport.FlagDataIn:
		return PSFIS
	default:
		return RFIS
	}
}

// fisStatus is the STATUS the device last reported for a request like req
// in slot s, read from the FIS that ended it (endingFIS) rather than from
// PxTFD, an MMIO read per interrupt; the Set Device Bits FIS carries
// STATUS bits 6:4 and 2:0 (BSY and DRQ are zero). On success every
// command completing here reported no error.
//
// Context: the channel's DIRQL with its interrupt lock held; does not
// block or allocate.
func (c *Channel) fisStatus(s int, req *miniport.Request) uint8 {
	f := c.rfis.Buf
	switch o := c.endingFIS(s, req); o {
	case SDBFIS:
		return f[SDBFIS+2] & 0x77
	case PSFIS:
		return f[PSFIS+15]
	default:
		return f[o+2]
	}
}

// fisTaskFile fills tf from the FIS that ended a command like req in slot
// s (endingFIS): the Set Device Bits FIS carries only STATUS and ERROR,
// the PIO Setup FIS the registers as a D2H Register FIS lays them out,
// with its E_Status as the ending STATUS.
//
// Context: the channel's DIRQL with its interrupt lock held; does not
// block or allocate.
func (c *Channel) fisTaskFile(s int, req *miniport.Request, tf *miniport.TaskFile) {
	f := c.rfis.Buf
	switch o := c.endingFIS(s, req); o {
	case SDBFIS:
		*tf = miniport.TaskFile{Current: miniport.Registers{Command: f[SDBFIS+2] & 0x77, Features: f[SDBFIS+3]}}
	case PSFIS:
		readD2H(f[PSFIS:], tf)
		tf.Current.Command = f[PSFIS+15]
	default:
		readD2H(f[o:], tf)
	}
}

// finish takes slot s out of the record, fills in what the HBA reports
// of its request (PRDBC, and the task file of the FIS that ended it when
// asked for and the recovery did not fill it in) and completes it.
//
// Context: the channel's DIRQL with its interrupt lock held; does not
// block or allocate.
func (c *Channel) finish(s int, req *miniport.Request) {
	req.Transferred = int(binary.LittleEndian.Uint32(c.clb.Buf[s*cmdHeaderSize+4:]))
	if !req.TaskFileReturned && req.Flags&miniport.FlagReturnTaskFile != 0 {
		c.fisTaskFile(s, req, &req.TaskFile)
		req.TaskFileReturned = true
	}
	c.issued &^= 1 << s
	c.queued &^= 1 << s
	c.slot[s] = nil
	c.port.Complete(req)
}

// QueueStats returns the most slots ever issued at once and the most NCQ
// commands the ISR ever saw outstanding in PxSACT.
//
// Context: any IRQL; does not block or allocate.
func (c *Channel) QueueStats() (issued, active int) {
	return int(c.maxIssued.Load()), int(c.maxActive.Load())
}

// Pending reports whether the port has an interrupt Interrupt has not
// serviced: an enabled bit set in PxIS, which holds every event whatever
// the mask (the port's lost-interrupt check).
//
// Context: the channel's DIRQL, IF=1, channel interrupt lock held; does not
// block or allocate, and leaves the HBA's state alone.
func (c *Channel) Pending() bool {
	c.assertSynchronized("ahci.Pending")
	return c.regs.Read32(c.base+PxIS)&c.ie != 0
}

// Control handles IdeHwControl. IdeStart enables the port's interrupts
// (PxIE, §3.3.6) and the HBA's (GHC.IE), once the port has connected the
// interrupt; the other actions are not supported.
//
// Context: PASSIVE, IF=1, line unmasked, no request in flight; may block.
func (c *Channel) Control(action miniport.ControlAction) error {
	kernel.AssertLevel("ahci.Control", kernel.PASSIVE, kernel.PASSIVE)
	if action != miniport.ControlStart {
		return errors.New("ahci: " + action.String() + " is not supported on " + c.port.Name())
	}
	r, b := c.regs, c.base
	r.Write32(b+PxIS, 0xffffffff)
	r.Write32(IS, 1<<c.p)
	// The first view of the link: a change before this read was just
	// cleared from PxIS, one after it stays there for the ISR.
	c.linkUp()
	c.ie = pxieEnabled
	r.Write32(b+PxIE, c.ie)
	if !c.ctl.SetInterrupt(true) {
		return errors.New("ahci: GHC.IE does not read back set")
	}
	return nil
}

// stateLabels name what State reports.
var stateLabels = []string{"issued", "queued", "fatal", "PxCI", "PxSACT", "PxIS", "PxTFD", "PxCMD", "PxSERR"}

// StateLabels names the values State reports.
//
// Context: any; does not block or allocate.
func (c *Channel) StateLabels() []string { return stateLabels }

// State fills v, as long as StateLabels, with the slots the channel issued
// and queued, a fatal error waiting for its recovery, and the port
// registers that say where the HBA is, for the port's report of work that
// does not finish (ata.Channel.QueueState).
//
// Context: the channel's DIRQL with its interrupt lock held; does not block
// or allocate.
func (c *Channel) State(v []uint32) {
	c.assertSynchronized("ahci.State")
	r, b := c.regs, c.base
	copy(v, []uint32{c.issued, c.queued, c.fatal, r.Read32(b + PxCI), r.Read32(b + PxSACT), r.Read32(b + PxIS),
		r.Read32(b + PxTFD), r.Read32(b + PxCMD), r.Read32(b + PxSERR)})
}
