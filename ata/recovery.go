package ata

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Recovery from faults (libata's error handler, in the ataport order):
//
//   - A request whose interrupt never came but whose device shows it
//     finished is completed by the lost-interrupt check, which looks at the
//     request in flight every lostInterruptCheck and at its deadline
//     (timeoutLocked); nothing is reset.
//   - A request that outlives its timeout has the channel reset at DIRQL
//     with the line masked (HwReset: SRST, then the bus master stopped) and
//     fails once with StatusTimeout.
//   - A request that ends in a protocol error (the device moved more or
//     less data than asked) or a bus-master error, or that finds the device
//     busy past the busy timeout, leaves the devices in an unknown state:
//     the worker resets the channel first.
//
// Either way the channel is then held: only the port's own requests start
// (internal requests: discovery, resets, IDENTIFY, SET FEATURES) while the
// worker re-identifies each device and sends it its transfer modes again
// (recoverDevices); the requests queued meanwhile, and a request that was
// built but not started, start after it. The block API then tries a
// request that failed by a timeout or an interface CRC error again, at
// most maxRetries times (Device.transfer), each try a request of its own
// that completes exactly once.

// maxRetries bounds how often the block API tries a command again after an
// error a retry can cure.
const maxRetries = 2

// lostInterruptCheck is how often the port looks at a request in flight
// for a completion whose interrupt was lost, before its timeout.
const lostInterruptCheck = 250 * time.Millisecond

// A deadline that passes while the device has signalled completions not
// serviced yet is looked at again deadlineRecheck later, once they are
// serviced (the completion may be the late request's own), at most
// maxDeferrals times in a row: on a channel with many requests in flight
// under load a completion of some other request may be pending at every
// look, and the late one must still time out.
const (
	deadlineRecheck = time.Millisecond
	maxDeferrals    = 4
)

// recoveryState is a channel's recovery bookkeeping.
type recoveryState struct {
	held  atomic.Bool // a recovery is due or running: only internal requests start
	reset atomic.Bool // the recovery resets the channel first
}

// scheduleRecovery holds the channel's queue and has the worker recover the
// devices, resetting the channel first when reset is set. The caller wakes
// the worker (onTimeout does for timeoutLocked).
//
// Context: any IRQL up to DIRQL; does not block or allocate.
func (ch *Channel) scheduleRecovery(reset bool) {
	if reset {
		ch.rec.reset.Store(true)
	}
	// reinit before held: a recovery ending meanwhile reads reinit again
	// after it lets the queue go (recoverDevices), and holds it again.
	ch.reinit.Store(true)
	ch.rec.held.Store(true)
}

// recoverAfter schedules a recovery with a reset when r, a request of an
// upper layer that has just ended, left its device in a state only a reset
// clears, and wakes the worker for it; it runs before r's waiter is woken,
// so that no request of an upper layer starts in between.
//
// Context: PASSIVE or DISPATCH, no lock held; does not block or allocate.
func (ch *Channel) recoverAfter(r *request) {
	kernel.AssertLevel("ata: recoverAfter", kernel.PASSIVE, kernel.DISPATCH)
	if r.internal || !needsReset(r.irb.Status) {
		return
	}
	ch.scheduleRecovery(true)
	ch.wake(ch.worker)
}

// needsReset reports whether a request that ended in status s leaves its
// device in a state only a reset clears: data left over or missing, a
// bus-master abort, or BSY held past the busy timeout.
func needsReset(s miniport.Status) bool {
	return s == miniport.StatusDataLengthMismatch || s == miniport.StatusHostBusError || s == miniport.StatusBusy
}

// retryable reports whether err, from one command of the block API, is
// worth another try: a timeout, after which the port reset the channel and
// re-programmed its devices, a command aborted by the recovery from
// another's error (StatusBusReset: the queued commands after an NCQ
// error), an interface CRC error (ICRC in ERROR), a transfer garbled on
// the cable, or a PACKET command's ABORTED COMMAND (sense key Bh, which
// SCSI initiators retry). Media errors (UNC, IDNF, MEDIUM ERROR) and
// refusals (ABRT, ILLEGAL REQUEST) are not retried. A PACKET command's
// ERROR holds its sense key in bits 7:4, so ICRC means nothing there.
func retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case miniport.StatusTimeout, miniport.StatusBusReset:
		return true
	case miniport.StatusDeviceError:
		if e.Packet {
			return e.AtaError>>miniport.SenseKeyShift == senseAbortedCommand
		}
		return e.AtaError&miniport.ICRC != 0
	}
	return false
}

