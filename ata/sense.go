package ata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// An ATAPI device's sense data and its medium. A PACKET command that ends
// with CHECK CONDITION (ERR) puts only the sense key in ERROR[7:4]; the
// rest, and the end of a UNIT ATTENTION condition, take REQUEST SENSE
// (SPC-3 6.27), which the port sends at once, in PIO, as libata's
// atapi_eh_request_sense does and ataport does for a miniport without
// autosense. A device without autosense keeps a UNIT ATTENTION (a reset, a
// medium change) until REQUEST SENSE reports it: every other command fails
// with it meanwhile (QEMU's ATAPI model does exactly that). Any other
// command replaces the sense data, so no other caller's may reach the
// drive in between: a PACKET command starts only on an idle channel
// (exclusive), and its failure holds the channel's queue from its
// completion to its REQUEST SENSE (holdForSense), as ataport holds it for
// a miniport without autosense. The port's own requests (a recovery's
// reset, IDENTIFY and SET FEATURES) still start while it is held, as they
// do during a recovery: the sense data of a failure that meets one of them
// can be lost, as a reset loses it.

// SPC-3 REQUEST SENSE and the sense codes the port acts on (SPC-3 4.5.6,
// Annex D).
const (
	spcRequestSense = 0x03
	senseLength     = 18 // fixed-format sense data, what REQUEST SENSE asks for

	SenseNotReady       = 0x2
	SenseUnitAttention  = 0x6
	senseAbortedCommand = 0xb
	ascNotReady         = 0x04 // LOGICAL UNIT NOT READY; the ASCQ says why
	ASCMediumNotPresent = 0x3a
)

// readyPoll is how often a command that found the drive becoming ready is
// sent again (untilReady).
const readyPoll = 100 * time.Millisecond

// Sense is a PACKET command's sense data: sense key, additional sense code
// and its qualifier.
type Sense struct {
	Key, ASC, ASCQ uint8
}

// ascNames are the additional sense codes (SPC-3 Annex D, MMC-5) a CD or
// DVD drive reports most, by ASC with ASCQ 0 unless named.
var ascNames = map[[2]uint8]string{
	{0x04, 0x00}: "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE",
	{0x04, 0x01}: "LOGICAL UNIT IS IN PROCESS OF BECOMING READY",
	{0x04, 0x07}: "LOGICAL UNIT NOT READY, OPERATION IN PROGRESS",
	{0x04, 0x08}: "LOGICAL UNIT NOT READY, LONG WRITE IN PROGRESS",
	{0x11, 0x00}: "UNRECOVERED READ ERROR",
	{0x20, 0x00}: "INVALID COMMAND OPERATION CODE",
	{0x21, 0x00}: "LOGICAL BLOCK ADDRESS OUT OF RANGE",
	{0x24, 0x00}: "INVALID FIELD IN CDB",
	{0x28, 0x00}: "NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED",
	{0x29, 0x00}: "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED",
	{0x30, 0x00}: "INCOMPATIBLE MEDIUM INSTALLED",
	{0x3a, 0x00}: "MEDIUM NOT PRESENT",
	{0x64, 0x00}: "ILLEGAL MODE FOR THIS TRACK",
}

// String returns "sense 6/28/00 NOT READY TO READY CHANGE, MEDIUM MAY HAVE
// CHANGED": key, ASC and ASCQ in hex, then the ASC's name when known.
func (s Sense) String() string {
	str := fmt.Sprintf("sense %x/%02x/%02x", s.Key, s.ASC, s.ASCQ)
	if n, ok := ascNames[[2]uint8{s.ASC, s.ASCQ}]; ok {
		str += " " + n
	}
	return str
}

