package ata

import (
	"math"
	"strconv"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
	"github.com/ataport/firmware/miniport"
)

// The interrupt side of a channel: what runs at its DIRQL holding its
// interrupt lock, StartIo, the ISR, Complete, the synchronized sections
// (timeouts, resets, the miniport's synchronized routines) and the
// lost-interrupt checks.

// startLocked calls HwStartIo for r and, when it is the only request in
// flight, arms the channel's timer (timeoutLocked keeps it armed while any
// is). It reports whether r was started (or already completed by
// StartIo); false leaves r to the caller, with its status set.
//
// Context: the channel's DIRQL, IF=1, line unmasked, interrupt lock held.
func (ch *Channel) startLocked(r *request) bool {
	ch.assertLocked("ata: StartIo section")
	defer ch.ctx.spent(RoutineStartIo, ch.record(RoutineStartIo, int(r.irb.Tag)))
	r.irb.Status = miniport.StatusPending
	r.flying, r.deadline = true, now()+r.irb.Timeout
	ch.flying++
	if n := int32(ch.flying); n > ch.maxOut.Load() {
		ch.maxOut.Store(n)
	}
	ch.trace(trace.ReqStartBegin, r, 0)
	ok := ch.mp.StartIo(&r.irb)
	ch.trace(trace.ReqStartEnd, r, trace.Bool(ok))
	switch {
	case !r.flying:
		return true // completed through Complete, whatever StartIo answered
	case !ok:
		r.flying = false
		ch.flying--
		return false
	}
	if ch.flying == 1 {
		ch.timer.Set(min(r.irb.Timeout, lostInterruptCheck))
	}
	return true
}

// interrupt is the channel's ISR, given to the interrupt object: it calls
// HwInterrupt and counts the answer.
//
// Context: the channel's DIRQL, IF=1, the vector in service, interrupt lock
// held; does not block or allocate.
func (ch *Channel) interrupt() bool {
	ch.assertLocked("ata: ISR")
	defer ch.ctx.spent(RoutineInterrupt, ch.record(RoutineInterrupt, -1))
	ch.isrTotal.Add(1)
	if ch.mp.Interrupt() {
		ch.stats.interrupts.Add(1)
		return true
	}
	ch.stats.notMine.Add(1)
	return false
}

// pending is the interrupt object's pending hook: whether the device
// signalled while the line was masked (HwPending).
//
// Context: the channel's DIRQL, IF=1, interrupt lock held, line unmasked;
// does not block or allocate.
func (ch *Channel) pending() bool {
	ch.assertLocked("ata: pending hook")
	defer ch.ctx.spent(RoutinePending, ch.record(RoutinePending, -1))
	return ch.mp.Pending()
}

// lostEdgeLocked services an interrupt whose edge a masked section hid,
// counting it when the miniport claims it (PLATFORM.md: an edge on a
// masked IOAPIC pin is lost), as a lost interrupt when timeoutLocked found
// it.
//
// Context: the channel's DIRQL, IF=1, interrupt lock held, line unmasked.
func (ch *Channel) lostEdgeLocked() {
	ch.assertLocked("ata: lost edge service")
	lost := ch.lostFound
	ch.lostFound = false
	if ch.interrupt() {
		if lost {
			ch.stats.lostInterrupts.Add(1)
		} else {
			ch.stats.lostEdges.Add(1)
		}
	}
}

// Complete implements miniport.Port (AtaPortNotification(IdeRequestComplete)):
// it takes req out of flight and queues the completion DPC.
//
// Context: the channel's DIRQL with the interrupt lock held; does not block
// or allocate. Panics when req is not in flight.
func (ch *Channel) Complete(req *miniport.Request) {
	ch.assertLocked("ata: Complete")
	if int(req.Tag) >= len(ch.reqs) || !ch.reqs[req.Tag].flying || &ch.reqs[req.Tag].irb != req {
		kernel.Bugcheck("ata: " + ch.name + ": Complete of request tag " + strconv.Itoa(int(req.Tag)) + ", which is not in flight")
	}
	r := ch.reqs[req.Tag]
	r.flying = false
	ch.flying--
	if ch.flying == 0 {
		// Under the lock startLocked arms it under: a request starting
		// on another CPU meanwhile cannot lose its timeout.
		ch.timer.Cancel()
	}
	ch.trace(trace.ReqComplete, r, 0)
	ch.queueDone(r)
}

// queueDone pushes r on the done list and queues the DPC. Pushes are
// serialized by the interrupt lock; the completion DPC takes the list with
// one swap, without the lock, and turns it back into completion order.
//
// Context: the channel's DIRQL with the interrupt lock held.
func (ch *Channel) queueDone(r *request) {
	for {
		top := ch.done.Load()
		r.next = top
		if ch.done.CompareAndSwap(top, r) {
			break
		}
	}
	ch.doneCount.Add(1)
	ch.dpc.Queue()
}

