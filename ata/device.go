package ata

import (
	"encoding/binary"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Mode is how a device moves its data.
type Mode uint8

// Data transfer modes.
const (
	ModePIO Mode = iota // through the DATA register, by the ISR
	ModeDMA             // by the controller's bus master
)

// String returns "PIO" or "DMA".
func (m Mode) String() string {
	if m == ModeDMA {
		return "DMA"
	}
	return "PIO"
}

// flushTimeout bounds FLUSH CACHE (EXT), which may write a whole cache.
const flushTimeout = 30 * time.Second

// Device is an ATA or ATAPI device found on a channel: the block device of
// upper layers. It is safe for concurrent use; its methods block, at
// PASSIVE, until the device has answered.
type Device struct {
	ch         *Channel
	target     int
	name       string // "ata0.1", in messages
	id         string // "0:1", Name()
	typ        miniport.DeviceType
	ident      miniport.Identify
	raw        [miniport.IdentifyLength]byte
	sectors    atomic.Uint64 // an ATAPI device's changes with its medium (Revalidate)
	sectorSize int
	modes      miniport.TransferModes
	dma        atomic.Bool
	writable   atomic.Bool
	multiple   atomic.Int32 // sectors per DRQ block of READ/WRITE MULTIPLE, 0 for none (multiple.go)
	ncq        atomic.Bool  // DMA reads and writes go as native queued commands (FlagQueued)
}

// Name returns "channel:target": "0:0" for the primary master.
//
// Context: any IRQL; does not block or allocate.
func (d *Device) Name() string { return d.id }

// String returns the name used in messages: "ata0.0".
func (d *Device) String() string { return d.name }

// Channel returns the channel the device is on.
func (d *Device) Channel() *Channel { return d.ch }

// Target returns 0 for the master (device 0), 1 for the slave.
func (d *Device) Target() int { return d.target }

// Type returns ATA or ATAPI.
func (d *Device) Type() miniport.DeviceType { return d.typ }

// Identify returns the device's parsed IDENTIFY (PACKET) DEVICE data.
func (d *Device) Identify() miniport.Identify { return d.ident }

// IdentifyData returns the 512 bytes of IDENTIFY data as the device sent
// them.
func (d *Device) IdentifyData() []byte { return append([]byte(nil), d.raw[:]...) }

// Size returns the capacity in bytes.
func (d *Device) Size() int64 { return int64(d.sectors.Load()) * int64(d.sectorSize) }

// Sectors returns the capacity in sectors.
func (d *Device) Sectors() uint64 { return d.sectors.Load() }

// SectorSize returns the logical sector size in bytes: 512 for most ATA
// disks, 2048 for CD/DVD.
func (d *Device) SectorSize() int { return d.sectorSize }

// Modes returns the transfer modes set on the device: one PIO mode and at
// most one DMA mode.
func (d *Device) Modes() miniport.TransferModes { return d.modes }

// Mode returns how the device moves data now.
func (d *Device) Mode() Mode {
	if d.dma.Load() {
		return ModeDMA
	}
	return ModePIO
}

// SetMode chooses PIO or DMA for the device's reads and writes. DMA needs
// a DMA mode set on the device and a channel with a bus master.
//
// Context: any IRQL below DISPATCH; does not block.
func (d *Device) SetMode(m Mode) error {
	if m == ModeDMA && (d.modes.DMA() == 0 || !d.ch.info.DMA) {
		return &Error{Device: d.name, Command: "set mode DMA", Kind: ErrInvalid,
			Detail: "no DMA mode set on the device or no bus master on the channel (modes " + d.modes.String() + ")"}
	}
	d.dma.Store(m == ModeDMA)
	return nil
}

// NCQ reports whether DMA reads and writes run as native queued commands.
func (d *Device) NCQ() bool { return d.ncq.Load() }

// NCQCapable reports whether the device and its channel can queue: the
// device announces NCQ (IDENTIFY word 76) and the channel takes more than
// one request at a time.
func (d *Device) NCQCapable() bool {
	return d.ident.NCQ && d.ident.LBA48 && d.ch.depth > 1
}

// SetNCQ turns native command queuing on or off for the device's DMA
// reads and writes; on by default where NCQCapable.
//
// Context: any IRQL below DISPATCH; does not block.
func (d *Device) SetNCQ(on bool) error {
	if on && !d.NCQCapable() {
		return &Error{Device: d.name, Command: "set NCQ", Kind: ErrInvalid,
			Detail: "the device announces no NCQ (IDENTIFY word 76 bit 8) or its channel takes one request at a time"}
	}
	d.ncq.Store(on)
	return nil
}

// Writable reports whether WriteAt is allowed.
func (d *Device) Writable() bool { return d.writable.Load() }

// SetWritable allows or refuses WriteAt. Devices start read-only; ATAPI
// devices stay so.
func (d *Device) SetWritable(on bool) error {
	if on && d.typ == miniport.DeviceATAPI {
		return &Error{Device: d.name, Command: "set writable", Kind: ErrReadOnly,
			Detail: "ATAPI devices are read-only here"}
	}
	d.writable.Store(on)
	return nil
}

// maxSectors returns the most sectors one command moves: what the channel
// takes into the caller's memory (direct), or what a request's bounce
// buffer holds.
func (d *Device) maxSectors(direct bool) int {
	if direct {
		return d.ch.dio.max / d.sectorSize
	}
	return d.ch.maxXfer / d.sectorSize
}

// ReadAt reads len(p) bytes from byte offset off (io.ReaderAt). off and
// len(p) must be whole sectors, and the range within the device; the
// transfer is split into commands the device accepts.
//
// Context: PASSIVE, IF=1; blocks. Safe for concurrent callers.
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	kernel.AssertMayBlock("ata: Device.ReadAt")
	return d.transfer(p, off, false)
}