// ownBounce is the size of the bounce buffer of the port's own request
// block: the most an internal request moves (IDENTIFY data, READ
// CAPACITY).
const ownBounce = 4096

// ownRequest returns the port's own request block, for its internal
// requests: upper layers cannot take it, so a recovery that holds their
// requests, each with a block of theirs, still has one to work with.
// Everything that issues internal requests holds ch.devMu (discovery,
// Reset, recovery), which is what serialises its use.
//
// Context: PASSIVE, ch.devMu held; does not block.
func (ch *Channel) ownRequest() *request {
	return ch.reqs[len(ch.reqs)-1]
}

// execInternal submits the port's own request r: it starts before the
// requests of upper layers, and also while a recovery holds them.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) execInternal(r *request) {
	r.internal = true
	ch.exec(r)
}

// recoverDevices is the worker's recovery after a fault: with the queue
// held, it resets the channel when asked to, re-identifies and re-programs
// the devices (reinitLocked), then lets the held requests start. A fault
// during the recovery itself (an internal request failing) does not start
// another one.
//
// Context: PASSIVE (the worker goroutine); blocks.
func (ch *Channel) recoverDevices() {
	kernel.AssertMayBlock("ata: recovery")
	ch.devMu.Lock()
	if ch.rec.reset.Swap(false) {
		if err := ch.resetLocked(); err != nil {
			ch.log("%s: recovery: %v", ch.name, err)
		}
	}
	ch.reinitLocked()
	ch.stats.recoveries.Add(1)
	ch.devMu.Unlock()
	if !ch.reinit.Load() {
		ch.rec.held.Store(false)
		if ch.reinit.Load() {
			ch.rec.held.Store(true) // scheduled meanwhile: its hold stands
		}
	}
	ch.pump(true)
}

// reidentify reads device d's IDENTIFY data again after a reset and
// reports whether it still describes the same device (model, serial,
// firmware, capacity, sector size); the port keeps what it knew, and logs
// a device that answers differently or not at all.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) reidentify(d *Device) bool {
	f, err := ch.identify(d.target, d.typ, d.name)
	if err != nil {
		ch.log("%s: after the reset: %v", d.name, err)
		return false
	}
	was, is := d.ident, f.ident
	if was.Model != is.Model || was.Serial != is.Serial || was.Firmware != is.Firmware ||
		was.Sectors != is.Sectors || was.SectorSize != is.SectorSize {
		ch.log("%s: after the reset IDENTIFY describes %q serial %q firmware %q, %d sectors of %d bytes; was %q serial %q firmware %q, %d sectors of %d bytes",
			d.name, is.Model, is.Serial, is.Firmware, is.Sectors, is.SectorSize,
			was.Model, was.Serial, was.Firmware, was.Sectors, was.SectorSize)
		return false
	}
	return true
}

// testUnitReady sends an ATAPI device TEST UNIT READY until it succeeds, at
// most packetRetries times: a reset raises a UNIT ATTENTION (MMC-5), which
// fails every packet until REQUEST SENSE (execPacket) ends it, and would
// otherwise fail the next read of an upper layer.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) testUnitReady(d *Device) {
	r := ch.ownRequest()
	for try := 0; try < packetRetries; try++ {
		r.reset(miniport.FunctionATAPI, d.target, ch.timeout)
		r.irb.CdbLength = packetLength // TEST UNIT READY: opcode 00h, no data
		r.internal = true
		if ch.execPacket(d, r, "PACKET TEST UNIT READY", 0, 0, false) == nil {
			return
		}
	}
}