// parseSense reads fixed-format (70h, 71h) or descriptor-format (72h, 73h)
// sense data (SPC-3 4.5.2, 4.5.3).
func parseSense(b []byte) (Sense, bool) {
	if len(b) < 4 {
		return Sense{}, false
	}
	switch b[0] & 0x7f {
	case 0x70, 0x71:
		if len(b) < 14 {
			return Sense{}, false
		}
		return Sense{Key: b[2] & 0xf, ASC: b[12], ASCQ: b[13]}, true
	case 0x72, 0x73:
		return Sense{Key: b[1] & 0xf, ASC: b[2], ASCQ: b[3]}, true
	}
	return Sense{}, false
}

// execPacket runs the PACKET command built in r for d and returns its
// error; on CHECK CONDITION the error carries the sense data (Error.Sense),
// read with r by REQUEST SENSE while the failure holds the channel's queue,
// and is ErrNoMedium when the sense says there is no medium.
// r's data is the command's own only when it succeeded.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) execPacket(d *Device, r *request, op string, lba uint64, count int, hasLBA bool) error {
	r.wantsSense = true
	ch.exec(r)
	err := completionError(d.name, &r.irb, op, lba, count, hasLBA, ch.timeout, ch.busyTimeout)
	if r.irb.Status != miniport.StatusDeviceError {
		return err
	}
	s, ok := ch.requestSense(d, r)
	ch.senseWait.Add(-1)
	ch.pump(true)
	var e *Error
	if ok && errors.As(err, &e) {
		e.Sense, e.HasSense = s, true
		e.Detail += "; " + s.String()
		if s.Key == SenseNotReady && s.ASC == ASCMediumNotPresent {
			e.Kind = ErrNoMedium
		}
	}
	return err
}

// holdForSense holds the channel's queue when r, which has just ended, is
// a PACKET command that failed with CHECK CONDITION and whose caller sends
// REQUEST SENSE next (execPacket, which lets the queue go after it). finish
// runs it for every request, before r's waiter is woken, in the section
// that would start the next request, so that no request of an upper layer
// reaches the drive between the failure and its sense data.
//
// Context: PASSIVE or DISPATCH, no lock held; does not block or allocate.
func (ch *Channel) holdForSense(r *request) {
	if r.wantsSense && r.irb.Status == miniport.StatusDeviceError {
		ch.senseWait.Add(1)
	}
}

// requestSense reads d's sense data with r: REQUEST SENSE in PIO, an
// internal request, which starts while the failure holds the queue.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) requestSense(d *Device, r *request) (Sense, bool) {
	r.reset(miniport.FunctionATAPI, d.target, ch.timeout)
	r.irb.Cdb[0], r.irb.Cdb[4] = spcRequestSense, senseLength
	r.irb.CdbLength = packetLength
	r.setData(senseLength, miniport.FlagDataIn)
	r.internal = true
	ch.exec(r)
	n := len(r.irb.Data)
	switch r.irb.Status {
	case miniport.StatusSuccess:
	case miniport.StatusDataLengthMismatch: // fewer bytes than asked: allowed (SPC-3 4.5.1)
		n = r.irb.Transferred
	default:
		return Sense{}, false
	}
	return parseSense(r.irb.Data[:n])
}

// capacity reads the capacity of d's medium with r: READ CAPACITY (10),
// the last LBA and the block length, big-endian (SBC-3 5.10). It tries
// again after a medium event (mediumEvent): REQUEST SENSE has ended a UNIT
// ATTENTION, and a drive whose disc was swapped reports MEDIUM NOT PRESENT
// once before it (QEMU's does, as a tray that opened and closed); and while
// the drive is becoming ready (untilReady).
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) capacity(d *Device, r *request, internal bool) (sectors uint64, block int, err error) {
	for try := 0; try < packetRetries; try++ {
		err = ch.untilReady(func() error {
			r.reset(miniport.FunctionATAPI, d.target, ch.timeout)
			r.irb.Cdb[0] = mmcReadCapacity10
			r.irb.CdbLength = packetLength
			r.setData(8, miniport.FlagDataIn)
			r.internal = internal
			return ch.execPacket(d, r, "PACKET READ CAPACITY(10)", 0, 0, false)
		})
		if err != nil {
			if mediumEvent(err) {
				continue
			}
			return 0, 0, err
		}
		last := binary.BigEndian.Uint32(r.irb.Data)
		block := binary.BigEndian.Uint32(r.irb.Data[4:])
		if block == 0 || block&(block-1) != 0 || int(block) > ch.maxXfer {
			return 0, 0, &Error{Device: d.name, Command: "PACKET READ CAPACITY(10)", Kind: ErrProtocol,
				Detail: fmt.Sprintf("block length %d", block)}
		}
		return uint64(last) + 1, int(block), nil
	}
	return 0, 0, err
}

