package ata

import (
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
	"github.com/ataport/firmware/miniport"
)

// The completion side of a channel: the completion DPC, which retires
// requests in batches at DISPATCH, and the timer that drives timeouts.

// completionDPC retires the completed requests, in batches (one DPC per
// channel): it wakes their waiters (or requeues those a reset abandoned),
// uncounts them from the requests started, and starts the next ones. A
// busy answer has the request tried again. Should the DPC run on two CPUs
// at once, the second leaves the list to the first.
//
// Context: DPC: DISPATCH, IF=1, no lock held; does not block or allocate.
func (ch *Channel) completionDPC() {
	kernel.AssertLevel("ata: completion DPC", kernel.DISPATCH, kernel.DISPATCH)
	ch.record(RoutineCompletionDPC, -1)
	ch.stats.dpcs.Add(1)
	if ch.workWake.Swap(false) {
		ch.wake(ch.worker)
	}
	retired := 0
	for ch.doneCount.Load() > 0 && ch.dpcBusy.CompareAndSwap(false, true) {
		// Newest first: turn it into completion order.
		var list *request
		n := int64(0)
		for r := ch.done.Swap(nil); r != nil; n++ {
			next := r.next
			r.next, list = list, r
			r = next
		}
		ch.doneCount.Add(-n)
		for r := list; r != nil; {
			next := r.next
			r.next = nil
			if ch.retire(r) {
				retired++
			}
			r = next
		}
		ch.dpcBusy.Store(false)
	}
	ch.qlock.AcquireAtLevel()
	ch.started -= retired
	ch.pumpLocked(false)
}

// retire finishes one completed request and reports true: the caller
// uncounts it from started, with the next ones it retires, in the section
// that starts the next requests. A request a channel reset aborted through
// no fault of its own goes back to the head of the queue instead, to be
// built and started again, uncounted here (false).
//
// Context: DISPATCH, no lock held.
func (ch *Channel) retire(r *request) bool {
	ch.trace(trace.ReqRetire, r, 0)
	if r.requeue {
		r.requeue = false
		old := ch.qlock.Acquire()
		if r.internal {
			r.next, ch.uhead = ch.uhead, r
			if ch.utail == nil {
				ch.utail = r
			}
		} else {
			r.next, ch.head = ch.head, r
			if ch.tail == nil {
				ch.tail = r
			}
		}
		ch.started--
		ch.qlock.Release(old)
		return false
	}
	if r.irb.Status == miniport.StatusTimeout {
		ch.stats.timeouts.Add(1)
	}
	ch.recoverAfter(r)
	ch.finish(r)
	return true
}

// onTimeout is the timeout of the request in flight; timeoutLocked does
// the work with the line masked.
//
// Context: timer routine: DISPATCH, IF=1, no lock held.
func (ch *Channel) onTimeout() {
	kernel.AssertLevel("ata: timeout timer", kernel.DISPATCH, kernel.DISPATCH)
	if ch.synchronizeMasked(ch.timeoutThunk) {
		ch.intr.Synchronize(ch.lostEdgeThunk)
	}
	if ch.reinit.Load() {
		ch.wake(ch.worker)
	}
}