// timeoutLocked handles the channel's timer, which fires every
// lostInterruptCheck while requests are in flight and at the earliest of
// their deadlines:
//
//  1. with nothing in flight it does nothing;
//  2. when the device shows it finished although no interrupt was
//     serviced (HwPending: not busy, IDEINTS set; PxIS for AHCI), it notes
//     a lost interrupt instead of resetting: the pending hook, asked once
//     the line is unmasked again, has onTimeout run the interrupt path
//     with the line unmasked, as an ISR runs, and lostEdgeLocked counts it
//     (libata ata_sff_lost_interrupt); requests still in flight after it
//     keep their deadlines, and one already past it is looked at again
//     deadlineRecheck later, at most maxDeferrals times in a row;
//  3. before the earliest deadline it arms the timer again;
//  4. at a deadline it resets the channel (HwReset), which aborts every
//     request in flight: those past their deadline fail once with
//     StatusTimeout, the others go back to the queue (retire); for a
//     request of an upper layer that timed out, the channel is held until
//     the worker has recovered the devices.
//
// Context: the channel's DIRQL, IF=1, line masked, interrupt lock held.
func (ch *Channel) timeoutLocked() {
	ch.assertLocked("ata: timeout section")
	t := now()
	ch.lostFound = false
	first := ch.firstDeadline()
	switch {
	// 1.
	case ch.flying == 0:
		ch.deferred = 0
	// 2.
	case (t < first || ch.deferred < maxDeferrals) && ch.pending():
		ch.lostFound = true
		if t < first {
			ch.deferred = 0
			ch.armLocked(t, first)
		} else {
			ch.deferred++
			ch.timer.Set(deadlineRecheck)
		}
	// 3.
	case t < first:
		ch.deferred = 0
		ch.armLocked(t, first)
	// 4.
	default:
		ch.deferred = 0
		start := ch.record(RoutineReset, -1)
		ch.stats.resets.Add(1)
		ch.mp.Reset()
		ch.ctx.spent(RoutineReset, start)
		hold := false
		for _, r := range ch.reqs {
			if !r.flying {
				continue
			}
			r.flying = false
			ch.flying--
			if r.deadline <= t {
				r.irb.Status = miniport.StatusTimeout
				hold = hold || !r.internal
			} else {
				r.requeue = true
			}
			ch.queueDone(r)
		}
		if hold {
			ch.scheduleRecovery(false)
		}
	}
}

// firstDeadline returns the earliest deadline of the requests in flight.
//
// Context: the channel's DIRQL, interrupt lock held; does not block or
// allocate.
func (ch *Channel) firstDeadline() time.Duration {
	first := time.Duration(math.MaxInt64)
	for _, r := range ch.reqs {
		if r.flying && r.deadline < first {
			first = r.deadline
		}
	}
	return first
}

// armLocked arms the channel's timer for its next lost-interrupt check, or
// for the deadline first when that comes sooner.
//
// Context: the channel's DIRQL, interrupt lock held; does not block or
// allocate.
func (ch *Channel) armLocked(t, first time.Duration) {
	ch.timer.Set(min(first-t, lostInterruptCheck))
}

// userResetLocked resets the channel for a FunctionReset request; nothing
// is in flight.
//
// Context: the channel's DIRQL, IF=1, line masked, interrupt lock held.
func (ch *Channel) userResetLocked() {
	ch.assertLocked("ata: reset section")
	r := ch.resetReq
	defer ch.ctx.spent(RoutineReset, ch.record(RoutineReset, int(r.irb.Tag)))
	ch.stats.resets.Add(1)
	if ch.mp.Reset() {
		r.irb.Status = miniport.StatusSuccess
	} else {
		r.irb.Status = miniport.StatusBusReset
	}
}

// RequestSynchronizedRoutine implements miniport.Port
// (AtaPortRequestSynchronizedRoutine): fn(req) runs at the channel's DIRQL
// holding the interrupt lock with the line masked; when the device
// signalled meanwhile, its interrupt is serviced afterwards.
//
// Context: PASSIVE or DISPATCH, IF=1, no channel lock held; does not block
// or allocate.
func (ch *Channel) RequestSynchronizedRoutine(fn miniport.SynchronizedRoutine, req *miniport.Request) bool {
	kernel.AssertLevel("ata: RequestSynchronizedRoutine", kernel.PASSIVE, kernel.DISPATCH)
	if ch.intr.Lock().HeldByThisCPU() {
		kernel.Bugcheck("ata: " + ch.name + ": RequestSynchronizedRoutine with the interrupt lock held")
	}
	old := ch.syncMu.Acquire()
	ch.syncFn, ch.syncReq = fn, req
	signalled := ch.synchronizeMasked(ch.syncThunk)
	ok := ch.syncOK
	ch.syncFn, ch.syncReq = nil, nil
	ch.syncMu.Release(old)
	if signalled {
		ch.intr.Synchronize(ch.lostEdgeThunk)
	}
	return ok
}

// syncLocked runs the synchronized routine ch.syncFn.
//
// Context: the channel's DIRQL, IF=1, line masked, interrupt lock held.
func (ch *Channel) syncLocked() {
	ch.assertLocked("ata: synchronized routine")
	tag := -1
	if ch.syncReq != nil {
		tag = int(ch.syncReq.Tag)
	}
	defer ch.ctx.spent(RoutineSynchronized, ch.record(RoutineSynchronized, tag))
	ch.stats.synchronized.Add(1)
	ch.syncOK = ch.syncFn(ch.syncReq)
}