// becomingReady reports an error whose sense data says the drive will be
// ready soon: NOT READY, LOGICAL UNIT NOT READY with ASCQ 01h (becoming
// ready: a disc spinning up), 07h (operation in progress) or 08h (long
// write in progress), SPC-3 Annex D; Linux's SCSI midlayer sends such a
// command again after a delay (scsi_io_completion, ACTION_DELAYED_RETRY).
func becomingReady(err error) bool {
	s, ok := senseOf(err)
	return ok && s.Key == SenseNotReady && s.ASC == ascNotReady && (s.ASCQ == 0x01 || s.ASCQ == 0x07 || s.ASCQ == 0x08)
}

// untilReady runs try, which sends a PACKET command, and again every
// readyPoll while the drive answers that it is becoming ready, for at most
// the channel's command timeout; the error then says how long it waited.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) untilReady(try func() error) error {
	err := try()
	start := now()
	for becomingReady(err) && now()-start < ch.timeout {
		kernel.Sleep(readyPoll)
		err = try()
	}
	var e *Error
	if becomingReady(err) && errors.As(err, &e) {
		e.Detail += "; not ready after " + ch.timeout.String()
	}
	return err
}

// senseOf returns the sense data err carries, if any.
func senseOf(err error) (Sense, bool) {
	var e *Error
	if errors.As(err, &e) && e.HasSense {
		return e.Sense, true
	}
	return Sense{}, false
}

// mediumEvent reports an error that says the medium changed or went: a
// UNIT ATTENTION, or no medium (what a drive, and QEMU, report first when
// a disc was swapped).
func mediumEvent(err error) bool {
	s, ok := senseOf(err)
	return ok && s.Key == SenseUnitAttention || errors.Is(err, ErrNoMedium)
}

// Revalidate reads the capacity of an ATAPI device's medium again (READ
// CAPACITY (10)), as after a disc was inserted, swapped or taken out:
// Sectors and Size then describe the medium in the drive now, 0 sectors
// for none (the error is then ErrNoMedium). ReadAt does it by itself when a
// command reports a medium change; a caller about to use Sectors, as the
// shell is, calls it first. An ATA device's capacity does not change: nil.
//
// Context: PASSIVE, IF=1; blocks. Safe for concurrent callers.
func (d *Device) Revalidate() error {
	if d.typ != miniport.DeviceATAPI {
		return nil
	}
	r := d.ch.get()
	defer d.ch.put(r)
	return d.revalidate(r)
}

// revalidate is Revalidate with the request block r.
func (d *Device) revalidate(r *request) error {
	sectors, block, err := d.ch.capacity(d, r, false)
	if err != nil {
		if errors.Is(err, ErrNoMedium) && d.sectors.Swap(0) != 0 {
			d.ch.log("%s: medium removed", d.name)
		}
		return err
	}
	if block != d.sectorSize {
		return &Error{Device: d.name, Command: "PACKET READ CAPACITY(10)", Kind: ErrProtocol,
			Detail: fmt.Sprintf("block length %d on a device found with %d-byte blocks", block, d.sectorSize)}
	}
	if d.sectors.Swap(sectors) != sectors {
		d.ch.log("%s: medium changed: %d sectors of %d bytes", d.name, sectors, block)
	}
	return nil
}
