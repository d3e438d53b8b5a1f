package sfftest

import (
	"encoding/binary"
	"fmt"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff"
)

// Device is a fake ATA or ATAPI device. Unwritten sectors read as Pattern.
type Device struct {
	Spec       IdentifySpec // its IDENTIFY (PACKET) DEVICE data; Spec.ATAPI makes it a PACKET device
	SectorSize int          // bytes per sector: 512 for ATA (or the logical size), 2048 for ATAPI
	Capacity   uint64       // sectors; for ATAPI the READ CAPACITY answer

	// ErrorAt, when set, is asked before each read or write command; a
	// nonzero answer fails the command with ERR and that ERROR value.
	ErrorAt func(cmd miniport.Command, lba uint64) uint8

	// BadSectors fails a read or write command touching one of its
	// sectors with ERR and the ERROR value given, the LBA registers
	// naming the first bad sector (ATA8-ACS error outputs).
	BadSectors map[uint64]uint8

	// Identify, when set, is what IDENTIFY returns instead of the data
	// Spec describes: cut or padded with zeros to 512 bytes.
	Identify []byte

	Hang          bool // commands leave BSY set until a reset
	HangCommands  int  // the next this many read or write commands leave BSY set until a reset
	ExtraDRQ      bool // PIO data-in: DRQ stays set after the last block, offering more data
	DMAShort      int  // DMA: the device moves this many bytes fewer than the command asks, then completes
	DMALong       int  // DMA: the device wants this many bytes more than the PRD table holds, and waits for them
	BusyReads     int  // after a reset, this many STATUS reads show BSY
	WriteDelay    int  // after a PIO write command, this many STATUS reads show BSY before DRQ
	UnitAttention bool // ATAPI: a reset raises UNIT ATTENTION (ASC 29h)
	MediumChange  bool // ATAPI: the next packet raises UNIT ATTENTION (ASC 28h) instead of running; cleared then
	ChangeAfter   int  // ATAPI: when not 0, after this many more READ (10) commands MediumChange is set
	NoMedium      bool // ATAPI: packets that need a medium fail with NOT READY, MEDIUM NOT PRESENT (ASC 3Ah)
	BecomingReady int  // ATAPI: the next this many packets that need a medium fail with NOT READY, BECOMING READY (04h/01h)
	DMAError      bool // DMA transfers end with IDEDMAERR

	mu       *spinLock // the bus's
	sectors  map[uint64][]byte
	modes    []uint8 // SET FEATURES transfer mode values received
	commands []miniport.Command

	cur, prev [5]uint8 // FEATURES, COUNT, LBA LOW, LBA MID, LBA HIGH: current and previous bytes
	device    uint8
	status    uint8
	err       uint8
	busyLeft  int
	hung      bool
	ua        uint8    // ATAPI: the ASC of a pending UNIT ATTENTION, 0 for none
	sense     [3]uint8 // ATAPI: sense key, ASC and ASCQ of the last packet, for REQUEST SENSE
	multiple  int      // sectors per DRQ block of READ/WRITE MULTIPLE, set by SET MULTIPLE MODE
}

// Pattern returns the content of sector lba that was never written: each
// 8-byte word holds lba, then the byte offset within the sector.
func Pattern(lba uint64, size int) []byte {
	b := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], lba<<16|uint64(i))
	}
	return b
}

// Set runs fn, which changes the device's fault knobs, under the bus's
// lock, so that a test can turn a fault on or off while the port's ISR
// and timers still reach the device.
func (d *Device) Set(fn func()) {
	if d.mu == nil { // not on a bus yet
		fn()
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fn()
}

// Modes returns the SET FEATURES transfer mode values the device received.
func (d *Device) Modes() []uint8 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]uint8(nil), d.modes...)
}

// Commands returns the commands the device received, in order.
func (d *Device) Commands() []miniport.Command {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]miniport.Command(nil), d.commands...)
}

// Sector returns the content of sector lba.
func (d *Device) Sector(lba uint64) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sector(lba)
}

func (d *Device) sector(lba uint64) []byte {
	if s, ok := d.sectors[lba]; ok {
		return append([]byte(nil), s...)
	}
	return Pattern(lba, d.sectorSize())
}