// WriteAt writes len(p) bytes at byte offset off (io.WriterAt), once
// SetWritable(true) allowed it; the same rules as ReadAt apply. Nothing
// reaches the device when the request is refused.
//
// Context: PASSIVE, IF=1; blocks. Safe for concurrent callers.
func (d *Device) WriteAt(p []byte, off int64) (int, error) {
	kernel.AssertMayBlock("ata: Device.WriteAt")
	return d.transfer(p, off, true)
}

// check refuses, before anything reaches the hardware, a transfer that is
// not whole sectors, is out of the device's range, or writes a read-only
// device. It returns the first LBA and the sector count.
func (d *Device) check(p []byte, off int64, write bool) (uint64, int, error) {
	op := "read"
	if write {
		op = "write"
	}
	ss := int64(d.sectorSize)
	if off < 0 || off%ss != 0 || int64(len(p))%ss != 0 {
		return 0, 0, &Error{Device: d.name, Command: op, Kind: ErrInvalid,
			Detail: "offset " + strconv.FormatInt(off, 10) + " length " + strconv.Itoa(len(p)) +
				": not whole " + strconv.Itoa(d.sectorSize) + "-byte sectors"}
	}
	lba, n := uint64(off/ss), len(p)/int(ss)
	sectors := d.sectors.Load()
	if write && !d.writable.Load() {
		return lba, n, &Error{Device: d.name, Command: op, LBA: lba, Count: n, HasLBA: true, Kind: ErrReadOnly,
			Detail: "not made writable with SetWritable(true)"}
	}
	if lba > sectors || uint64(n) > sectors-lba {
		return lba, n, &Error{Device: d.name, Command: op, LBA: lba, Count: n, HasLBA: true, Kind: ErrRange,
			Detail: "the device has " + strconv.FormatUint(sectors, 10) + " sectors"}
	}
	return lba, n, nil
}

