package sff

import (
	"errors"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Hooks are the controller-specific overrides of generic steps (libata's
// ata_port_operations hooks that ata_piix and its relatives override). They
// are passed explicitly: a nil field means the generic default, and the
// generic code calls the hook, never its own default directly (STYLE.md 4:
// Go embedding would not make the library call an override).
type Hooks struct {
	// DataXfer moves PIO data blocks (sff_data_xfer); nil: DataXfer16.
	DataXfer DataXfer

	// BMStatus reads BMISX (bmdma_status; piix_vmw_ops overrides it);
	// nil: Ports.BMStatus.
	//
	// Context: the channel's DIRQL with its interrupt lock held; must not
	// block or allocate.
	BMStatus func(p *Ports) uint8
}

// Config describes one channel to NewChannel.
type Config struct {
	Ports Ports
	Port  miniport.Port // the port's services for this channel

	// PRDEntries is the number of descriptors of the PRD table each
	// request extension holds (see PRDTableLayout); 0 without a bus
	// master.
	PRDEntries int

	Hooks Hooks
}

// Waits for DRQ after a command that sends data first (PIO data-out: the
// device raises DRQ without an interrupt; PACKET: within 3 ms, or 50 us for
// an accelerated-DRQ device, ATA8-ACS PACKET). StartIo spins briefly, then
// polls with the port's timer; the request's timeout bounds the whole wait.
const (
	drqSpins = 20                     // spins of drqSpin in StartIo and in each poll
	drqSpin  = time.Microsecond       // one spin
	drqPoll  = 500 * time.Microsecond // interval between polls
	pioBlock = 512                    // DRQ data block before Initialize gave the sector size

	// After the last PIO data-in block the device drops DRQ; libata's
	// ata_wait_idle gives it 1000 polls 10 us apart.
	idlePolls = 1000
	idlePoll  = 10 * time.Microsecond
)

// phase is where the request in flight is in its ATA8-APT protocol.
type phase uint8

const (
	phaseIdle      phase = iota // nothing in flight
	phaseNoData                 // non-data: one interrupt at the end
	phasePIOIn                  // PIO data-in: one interrupt per DRQ block
	phasePIOOutDRQ              // PIO data-out, waiting for the first DRQ (no interrupt)
	phasePIOOut                 // PIO data-out: one interrupt per block written, the last one final
	phaseCDB                    // PACKET: waiting for DRQ to send the command packet
	phasePacket                 // PACKET: PIO data interrupts, then the status interrupt
	phaseDMA                    // DMA, ATA or PACKET: one interrupt at the end
)

// target is what Initialize learnt about one device.
type target struct {
	atapi      bool
	dma        bool // a DMA mode was selected and the channel has a bus master
	drq        miniport.PacketDRQ
	packetSize int
	flushExt   bool
	block      int // PIO DRQ block: the logical sector size
	multiple   int // sectors per DRQ block of READ/WRITE MULTIPLE (EXT); 0: refused
}

var _ miniport.Channel = (*Channel)(nil)

// Channel runs the ATA8-APT protocols on one SFF channel: it implements
// miniport.Channel for any controller of the family.
type Channel struct {
	p          Ports
	port       miniport.Port
	xfer       DataXfer
	bmStatus   func(p *Ports) uint8
	stall      func(time.Duration)
	prdEntries int
	dev        [2]target

	// The channel's in-flight slot and the bus-master engine's state,
	// shared with the ISR: read and written only at the channel's DIRQL
	// holding its interrupt lock (StartIo, Interrupt, Pending, Reset and
	// synchronized routines).
	active *miniport.Request
	phase  phase
	offset int // bytes moved by PIO so far

	// Callbacks given to the port, made once: a method value allocates.
	pollFn     miniport.TimerRoutine
	pollSyncFn miniport.SynchronizedRoutine
}

// NewChannel returns the engine for one channel, with the nil hooks of cfg
// replaced by the generic defaults (as libata's ata_finalize_port_ops does
// once, at host start).
//
// Context: PASSIVE, IF=1 (ChannelInit); allocates.
func NewChannel(cfg Config) (*Channel, error) {
	kernel.AssertLevel("sff.NewChannel", kernel.PASSIVE, kernel.PASSIVE)
	if cfg.Port == nil || cfg.Ports.IO == nil || cfg.Ports.Cmd == 0 || cfg.Ports.Ctl == 0 {
		return nil, errors.New("sff: NewChannel needs a port, port I/O and the command and control block bases")
	}
	if cfg.Ports.BM != 0 && cfg.PRDEntries < 1 {
		return nil, errors.New("sff: NewChannel with a bus master needs PRDEntries")
	}
	c := &Channel{
		p:          cfg.Ports,
		port:       cfg.Port,
		xfer:       cfg.Hooks.DataXfer,
		bmStatus:   cfg.Hooks.BMStatus,
		stall:      cfg.Port.Stall,
		prdEntries: cfg.PRDEntries,
	}
	if c.xfer == nil {
		c.xfer = DataXfer16
	}
	if c.bmStatus == nil {
		c.bmStatus = (*Ports).BMStatus
	}
	c.pollFn = c.poll
	c.pollSyncFn = c.pollSync
	return c, nil
}

// assertSynchronized is the entry check of the routines that run at the
// channel's DIRQL holding its interrupt lock.
//
// Context: the channel's DIRQL, lock held; does not block or allocate
// unless it panics.
func (c *Channel) assertSynchronized(routine string) {
	kernel.AssertLevel(routine, kernel.DIRQLMin, kernel.DIRQLMax)
	if !c.port.InterruptLockHeld() {
		kernel.Bugcheck("sff: " + routine + " on " + c.port.Name() + " without the channel interrupt lock")
	}
}

// Initialize records what the miniport needs of device dev.Target
// (IdeHwInitialize): ATAPI or not, its DRQ type and packet size, its PIO
// block and multiple block, whether DMA may be used and which flush
// command it takes.
//
// Context: PASSIVE, IF=1, line unmasked, no lock held, no request of this
// device in flight; may block.
func (c *Channel) Initialize(dev *miniport.DeviceParameters) error {
	kernel.AssertLevel("sff.Initialize", kernel.PASSIVE, kernel.PASSIVE)
	if dev.Target < 0 || dev.Target > 1 || dev.Identify == nil {
		return errors.New("sff: Initialize of " + c.port.Name() + ": target must be 0 or 1, with IDENTIFY data")
	}
	id := dev.Identify
	t := target{
		atapi:      dev.Type == miniport.DeviceATAPI,
		dma:        dev.Modes.DMA() != 0 && c.p.BM != 0,
		drq:        id.PacketDRQ,
		packetSize: id.PacketSize,
		flushExt:   id.FlushCacheExt && id.LBA48,
		block:      id.SectorSize,
		multiple:   dev.Multiple,
	}
	if t.atapi || t.block == 0 {
		t.block = pioBlock
	}
	c.dev[dev.Target] = t
	return nil
}

// invalid completes req in BuildIo or StartIo with status s.
func invalid(req *miniport.Request, s miniport.Status) bool {
	req.Status = s
	return false
}

// BuildIo checks req and prepares what needs no shared state
// (IdeHwBuildIo): the flush command, the PACKET task file and, for DMA, the
// PRD table in the request's extension. The bus-master engine's registers
// belong to the request in flight and its ISR, so StartIo, which runs under
// the interrupt lock anyway, loads them: BuildIo asks for no synchronized
// routine, whose masked section would hide the completion edge of the
// request in flight from the interrupt controller (the seed on
// synchronized access: keep those callbacks rare and short).
//
// Context: PASSIVE or DISPATCH, IF=1, line unmasked, no lock held, not
// synchronized with Interrupt; must not block or allocate.
func (c *Channel) BuildIo(req *miniport.Request) bool {
	kernel.AssertLevel("sff.BuildIo", kernel.PASSIVE, kernel.DISPATCH)
	if req.Target > 1 {
		return invalid(req, miniport.StatusInvalidRequest)
	}
	t := &c.dev[req.Target]
	dir, ok := req.DataDirection()
	if !ok {
		return invalid(req, miniport.StatusInvalidRequest)
	}
	switch req.Function {
	case miniport.FunctionMiniport:
		if req.Miniport != miniport.MiniportProbe {
			return invalid(req, miniport.StatusInvalidRequest)
		}
		return true
	case miniport.FunctionFlush:
		if t.atapi || dir != 0 {
			return invalid(req, miniport.StatusInvalidRequest)
		}
		req.SetFlush(t.flushExt)
		return true
	case miniport.FunctionATA:
		if req.Flags&miniport.FlagDMA == 0 && dir != 0 && len(req.Data)%t.pioBlock() != 0 ||
			multipleCommand(req) && t.multiple == 0 {
			return invalid(req, miniport.StatusInvalidRequest)
		}
	case miniport.FunctionATAPI:
		if !req.PacketValid(t.packetSize) {
			return invalid(req, miniport.StatusInvalidRequest)
		}
		req.SetPacket()
	default:
		return invalid(req, miniport.StatusInvalidRequest)
	}
	if req.Flags&miniport.FlagDMA != 0 {
		return c.buildDMA(req, t)
	}
	return true
}

// pioBlock returns the PIO DRQ block size of t.
func (t *target) pioBlock() int {
	if t.block == 0 {
		return pioBlock
	}
	return t.block
}

// multipleCommand reports whether req is READ/WRITE MULTIPLE (EXT), whose
// DRQ blocks are the device's multiple block (ATA8-ACS READ MULTIPLE).
func multipleCommand(req *miniport.Request) bool {
	if req.Function != miniport.FunctionATA {
		return false
	}
	switch miniport.Command(req.TaskFile.Current.Command) {
	case miniport.READ_MULTIPLE, miniport.READ_MULTIPLE_EXT, miniport.WRITE_MULTIPLE, miniport.WRITE_MULTIPLE_EXT:
		return true
	}
	return false
}

// buildDMA writes req's PRD table into its extension (SFF-8038i programming
// sequence, step 1).
//
// Context: as BuildIo.
func (c *Channel) buildDMA(req *miniport.Request, t *target) bool {
	if c.p.BM == 0 || !t.dma || req.Extension.Addr&3 != 0 || req.Extension.Addr >= PRDAddrLimit ||
		len(req.Extension.Buf) < c.prdEntries*PRDEntrySize {
		return invalid(req, miniport.StatusInvalidRequest)
	}
	if _, err := FillPRD(req.Extension.Buf[:c.prdEntries*PRDEntrySize], c.port.ScatterGather(req)); err != nil {
		return invalid(req, miniport.StatusInvalidRequest)
	}
	return true
}

// StartIo starts req (IdeHwStartIo), following ATA8-APT and the SFF-8038i
// programming sequence:
//
//  1. select the target and wait 400 ns; a floating bus completes req with
//     StatusSelectionTimeout, and a probe is answered from the registers;
//  2. the device must show neither BSY nor DRQ (and DRDY when asked),
//     else StatusBusy;
//  3. for DMA, load the PRD table and direction (SFF-8038i programming
//     sequence, step 2), and clear IDEINTS and IDEDMAERR;
//  4. load the task file and write the command;
//  5. start the engine (DMA), or send the first data block or the command
//     packet once DRQ shows (PIO data-out, PACKET).
//
// Context: the channel's DIRQL, IF=1, line unmasked, channel interrupt lock
// held; must not block or allocate. Panics when a request is in flight.
func (c *Channel) StartIo(req *miniport.Request) bool {
	c.assertSynchronized("sff.StartIo")
	if c.active != nil {
		kernel.Bugcheck("sff: StartIo on " + c.port.Name() + " with a request in flight")
	}
	// 1.
	st := c.p.Select(req.Target)
	req.AtaStatus = st
	if Floating(st) {
		return invalid(req, miniport.StatusSelectionTimeout)
	}
	if req.Function == miniport.FunctionMiniport {
		if st&miniport.BSY != 0 {
			return invalid(req, miniport.StatusBusy)
		}
		c.p.ReadTaskFile(&req.TaskFile.Current)
		req.Status = miniport.StatusSuccess
		c.port.Complete(req)
		return true
	}
	// 2.
	if st&(miniport.BSY|miniport.DRQ) != 0 ||
		req.Flags&miniport.FlagDRDYRequired != 0 && st&miniport.DRDY == 0 {
		return invalid(req, miniport.StatusBusy)
	}
	// 3.
	dma := req.Flags&miniport.FlagDMA != 0
	if dma {
		c.p.BMSetup(uint32(req.Extension.Addr), req.Flags&miniport.FlagDataIn != 0)
		c.p.BMClear(c.bmStatus(&c.p))
	}
	// 4.
	c.p.LoadTaskFile(&req.TaskFile, req.Flags&miniport.Flag48Bit != 0, req.Target)
	c.p.Exec(miniport.Command(req.TaskFile.Current.Command))
	c.active, c.offset, req.Transferred = req, 0, 0
	// 5.
	switch {
	case req.Function == miniport.FunctionATAPI:
		c.phase = phaseCDB
		if c.dev[req.Target].drq != miniport.DRQInterrupt {
			c.sendWhenReady()
		}
	case dma:
		c.p.BMStart()
		c.phase = phaseDMA
	case req.Flags&miniport.FlagDataOut != 0:
		c.phase = phasePIOOutDRQ
		c.sendWhenReady()
	case req.Flags&miniport.FlagDataIn != 0:
		c.phase = phasePIOIn
	default:
		c.phase = phaseNoData
	}
	return true
}

// sendWhenReady sends the first data block (PIO data-out) or the command
// packet once the device shows DRQ, spinning drqSpins times drqSpin; when
// DRQ has not come by then it has the port call poll later. An error the
// device shows instead is left to its interrupt.
//
// Context: the channel's DIRQL with its interrupt lock held, phase
// phasePIOOutDRQ or phaseCDB; does not block or allocate.
func (c *Channel) sendWhenReady() {
	for i := 0; i < drqSpins; i++ {
		st := c.p.AltStatus()
		if st&miniport.BSY == 0 {
			if st&(miniport.ERR|miniport.DF) != 0 {
				return
			}
			if st&miniport.DRQ != 0 {
				c.sendFirst()
				return
			}
		}
		c.stall(drqSpin)
	}
	c.port.RequestTimer(c.pollFn, drqPoll)
}

// sendFirst sends, with DRQ set, the first data block of a PIO data-out
// command or the command packet of a PACKET command; after the packet of a
// DMA PACKET command it starts the engine (libata starts it after the CDB).
//
// Context: the channel's DIRQL with its interrupt lock held; does not block
// or allocate.
func (c *Channel) sendFirst() {
	req := c.active
	switch c.phase {
	case phasePIOOutDRQ:
		c.xferBlock(req, true)
		c.phase = phasePIOOut
	case phaseCDB:
		// ATA8-ACS PACKET: the packet goes through DATA as words.
		c.p.IO.OutsW(c.p.Cmd+DATA, req.Cdb[:req.CdbLength])
		if req.Flags&miniport.FlagDMA != 0 {
			c.p.BMStart()
			c.phase = phaseDMA
		} else {
			c.phase = phasePacket
		}
	}
}

// poll is the TimerRoutine that StartIo arms while the device has not
// raised DRQ for the first data block or the packet.
//
// Context: DISPATCH, IF=1, line unmasked, no lock held; does not block or
// allocate.
func (c *Channel) poll() {
	kernel.AssertLevel("sff.poll", kernel.DISPATCH, kernel.DISPATCH)
	c.port.RequestSynchronizedRoutine(c.pollSyncFn, nil)
}

// pollSync looks for DRQ again on behalf of poll; it reports whether the
// request in flight was still waiting for it.
//
// Context: synchronized routine: the channel's DIRQL, IF=1, line masked,
// channel interrupt lock held; does not block or allocate.
func (c *Channel) pollSync(*miniport.Request) bool {
	c.assertSynchronized("sff.pollSync")
	if c.active == nil || c.phase != phasePIOOutDRQ && c.phase != phaseCDB {
		return false
	}
	c.sendWhenReady()
	return true
}

// xferBlock moves the next PIO block of req: one logical sector, the
// device's multiple block for READ/WRITE MULTIPLE, or what is left.
//
// Context: the channel's DIRQL with its interrupt lock held, DRQ set; does
// not block or allocate.
func (c *Channel) xferBlock(req *miniport.Request, write bool) {
	t := &c.dev[req.Target]
	n := t.pioBlock()
	if multipleCommand(req) {
		n *= t.multiple
	}
	if left := len(req.Data) - c.offset; n > left {
		n = left
	}
	c.xfer(c.p.IO, c.p.Cmd+DATA, req.Data[c.offset:c.offset+n], write)
	c.offset += n
}

// finish completes the request in flight with status s, STATUS st, and
// ERROR when st shows an error. It reads the task file back with
// FlagReturnTaskFile, and after an ATA command that ended with ERR, whose
// LBA registers then name the first failing sector (ATA8-ACS error
// outputs); for a 48-bit command with the previous bytes too.
//
// Context: the channel's DIRQL with its interrupt lock held; does not block
// or allocate.
func (c *Channel) finish(req *miniport.Request, s miniport.Status, st uint8) {
	req.AtaStatus = st
	failed := st&(miniport.ERR|miniport.DF) != 0
	if failed {
		req.AtaError = c.p.Error()
	}
	if req.Flags&miniport.FlagReturnTaskFile != 0 || failed && req.Function == miniport.FunctionATA && st&miniport.BSY == 0 {
		c.p.ReadTaskFile(&req.TaskFile.Current)
		if req.Flags&miniport.Flag48Bit != 0 {
			c.p.ReadTaskFileHOB(&req.TaskFile.Previous)
		}
		req.TaskFileReturned = true
	}
	req.Transferred = c.offset
	req.Status = s
	c.active, c.phase = nil, phaseIdle
	c.port.Complete(req)
}

// Interrupt services the channel's interrupt (IdeHwInterrupt). With no
// request in flight it acknowledges the device and reports false. For DMA
// it follows libata ata_bmdma_port_intr and the SFF-8038i programming
// sequence, steps 6 and 7;
// for PIO and PACKET, ATA8-APT's host protocol states, one DRQ block per
// interrupt (libata ata_sff_hsm_move):
//
//  1. a device still BSY has not interrupted: report false;
//  2. clear IDEINTS, then read STATUS, which lowers INTRQ;
//  3. ERR or DF completes the request with StatusDeviceError;
//  4. otherwise move the next block, or complete the request.
//
// Context: the channel's DIRQL, IF=1, the vector in service, channel
// interrupt lock held; must not block or allocate.
func (c *Channel) Interrupt() bool {
	c.assertSynchronized("sff.Interrupt")
	req := c.active
	if req == nil {
		if c.p.BM != 0 {
			if bm := c.bmStatus(&c.p); bm&IDEINTS != 0 {
				c.p.BMClear(bm)
			}
		}
		c.p.Status()
		return false
	}
	if c.phase == phaseDMA {
		return c.dmaInterrupt(req)
	}
	// 1.
	if c.p.AltStatus()&miniport.BSY != 0 {
		return false
	}
	// 2.
	if c.p.BM != 0 {
		if bm := c.bmStatus(&c.p); bm&IDEINTS != 0 {
			c.p.BMClear(bm)
		}
	}
	st := c.p.Status()
	// 3.
	if st&(miniport.ERR|miniport.DF) != 0 {
		if c.phase == phasePIOIn && st&miniport.DRQ != 0 {
			c.xferBlock(req, false) // a block comes with the error: take it to release DRQ
		}
		c.finish(req, miniport.StatusDeviceError, st)
		return true
	}
	// 4.
	switch c.phase {
	case phaseNoData:
		c.finish(req, miniport.StatusSuccess, st)
	case phasePIOIn:
		if st&miniport.DRQ == 0 {
			c.finish(req, miniport.StatusDataLengthMismatch, st)
			break
		}
		c.xferBlock(req, false)
		if c.offset == len(req.Data) {
			// A device that still asserts DRQ after the last block
			// offers more data than the command asked for: a protocol
			// error (libata's HSM violation), never read into the buffer.
			st := c.waitIdle()
			if st&miniport.DRQ != 0 {
				c.finish(req, miniport.StatusDataLengthMismatch, st)
			} else {
				c.finish(req, miniport.StatusSuccess, st)
			}
		}
	case phasePIOOutDRQ:
		if st&miniport.DRQ != 0 {
			c.sendFirst()
		}
	case phasePIOOut:
		switch {
		case c.offset == len(req.Data) && st&miniport.DRQ == 0:
			c.finish(req, miniport.StatusSuccess, st)
		case c.offset < len(req.Data) && st&miniport.DRQ != 0:
			c.xferBlock(req, true)
		default:
			c.finish(req, miniport.StatusDataLengthMismatch, st)
		}
	case phaseCDB:
		reason := c.p.IO.In8(c.p.Cmd + SECTOR_COUNT)
		if st&miniport.DRQ != 0 && reason&(CoD|IO) == CoD {
			c.sendFirst()
		} else {
			c.finish(req, miniport.StatusDataLengthMismatch, st)
		}
	case phasePacket:
		c.packetData(req, st)
	}
	return true
}

// waitIdle polls ALT STATUS until the device shows neither BSY nor DRQ,
// at most idlePolls times idlePoll (libata ata_wait_idle after the last PIO
// block), and returns the last value read.
//
// Context: the channel's DIRQL with its interrupt lock held; does not block
// or allocate; stalls at most about 10 ms.
func (c *Channel) waitIdle() uint8 {
	st := c.p.AltStatus()
	for i := 0; i < idlePolls && st&(miniport.BSY|miniport.DRQ) != 0; i++ {
		c.stall(idlePoll)
		st = c.p.AltStatus()
	}
	return st
}

// packetData handles an interrupt of a PIO PACKET command (ATA8-ACS PACKET,
// ATA8-APT PACKET protocol): with DRQ and the interrupt reason "data to
// host" it reads the byte count the device announced into req.Data,
// discarding what does not fit; without DRQ the command is over.
//
// Context: the channel's DIRQL with its interrupt lock held, STATUS already
// read; does not block or allocate.
func (c *Channel) packetData(req *miniport.Request, st uint8) {
	if st&miniport.DRQ == 0 {
		if c.offset != len(req.Data) {
			c.finish(req, miniport.StatusDataLengthMismatch, st)
		} else {
			c.finish(req, miniport.StatusSuccess, st)
		}
		return
	}
	io, data := c.p.IO, c.p.Cmd+DATA
	if reason := io.In8(c.p.Cmd + SECTOR_COUNT); reason&(CoD|IO) != IO {
		c.finish(req, miniport.StatusDataLengthMismatch, st)
		return
	}
	count := int(io.In8(c.p.Cmd+LBA_MID)) | int(io.In8(c.p.Cmd+LBA_HIGH))<<8
	n := len(req.Data) - c.offset
	if n > count {
		n = count
	}
	even := n &^ 1
	if even > 0 {
		c.xfer(io, data, req.Data[c.offset:c.offset+even], false)
	}
	words := even / 2
	if n&1 != 0 {
		req.Data[c.offset+even] = uint8(io.In16(data))
		words++
	}
	for ; words < (count+1)/2; words++ {
		io.In16(data)
	}
	c.offset += n
}

// dmaInterrupt completes a DMA request (libata ata_bmdma_port_intr;
// SFF-8038i programming sequence, steps 6 and 7):
//
//  1. without IDEINTS in BMISX the interrupt is not this channel's;
//  2. stop the engine (SSBM = 0);
//  3. read STATUS, which lowers INTRQ, and clear IDEINTS and IDEDMAERR;
//  4. IDEDMAERR completes with StatusHostBusError, ERR or DF with
//     StatusDeviceError, DRQ or BMIDEA (the device stopped before the
//     PRD table ran out) with StatusDataLengthMismatch.
//
// Context: the channel's DIRQL with its interrupt lock held; does not block
// or allocate.
func (c *Channel) dmaInterrupt(req *miniport.Request) bool {
	// 1.
	bm := c.bmStatus(&c.p)
	if bm&IDEINTS == 0 {
		return false
	}
	// 2.
	c.p.BMStop()
	// 3.
	st := c.p.Status()
	c.p.BMClear(bm)
	req.HostStatus = bm
	// 4.
	switch {
	case bm&IDEDMAERR != 0:
		c.finish(req, miniport.StatusHostBusError, st)
	case st&(miniport.ERR|miniport.DF) != 0:
		c.finish(req, miniport.StatusDeviceError, st)
	case st&miniport.DRQ != 0 || bm&BMIDEA != 0:
		c.finish(req, miniport.StatusDataLengthMismatch, st)
	default:
		c.offset = len(req.Data)
		c.finish(req, miniport.StatusSuccess, st)
	}
	return true
}

// Pending reports whether the device signalled an interrupt that Interrupt
// has not serviced (the port's lost-interrupt check; libata
// ata_sff_lost_interrupt): a request is in flight, ALT STATUS shows the
// device not busy, and IDEINTS is set in BMISX (which latches the rising
// edge of INTRQ for every command). Without a bus master, not busy is
// enough, unless the request waits for DRQ without an interrupt.
//
// Context: the channel's DIRQL, IF=1, channel interrupt lock held; does not
// block or allocate, and leaves the device's state alone.
func (c *Channel) Pending() bool {
	c.assertSynchronized("sff.Pending")
	if c.active == nil {
		return false
	}
	idle, st := c.p.LostInterrupt()
	switch {
	case !idle:
		return false
	case c.p.BM != 0:
		return c.bmStatus(&c.p)&IDEINTS != 0
	case c.phase == phasePIOOutDRQ || c.phase == phaseCDB && c.dev[c.active.Target].drq != miniport.DRQInterrupt:
		return st&(miniport.ERR|miniport.DF) != 0
	}
	return true
}

// Reset resets the channel (IdeHwReset):
//
//  1. record STATUS, ERROR and BMISX into the request in flight;
//  2. pulse SRST (Ports.SoftReset), which makes the devices abandon their
//     commands and release DMARQ;
//  3. stop the bus-master engine and clear IDEINTS and IDEDMAERR, so that
//     no stale completion of the abandoned command is taken for the next
//     one's;
//  4. forget the request, which the port completes.
//
// Context: the channel's DIRQL, IF=1, line masked, channel interrupt lock
// held; does not block or allocate; stalls about 2 ms.
func (c *Channel) Reset() bool {
	c.assertSynchronized("sff.Reset")
	// 1.
	if req := c.active; req != nil {
		req.AtaStatus = c.p.AltStatus()
		req.AtaError = c.p.Error()
		req.Transferred = c.offset
		if c.p.BM != 0 {
			req.HostStatus = c.bmStatus(&c.p)
		}
	}
	// 2.
	c.p.SoftReset(c.stall)
	// 3.
	if c.p.BM != 0 {
		c.p.BMStop()
		c.p.BMClear(c.bmStatus(&c.p))
	}
	// 4.
	c.active, c.phase, c.offset = nil, phaseIdle, 0
	return true
}

// Control handles IdeHwControl. IdeStart enables the devices' interrupts
// (nIEN clear in DEVICE CONTROL, which both devices receive); the other
// actions are not supported.
//
// Context: PASSIVE, IF=1, line unmasked, no request in flight; may block.
func (c *Channel) Control(action miniport.ControlAction) error {
	kernel.AssertLevel("sff.Control", kernel.PASSIVE, kernel.PASSIVE)
	if action != miniport.ControlStart {
		return errors.New("sff: " + action.String() + " is not supported on " + c.port.Name())
	}
	c.p.SetInterrupt(true)
	return nil
}