func (d *Device) sectorSize() int {
	if d.SectorSize != 0 {
		return d.SectorSize
	}
	if d.Spec.ATAPI {
		return 2048
	}
	return 512
}

// signature loads the reset signature (ATA8-ACS "Signature and persistence": COUNT 01h, LBA LOW
// 01h, LBA MID/HIGH 00h/00h for ATA, 14h/EBh for PACKET devices).
func (d *Device) signature() {
	d.cur = [5]uint8{0, 1, 1, 0, 0}
	if d.Spec.ATAPI {
		d.cur[3], d.cur[4] = 0x14, 0xeb
	}
	d.device = 0
}

// Op is one recorded port access. String accesses (rep ins/outs) record
// their width in Size and their byte count in Len.
type Op struct {
	Write bool
	Port  uint16
	Size  int // 1, 2 or 4 bytes
	Value uint32
	Len   int // bytes of a string access, 0 otherwise
}

func (o Op) String() string {
	dir := "in "
	if o.Write {
		dir = "out"
	}
	if o.Len != 0 {
		return fmt.Sprintf("%s%d 0x%x [%d bytes]", dir, o.Size*8, o.Port, o.Len)
	}
	return fmt.Sprintf("%s%d 0x%x 0x%x", dir, o.Size*8, o.Port, o.Value)
}

// Data phases of the channel.
const (
	idle = iota
	pioIn
	pioOut
	cdb
	packetIn
	dmaWait
)

// Bus is one fake channel: it implements miniport.PortIO for the command
// block at Cmd, the control block at Ctl and the bus master at BM.
type Bus struct {
	Cmd, Ctl, BM uint16
	Dev          [2]*Device
	Mem          *Memory // DMA target
	EmptyZero    bool    // with no device at all, registers read 0 (QEMU) instead of 0xFF (floating bus)

	// AbsentBusyReads models QEMU's absent device 1 after a reset: its
	// state holds BSY like the present device's for this many STATUS
	// reads (which read 0, as an absent device does), and, as for any
	// selected device showing BSY, writes to the command block registers
	// but COMMAND are ignored meanwhile (QEMU ide_ioport_write).
	AbsentBusyReads int
	absentBusy      int

	// IRQ, when set, is called for every rising edge of INTRQ while nIEN
	// is clear, after the access that caused it has returned its lock.
	IRQ func()

	mu     spinLock
	ops    []Op
	sel    int
	ctl    uint8
	intrq  bool
	fire   int
	phase  int
	buf    []byte
	pos    int
	block  int
	end    int // end of the current PACKET data chunk
	limit  int // PACKET byte count limit
	sector int // PACKET READ (10): the sector size, QEMU's data buffer (ins)
	cmd    miniport.Command
	lba    uint64
	toMem  bool // the DMA moves data to memory
	packet []byte
	bmcmd  uint8
	bmst   uint8
	prd    uint32
}

// NewBus returns a channel with the compatibility-mode primary ports and
// bus master at 0xc000, with devices master and slave (either may be nil).
func NewBus(master, slave *Device, mem *Memory) *Bus {
	b := &Bus{Cmd: 0x1f0, Ctl: 0x3f6, BM: 0xc000, Mem: mem}
	b.Dev = [2]*Device{master, slave}
	for _, d := range b.Dev {
		if d == nil {
			continue
		}
		d.mu = &b.mu
		if d.sectors == nil {
			d.sectors = map[uint64][]byte{}
		}
		d.signature()
		d.status = miniport.DRDY | miniport.DSC
		if d.Spec.ATAPI {
			d.status = 0
		}
		d.err = 1
	}
	b.bmst = sff.DMA0CAP | sff.DMA1CAP
	return b
}

// Ops returns the accesses recorded so far.
func (b *Bus) Ops() []Op {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Op(nil), b.ops...)
}

// Writes returns the write accesses recorded so far.
func (b *Bus) Writes() []Op {
	var w []Op
	for _, o := range b.Ops() {
		if o.Write {
			w = append(w, o)
		}
	}
	return w
}

// ClearOps forgets the recorded accesses.
func (b *Bus) ClearOps() {
	b.mu.Lock()
	b.ops = nil
	b.mu.Unlock()
}