// transfer moves p in as many commands as needed, with one request block.
// A command that fails by a timeout or an interface CRC error is tried
// again, at most maxRetries times (recovery.go); one that finds a CD drive
// becoming ready is sent again until it is ready (untilReady).
func (d *Device) transfer(p []byte, off int64, write bool) (int, error) {
	lba, n, err := d.check(p, off, write)
	if err != nil || n == 0 {
		return 0, err
	}
	r := d.ch.get()
	defer d.ch.put(r)
	done := 0
	for done < n {
		buf := p[done*d.sectorSize:]
		var moved int
		try := 0
		err = d.retry(func() error {
			var err error
			// Retries go non-queued: after an NCQ error on a device
			// without the NCQ Command Error log the miniport fails
			// every queued command (see miniport/ahci recoverSync),
			// and only commands run one at a time tell the failing
			// one.
			queued := try == 0 && d.ncq.Load()
			try++
			if d.typ == miniport.DeviceATAPI {
				err = d.ch.untilReady(func() (err error) {
					moved, err = d.packetRead(r, lba+uint64(done), n-done, buf)
					if mediumEvent(err) {
						moved, err = d.afterMediumEvent(r, p, off, done, err)
					}
					return err
				})
			} else {
				moved, err = d.readWrite(r, lba+uint64(done), n-done, buf, write, queued)
			}
			return err
		})
		if err != nil {
			return done * d.sectorSize, err
		}
		done += moved
	}
	return len(p), nil
}

// retry runs one command through try, and again while it fails with an
// error a retry can cure, at most maxRetries more times; each retry is
// counted in the channel's Stats. The last error says how often the
// command was tried again.
func (d *Device) retry(try func() error) error {
	err := try()
	for n := 1; err != nil && n <= maxRetries && retryable(err); n++ {
		d.ch.stats.retries.Add(1)
		if err = try(); err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Retries = n
				e.Detail += "; after " + strconv.Itoa(n) + " retries"
			}
		}
	}
	return err
}

// readWrite runs one ATA read or write command for the first sectors of
// n from lba, and returns how many it moved. A queued command (DMA only)
// is built as READ/WRITE DMA EXT with FlagQueued, which the miniport turns
// into READ/WRITE FPDMA QUEUED.
func (d *Device) readWrite(r *request, lba uint64, n int, buf []byte, write, queued bool) (int, error) {
	dma := d.dma.Load()
	queued = queued && dma
	r.reset(miniport.FunctionATA, d.target, d.ch.timeout)
	phys, direct := d.ch.dio.direct(buf, dma)
	c, ok := nextCommand(lba, n, d.maxSectors(direct), d.ident.LBA48, write, dma)
	if queued && ok && !c.ext {
		c.ext, c.cmd = true, rwOpcode(write, dma, true)
	}
	c.useMultiple(d.multiple.Load() > 0)
	if !ok || !c.taskFile(&r.irb.TaskFile) {
		return 0, &Error{Device: d.name, Command: rwOpcode(write, dma, d.ident.LBA48).String(), LBA: lba, Count: n,
			HasLBA: true, Kind: ErrRange, Detail: "no command addresses this range"}
	}
	flags := miniport.FlagDRDYRequired | miniport.FlagDataIn
	if write {
		flags = miniport.FlagDRDYRequired | miniport.FlagDataOut
	}
	if c.ext {
		flags |= miniport.Flag48Bit
	}
	if dma {
		flags |= miniport.FlagDMA
	}
	op := c.cmd.String()
	if queued {
		flags |= miniport.FlagQueued
		op = "READ FPDMA QUEUED"
		if write {
			op = "WRITE FPDMA QUEUED"
		}
	}
	bytes := c.count * d.sectorSize
	if direct {
		r.setDirect(buf[:bytes], phys, flags, d.ch.dio.pioSG)
	} else {
		r.setData(bytes, flags)
		if write {
			copy(r.irb.Data, buf[:bytes])
		}
	}
	d.ch.exec(r)
	if err := completionError(d.name, &r.irb, op, c.lba, c.count, true, d.ch.timeout, d.ch.busyTimeout); err != nil {
		return 0, err
	}
	if !write && !direct {
		copy(buf, r.irb.Data)
	}
	return c.count, nil
}