// INTRQ reports whether the selected device asserts INTRQ.
func (b *Bus) INTRQ() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.intrq
}

// unlock releases the bus and delivers the edges raised meanwhile.
func (b *Bus) unlock() {
	n := b.fire
	b.fire = 0
	irq := b.IRQ
	b.mu.Unlock()
	for ; n > 0 && irq != nil; n-- {
		irq()
	}
}

func (b *Bus) record(o Op) { b.ops = append(b.ops, o) }

// raise asserts INTRQ: IDEINTS latches its rising edge (PIIX datasheet
// BMISX, QEMU bmdma_irq), and the edge is delivered when nIEN is clear.
func (b *Bus) raise() {
	if !b.intrq && b.ctl&0x02 == 0 {
		b.fire++
	}
	b.intrq = true
	b.bmst |= sff.IDEINTS
}

func (b *Bus) dev() *Device { return b.Dev[b.sel] }

// empty returns what a register reads when the selected device is absent.
func (b *Bus) empty() uint8 {
	if b.Dev[0] != nil || b.Dev[1] != nil || b.EmptyZero {
		return 0
	}
	return 0xff
}

// In8 implements miniport.PortIO.
func (b *Bus) In8(port uint16) uint8 {
	b.mu.Lock()
	defer b.unlock()
	v := b.in8(port)
	b.record(Op{Port: port, Size: 1, Value: uint32(v)})
	return v
}

func (b *Bus) in8(port uint16) uint8 {
	d := b.dev()
	if d == nil && b.absentBusy > 0 && (port == b.Ctl || port == b.Cmd+sff.STATUS) {
		b.absentBusy--
	}
	switch {
	case port == b.Ctl:
		if d == nil {
			return b.empty()
		}
		return d.readStatus()
	case port > b.Cmd && port <= b.Cmd+7:
		if d == nil {
			return b.empty()
		}
		r := int(port - b.Cmd)
		switch r {
		case sff.ERROR:
			return d.err
		case sff.DEVICE:
			return d.device
		case sff.STATUS:
			b.intrq = false
			return d.readStatus()
		}
		if b.ctl&0x80 != 0 {
			return d.prev[r-1]
		}
		return d.cur[r-1]
	case port == b.BM+sff.BMICX:
		return b.bmcmd
	case port == b.BM+sff.BMISX:
		return b.bmst
	}
	return 0xff
}

func (d *Device) readStatus() uint8 {
	if d.busyLeft > 0 {
		d.busyLeft--
		return miniport.BSY
	}
	if d.hung {
		return miniport.BSY | miniport.DRDY
	}
	return d.status
}

// Out8 implements miniport.PortIO.
func (b *Bus) Out8(port uint16, v uint8) {
	b.mu.Lock()
	defer b.unlock()
	b.record(Op{Write: true, Port: port, Size: 1, Value: uint32(v)})
	if port > b.Cmd && port < b.Cmd+sff.COMMAND && b.selectedBusy() {
		return
	}
	switch {
	case port == b.Ctl:
		b.control(v)
	case port == b.Cmd+sff.COMMAND:
		if d := b.dev(); d != nil && !d.hung {
			b.command(d, miniport.Command(v))
		}
	case port == b.Cmd+sff.DEVICE:
		b.sel = int(v>>4) & 1
		for _, d := range b.Dev {
			if d != nil {
				d.device = v
			}
		}
	case port > b.Cmd && port < b.Cmd+sff.DEVICE:
		r := int(port-b.Cmd) - 1
		for _, d := range b.Dev {
			if d != nil {
				d.prev[r], d.cur[r] = d.cur[r], v
			}
		}
	case port == b.BM+sff.BMICX:
		b.bmCommand(v)
	case port == b.BM+sff.BMISX:
		b.bmst = b.bmst&^(sff.DMA0CAP|sff.DMA1CAP) | v&(sff.DMA0CAP|sff.DMA1CAP)
		b.bmst &^= v & (sff.IDEINTS | sff.IDEDMAERR)
	}
}

// selectedBusy reports whether the selected device shows BSY, without
// counting a STATUS read.
func (b *Bus) selectedBusy() bool {
	if d := b.dev(); d != nil {
		return d.busyLeft > 0 || d.hung
	}
	return b.absentBusy > 0
}

// control handles a DEVICE CONTROL write: nIEN, HOB, and SRST, whose
// falling edge resets both devices (ATA8-APT software reset protocol).
func (b *Bus) control(v uint8) {
	old := b.ctl
	b.ctl = v
	if old&sff.SRST == 0 || v&sff.SRST != 0 {
		return
	}
	b.phase, b.intrq, b.bmcmd = idle, false, 0
	b.bmst &^= sff.BMIDEA
	b.absentBusy = b.AbsentBusyReads
	for _, d := range b.Dev {
		if d == nil {
			continue
		}
		d.signature()
		d.hung = false
		d.err = 1
		d.status = miniport.DRDY | miniport.DSC
		if d.Spec.ATAPI {
			d.status = 0
			if d.UnitAttention {
				d.ua = ascPowerOnReset
			}
		}
		d.busyLeft = d.BusyReads
	}
}

// In16 implements miniport.PortIO.
func (b *Bus) In16(port uint16) uint16 {
	var w [2]byte
	b.mu.Lock()
	defer b.unlock()
	if port == b.Cmd+sff.DATA {
		b.dataIn(w[:])
	}
	v := binary.LittleEndian.Uint16(w[:])
	b.record(Op{Port: port, Size: 2, Value: uint32(v)})
	return v
}

// Out16 implements miniport.PortIO.
func (b *Bus) Out16(port uint16, v uint16) {
	var w [2]byte
	binary.LittleEndian.PutUint16(w[:], v)
	b.mu.Lock()
	defer b.unlock()
	b.record(Op{Write: true, Port: port, Size: 2, Value: uint32(v)})
	if port == b.Cmd+sff.DATA {
		b.dataOut(w[:])
	}
}

// In32 implements miniport.PortIO.
func (b *Bus) In32(port uint16) uint32 {
	b.mu.Lock()
	defer b.unlock()
	var v uint32
	if port == b.BM+sff.BMIDTPX {
		v = b.prd
	}
	b.record(Op{Port: port, Size: 4, Value: v})
	return v
}

// Out32 implements miniport.PortIO.
func (b *Bus) Out32(port uint16, v uint32) {
	b.mu.Lock()
	defer b.unlock()
	b.record(Op{Write: true, Port: port, Size: 4, Value: v})
	if port == b.BM+sff.BMIDTPX {
		b.prd = v &^ 3
	}
}

// InsW implements miniport.PortIO.
func (b *Bus) InsW(port uint16, buf []byte) { b.ins(port, buf, 2) }

// InsL implements miniport.PortIO.
func (b *Bus) InsL(port uint16, buf []byte) { b.ins(port, buf, 4) }

// OutsW implements miniport.PortIO.
func (b *Bus) OutsW(port uint16, buf []byte) { b.outs(port, buf, 2) }

// OutsL implements miniport.PortIO.
func (b *Bus) OutsL(port uint16, buf []byte) { b.outs(port, buf, 4) }

func (b *Bus) ins(port uint16, buf []byte, size int) {
	b.mu.Lock()
	defer b.unlock()
	b.record(Op{Port: port, Size: size, Len: len(buf)})
	if port != b.Cmd+sff.DATA {
		return
	}
	if size != 4 || b.phase != packetIn || b.sector == 0 {
		b.dataIn(buf)
		return
	}
	// QEMU hands PACKET READ (10) data to the DATA port one sector at a
	// time, whatever the byte count: a doubleword read that would cross
	// the end of that sector reads 0 and moves nothing (hw/ide/core.c
	// ide_data_readl, "p + 4 > s->data_end").
	for i := 0; i < len(buf); i += 4 {
		if b.pos%b.sector+4 > b.sector {
			clear(buf[i : i+4])
			continue
		}
		b.dataIn(buf[i : i+4])
	}
}

func (b *Bus) outs(port uint16, buf []byte, size int) {
	b.mu.Lock()
	defer b.unlock()
	b.record(Op{Write: true, Port: port, Size: size, Len: len(buf)})
	if port == b.Cmd+sff.DATA {
		b.dataOut(buf)
	}
}