// MMC command packets used (SCSI Multimedia Commands, MMC-5; SBC for READ
// CAPACITY (10)).
const (
	mmcReadCapacity10 = 0x25
	mmcRead10         = 0x28
	packetLength      = 12
)

// packetRead reads the first sectors of n from lba with PACKET READ (10),
// and returns how many it moved.
func (d *Device) packetRead(r *request, lba uint64, n int, buf []byte) (int, error) {
	dma := d.dma.Load()
	phys, direct := d.ch.dio.direct(buf, dma)
	count := n
	if m := d.maxSectors(direct); count > m {
		count = m
	}
	if count > 0xffff {
		count = 0xffff
	}
	r.reset(miniport.FunctionATAPI, d.target, d.ch.timeout)
	r.irb.Cdb[0] = mmcRead10
	binary.BigEndian.PutUint32(r.irb.Cdb[2:], uint32(lba))
	binary.BigEndian.PutUint16(r.irb.Cdb[7:], uint16(count))
	r.irb.CdbLength = packetLength
	flags := miniport.FlagDataIn
	if dma {
		flags |= miniport.FlagDMA
	}
	bytes := count * d.sectorSize
	if direct {
		r.setDirect(buf[:bytes], phys, flags, d.ch.dio.pioSG)
	} else {
		r.setData(bytes, flags)
	}
	if err := d.ch.execPacket(d, r, "PACKET READ(10)", lba, count, true); err != nil {
		return 0, err
	}
	if !direct {
		copy(buf, r.irb.Data)
	}
	return count, nil
}

// afterMediumEvent handles a PACKET READ (10) that failed with a medium
// event (mediumEvent): it reads the medium's capacity again, and, when the
// transfer p at off had read nothing yet and still fits the medium, reads
// again once; otherwise the error says what happened. A transfer that read
// some sectors of the old medium fails: its buffer would hold two discs.
// err is the failed read's.
func (d *Device) afterMediumEvent(r *request, p []byte, off int64, done int, err error) (int, error) {
	if d.revalidate(r) != nil {
		return 0, err
	}
	if done > 0 {
		var e *Error
		if errors.As(err, &e) {
			e.Detail += "; the medium changed after " + strconv.Itoa(done) + " of " + strconv.Itoa(len(p)/d.sectorSize) +
				" sectors were read from the previous one"
		}
		return 0, err
	}
	if _, _, rerr := d.check(p, off, false); rerr != nil {
		var e *Error
		if errors.As(rerr, &e) {
			e.Detail = "the medium changed; " + e.Detail
		}
		return 0, rerr
	}
	return d.packetRead(r, uint64(off/int64(d.sectorSize)), len(p)/d.sectorSize, p)
}

// Flush writes the device's volatile cache to the media with FLUSH CACHE
// EXT or FLUSH CACHE, whichever the device supports (the miniport picks,
// IRB_FUNCTION_ADAPTER_FLUSH). An ATAPI device, read-only here, has
// nothing to flush.
//
// Context: PASSIVE, IF=1; blocks.
func (d *Device) Flush() error {
	kernel.AssertMayBlock("ata: Device.Flush")
	if d.typ == miniport.DeviceATAPI {
		return nil
	}
	r := d.ch.get()
	defer d.ch.put(r)
	timeout := max(d.ch.timeout, flushTimeout)
	return d.retry(func() error {
		r.reset(miniport.FunctionFlush, d.target, timeout)
		r.irb.Flags = miniport.FlagDRDYRequired
		d.ch.exec(r)
		op := "FLUSH CACHE"
		if r.irb.TaskFile.Current.Command != 0 {
			op = miniport.Command(r.irb.TaskFile.Current.Command).String()
		}
		return completionError(d.name, &r.irb, op, 0, 0, false, timeout, d.ch.busyTimeout)
	})
}