// dataIn reads DATA: the bytes of the PIO data-in block or PACKET chunk in
// progress, zeros outside a data phase.
func (b *Bus) dataIn(p []byte) {
	d := b.dev()
	if d == nil || b.phase != pioIn && b.phase != packetIn {
		for i := range p {
			p[i] = 0
		}
		return
	}
	n := copy(p, b.buf[b.pos:])
	for i := n; i < len(p); i++ {
		p[i] = 0
	}
	b.pos += n
	switch b.phase {
	case pioIn:
		switch {
		case b.pos >= len(b.buf) && d.ExtraDRQ && b.cmd != miniport.IDENTIFY_DEVICE && b.cmd != miniport.IDENTIFY_PACKET_DEVICE:
			b.buf = append(b.buf, make([]byte, b.block)...) // one more block than asked for
			b.raise()
		case b.pos >= len(b.buf):
			b.phase = idle
			d.status = miniport.DRDY | miniport.DSC
		case b.pos%b.block == 0:
			b.raise()
		}
	case packetIn:
		if b.pos >= b.end {
			b.packetChunk(d)
		}
	}
}

// dataOut writes DATA: a PIO data-out block or a command packet.
func (b *Bus) dataOut(p []byte) {
	d := b.dev()
	if d == nil {
		return
	}
	switch b.phase {
	case pioOut:
		n := copy(b.buf[b.pos:], p)
		b.pos += n
		switch {
		case b.pos >= len(b.buf):
			b.store(d)
			b.phase = idle
			d.status = miniport.DRDY | miniport.DSC
			b.raise()
		case b.pos%b.block == 0:
			b.raise()
		}
	case cdb:
		b.packet = append(b.packet, p...)
		if len(b.packet) >= 12 {
			b.execPacket(d)
		}
	}
}

// store writes the data of a finished write command to the sectors.
func (b *Bus) store(d *Device) {
	ss := d.sectorSize()
	for i := 0; i*ss < len(b.buf); i++ {
		d.sectors[b.lba+uint64(i)] = append([]byte(nil), b.buf[i*ss:(i+1)*ss]...)
	}
}

// fail ends the command in progress with ERR and ERROR e.
func (b *Bus) fail(d *Device, e uint8) {
	b.phase = idle
	d.status = miniport.DRDY | miniport.DSC | miniport.ERR
	d.err = e
	b.raise()
}

// command executes a COMMAND write, as soon as it is written.
func (b *Bus) command(d *Device, c miniport.Command) {
	d.commands = append(d.commands, c)
	b.cmd = c
	d.err = 0
	b.intrq = false
	switch c {
	case miniport.IDENTIFY_DEVICE, miniport.IDENTIFY_PACKET_DEVICE:
		if d.Spec.ATAPI != (c == miniport.IDENTIFY_PACKET_DEVICE) {
			if d.Spec.ATAPI {
				d.signature() // ATA8-ACS IDENTIFY DEVICE: a PACKET device aborts with its signature
			}
			b.fail(d, miniport.ABRT)
			return
		}
		id := BuildIdentify(d.Spec)
		if d.Identify != nil {
			id = make([]byte, 512)
			copy(id, d.Identify)
		}
		b.startIn(d, id, 512)
	case miniport.READ_SECTORS, miniport.READ_SECTORS_EXT, miniport.READ_DMA, miniport.READ_DMA_EXT,
		miniport.WRITE_SECTORS, miniport.WRITE_SECTORS_EXT, miniport.WRITE_DMA, miniport.WRITE_DMA_EXT:
		b.readWrite(d, c)
	case miniport.READ_MULTIPLE, miniport.READ_MULTIPLE_EXT, miniport.WRITE_MULTIPLE, miniport.WRITE_MULTIPLE_EXT:
		if d.multiple == 0 {
			b.fail(d, miniport.ABRT) // ATA8-ACS READ MULTIPLE: aborted until SET MULTIPLE MODE
			return
		}
		b.readWrite(d, c)
	case miniport.SET_MULTIPLE_MODE:
		// ATA8-ACS SET MULTIPLE MODE: a power of two up to IDENTIFY word 47.
		n := int(d.cur[1])
		if d.Spec.ATAPI || n == 0 || n&(n-1) != 0 || n > int(d.Spec.MultipleMax) {
			b.fail(d, miniport.ABRT)
			return
		}
		d.multiple = n
		b.done(d)
	case miniport.FLUSH_CACHE, miniport.FLUSH_CACHE_EXT:
		b.done(d)
	case miniport.SET_FEATURES:
		if d.cur[0] == miniport.SETFEATURES_XFER {
			d.modes = append(d.modes, d.cur[1])
		}
		b.done(d)
	case miniport.PACKET:
		if !d.Spec.ATAPI {
			b.fail(d, miniport.ABRT)
			return
		}
		b.phase, b.packet = cdb, b.packet[:0]
		b.limit = int(d.cur[3]) | int(d.cur[4])<<8
		b.toMem = d.cur[0]&miniport.PACKET_FEATURES_DMA != 0
		d.cur[1] = sff.CoD
		d.status = miniport.DRQ
		if d.Spec.PacketDRQ == uint8(miniport.DRQInterrupt) {
			b.raise()
		}
	default:
		b.fail(d, miniport.ABRT)
	}
}

// done completes a non-data command.
func (b *Bus) done(d *Device) {
	b.phase = idle
	d.status = miniport.DRDY | miniport.DSC
	b.raise()
}

func (b *Bus) startIn(d *Device, data []byte, block int) {
	b.phase, b.buf, b.pos, b.block = pioIn, data, 0, block
	d.status = miniport.DRDY | miniport.DSC | miniport.DRQ
	b.raise()
}

// readWrite executes a read or write command, decoding a 28-bit or 48-bit
// address (ATA8-ACS, 28-bit and 48-bit commands) from the register FIFOs.
func (b *Bus) readWrite(d *Device, c miniport.Command) {
	ext := c == miniport.READ_SECTORS_EXT || c == miniport.READ_DMA_EXT ||
		c == miniport.WRITE_SECTORS_EXT || c == miniport.WRITE_DMA_EXT ||
		c == miniport.READ_MULTIPLE_EXT || c == miniport.WRITE_MULTIPLE_EXT
	var lba uint64
	var count int
	if ext {
		lba = uint64(d.cur[2]) | uint64(d.cur[3])<<8 | uint64(d.cur[4])<<16 |
			uint64(d.prev[2])<<24 | uint64(d.prev[3])<<32 | uint64(d.prev[4])<<40
		count = int(d.cur[1]) | int(d.prev[1])<<8
		if count == 0 {
			count = 65536
		}
	} else {
		lba = uint64(d.cur[2]) | uint64(d.cur[3])<<8 | uint64(d.cur[4])<<16 | uint64(d.device&0x0f)<<24
		count = int(d.cur[1])
		if count == 0 {
			count = 256
		}
	}
	if d.Hang || d.HangCommands > 0 {
		if d.HangCommands > 0 {
			d.HangCommands--
		}
		d.hung = true
		return
	}
	if lba+uint64(count) > d.Capacity {
		b.fail(d, miniport.IDNF|miniport.ABRT)
		return
	}
	for s := lba; s < lba+uint64(count); s++ {
		if e, bad := d.BadSectors[s]; bad {
			if ext {
				d.prev[2], d.prev[3], d.prev[4] = uint8(s>>24), uint8(s>>32), uint8(s>>40)
			} else {
				d.device = d.device&0xf0 | uint8(s>>24)&0x0f
			}
			d.cur[2], d.cur[3], d.cur[4] = uint8(s), uint8(s>>8), uint8(s>>16)
			b.fail(d, e)
			return
		}
	}
	if d.ErrorAt != nil {
		if e := d.ErrorAt(c, lba); e != 0 {
			b.fail(d, e)
			return
		}
	}
	ss := d.sectorSize()
	b.lba = lba
	write := c == miniport.WRITE_SECTORS || c == miniport.WRITE_SECTORS_EXT ||
		c == miniport.WRITE_DMA || c == miniport.WRITE_DMA_EXT ||
		c == miniport.WRITE_MULTIPLE || c == miniport.WRITE_MULTIPLE_EXT
	block := ss
	if c == miniport.READ_MULTIPLE || c == miniport.READ_MULTIPLE_EXT ||
		c == miniport.WRITE_MULTIPLE || c == miniport.WRITE_MULTIPLE_EXT {
		block = d.multiple * ss
	}
	dma := c == miniport.READ_DMA || c == miniport.READ_DMA_EXT ||
		c == miniport.WRITE_DMA || c == miniport.WRITE_DMA_EXT
	var data []byte
	if write {
		data = make([]byte, count*ss)
	} else {
		data = make([]byte, 0, count*ss)
		for i := 0; i < count; i++ {
			data = append(data, d.sector(lba+uint64(i))...)
		}
	}
	switch {
	case dma:
		b.phase, b.buf, b.pos, b.toMem = dmaWait, data, 0, !write
		d.status = miniport.DRDY | miniport.DSC | miniport.DRQ
	case write:
		b.phase, b.buf, b.pos, b.block = pioOut, data, 0, block
		d.status = miniport.DRDY | miniport.DSC | miniport.DRQ
		d.busyLeft = d.WriteDelay
	default:
		b.startIn(d, data, block)
	}
}

// ASCs (SPC-3 Annex D) the fake device reports.
const (
	ascMediumMayHaveChanged = 0x28
	ascPowerOnReset         = 0x29
	ascMediumNotPresent     = 0x3a
	ascNotReady             = 0x04 // with ASCQ 01h: LOGICAL UNIT IS IN PROCESS OF BECOMING READY
	ascLBAOutOfRange        = 0x21
	ascInvalidOpcode        = 0x20
)

// execPacket executes a command packet (MMC: REQUEST SENSE, READ CAPACITY
// (10), READ (10), TEST UNIT READY), failing with a sense key in ERROR[7:4]
// otherwise. As an ATAPI device without autosense (and QEMU's), it keeps a
// UNIT ATTENTION until REQUEST SENSE reports it: every other packet fails
// with it meanwhile.
func (b *Bus) execPacket(d *Device) {
	p := b.packet
	senseFail := func(key, asc, ascq uint8) {
		d.sense = [3]uint8{key, asc, ascq}
		b.phase = idle
		d.cur[1] = sff.CoD | sff.IO
		d.status = miniport.DRDY | miniport.ERR
		d.err = key<<4 | miniport.ABRT
		b.raise()
	}
	if p[0] != 0x03 {
		if d.MediumChange {
			d.MediumChange, d.ua = false, ascMediumMayHaveChanged
		}
		if d.ua != 0 {
			senseFail(0x6, d.ua, 0) // UNIT ATTENTION
			return
		}
		if d.NoMedium {
			senseFail(0x2, ascMediumNotPresent, 0) // NOT READY
			return
		}
		if d.BecomingReady > 0 {
			d.BecomingReady--
			senseFail(0x2, ascNotReady, 0x01) // NOT READY
			return
		}
	}
	var data []byte
	sense := d.sense
	d.sense = [3]uint8{}
	b.sector = 0
	switch p[0] {
	case 0x00: // TEST UNIT READY
	case 0x03: // REQUEST SENSE: fixed format (SPC-3 4.5.3), ends a UNIT ATTENTION
		if d.ua != 0 {
			sense, d.ua = [3]uint8{0x6, d.ua, 0}, 0
		}
		data = make([]byte, 18)
		data[0], data[2], data[7], data[12], data[13] = 0x70, sense[0], 10, sense[1], sense[2]
		data = data[:min(len(data), int(p[4]))]
	case 0x25: // READ CAPACITY (10)
		data = make([]byte, 8)
		binary.BigEndian.PutUint32(data, uint32(d.Capacity-1))
		binary.BigEndian.PutUint32(data[4:], uint32(d.sectorSize()))
	case 0x28: // READ (10)
		lba := uint64(binary.BigEndian.Uint32(p[2:]))
		n := uint64(binary.BigEndian.Uint16(p[7:]))
		if lba+n > d.Capacity {
			senseFail(0x5, ascLBAOutOfRange, 0) // ILLEGAL REQUEST
			return
		}
		for i := uint64(0); i < n; i++ {
			data = append(data, d.sector(lba+i)...)
		}
		b.sector = d.sectorSize()
		if d.ChangeAfter > 0 {
			d.ChangeAfter--
			d.MediumChange = d.ChangeAfter == 0
		}
	default:
		senseFail(0x5, ascInvalidOpcode, 0)
		return
	}
	b.buf, b.pos, b.end = data, 0, 0
	if b.toMem && len(data) > 0 {
		b.phase = dmaWait
		d.status = miniport.DRDY | miniport.DRQ
		return
	}
	b.packetChunk(d)
}

// packetChunk offers the next PIO chunk of PACKET data, at most the byte
// count limit, or ends the command with the status phase.
func (b *Bus) packetChunk(d *Device) {
	left := len(b.buf) - b.pos
	if left == 0 {
		b.phase = idle
		d.cur[1] = sff.CoD | sff.IO
		d.status = miniport.DRDY
		b.raise()
		return
	}
	n := left
	if n > b.limit {
		n = b.limit
	}
	b.phase, b.end = packetIn, b.pos+n
	d.cur[1] = sff.IO
	d.cur[3], d.cur[4] = uint8(n), uint8(n>>8)
	d.status = miniport.DRDY | miniport.DRQ
	b.raise()
}

// bmCommand handles a BMICX write: setting SSBM with a DMA command waiting
// runs the whole transfer through the PRD table (SFF-8038i programming sequence, step 5) and
// raises INTRQ; clearing SSBM stops the engine.
func (b *Bus) bmCommand(v uint8) {
	old := b.bmcmd
	b.bmcmd = v & (sff.SSBM | sff.RWCON)
	if v&sff.SSBM == 0 {
		b.bmst &^= sff.BMIDEA
		return
	}
	if old&sff.SSBM != 0 {
		return
	}
	b.bmst |= sff.BMIDEA
	d := b.dev()
	if b.phase != dmaWait || d == nil {
		return
	}
	if (v&sff.RWCON != 0) != b.toMem {
		b.bmst |= sff.IDEDMAERR
	}
	if d.DMAShort > 0 && d.DMAShort < len(b.buf) {
		b.buf = b.buf[:len(b.buf)-d.DMAShort]
	}
	if d.DMALong > 0 {
		// SFF-8038i, IDEINTS 0 and BMIDEA 0: the PRD table ran out
		// before the device's data; the device waits with DRQ set and
		// does not interrupt.
		b.buf = append(b.buf, make([]byte, d.DMALong)...)
		b.walkPRD()
		b.bmst &^= sff.BMIDEA
		return
	}
	exhausted := b.walkPRD()
	if d.DMAError {
		b.bmst |= sff.IDEDMAERR
	}
	if exhausted {
		b.bmst &^= sff.BMIDEA
	}
	if !b.toMem {
		b.store(d)
	}
	b.phase = idle
	if b.cmd == miniport.PACKET {
		d.cur[1] = sff.CoD | sff.IO
		d.status = miniport.DRDY
	} else {
		d.status = miniport.DRDY | miniport.DSC
	}
	b.raise()
}

// walkPRD moves b.buf through the PRD table and reports whether the table
// ended (EOT) exactly with the data.
func (b *Bus) walkPRD() bool {
	addr := uint64(b.prd)
	for {
		e, ok := b.Mem.Slice(addr, 8)
		if !ok {
			b.bmst |= sff.IDEDMAERR
			return true
		}
		base := uint64(binary.LittleEndian.Uint32(e))
		ctl := binary.LittleEndian.Uint32(e[4:])
		n := int(ctl & 0xffff)
		if n == 0 {
			n = 0x10000
		}
		if left := len(b.buf) - b.pos; n > left {
			n = left
		}
		m, ok := b.Mem.Slice(base, n)
		if !ok {
			b.bmst |= sff.IDEDMAERR
			return true
		}
		if b.toMem {
			copy(m, b.buf[b.pos:b.pos+n])
		} else {
			copy(b.buf[b.pos:b.pos+n], m)
		}
		b.pos += n
		eot := ctl&sff.PRD_EOT != 0
		if b.pos == len(b.buf) {
			return eot && n == int(ctl&0xffff) || eot && ctl&0xffff == 0 && n == 0x10000
		}
		if eot {
			return true
		}
		addr += 8
	}
}
