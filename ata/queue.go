package ata

import (
	"strconv"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
	"github.com/ataport/firmware/miniport"
)

// The queue side of a channel: submission, BuildIo, and starting requests
// while fewer than the channel's depth are in flight (DESIGN.md: BuildIo at
// or below DISPATCH, unsynchronized with the ISR; StartIo at DIRQL).

// exec submits r and waits for its completion.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) exec(r *request) {
	kernel.AssertMayBlock("ata: request")
	ch.stats.requests.Add(1)
	ch.trace(trace.ReqSubmit, r, 0)
	// One raised section for the enqueue, BuildIo and StartIo (pumpLocked).
	old := ch.qlock.Acquire()
	switch {
	case r.internal && ch.utail == nil:
		ch.uhead, ch.utail = r, r
	case r.internal:
		ch.utail.next, ch.utail = r, r
	case ch.tail == nil:
		ch.head, ch.tail = r, r
	default:
		ch.tail.next, ch.tail = r, r
	}
	ch.pumpLocked(true)
	kernel.Lower(old)
	<-r.done
	ch.trace(trace.ReqReturn, r, 0)
	if r.irb.Status != miniport.StatusSuccess && !r.noDevice() {
		ch.stats.errors.Add(1)
	}
}

// noDevice tells a probe answered "no device at this target": a discovery
// result, not an error (an AHCI port's target 1, an empty IDE channel).
func (r *request) noDevice() bool {
	return r.irb.Function == miniport.FunctionMiniport && r.irb.Miniport == miniport.MiniportProbe &&
		r.irb.Status == miniport.StatusSelectionTimeout
}

// finish hands a completed request back to its waiter, holding the
// channel's queue first when r is a failed PACKET command whose caller
// sends REQUEST SENSE (holdForSense).
//
// Context: PASSIVE or DISPATCH; does not block or allocate.
func (ch *Channel) finish(r *request) {
	ch.holdForSense(r)
	select {
	case r.done <- struct{}{}:
	default:
		kernel.Bugcheck("ata: " + ch.name + ": request tag " + strconv.Itoa(int(r.irb.Tag)) + " completed twice")
	}
}

// pump moves the queue along: it starts the next request while fewer than
// depth are in flight (those StartIo answered busy first, once their retry
// timer fired, then the one BuildIo accepted; a FunctionReset or a PACKET
// command only once none is in flight), and builds the next queued request
// when none waits built, the urgent queue of internal requests first.
// While a recovery holds the channel, or a failed PACKET command waits for
// its REQUEST SENSE, only internal requests are built and started
// (recovery.go, sense.go). Building happens only when mayBuild (at
// PASSIVE, from a submitter or the builder goroutine), so that BuildIo
// runs with the request in flight, unsynchronized with its ISR; from the
// DPC and timers the builder goroutine is woken instead.
//
// Context: PASSIVE or DISPATCH, IF=1, no lock held; does not block or
// allocate.
func (ch *Channel) pump(mayBuild bool) {
	kernel.AssertLevel("ata: pump", kernel.PASSIVE, kernel.DISPATCH)
	old := ch.qlock.Acquire()
	ch.pumpLocked(mayBuild)
	if old < kernel.DISPATCH {
		kernel.Lower(old)
	}
}

// pumpLocked is pump entered holding qlock: the callers that just changed
// the queue under it go on without letting it go, and a request built is
// started in the section that records it built. It lets the lock go and
// takes it again around BuildIo and StartIo but stays at DISPATCH, where
// the caller lowers once: a spin-lock section taken from PASSIVE costs a
// raise and a lower, two CR8 writes that each end a translation block
// under TCG, and a request took five such sections on its way to StartIo.
//
// Context: DISPATCH (pinned), IF=1, qlock held; releases it; does not
// block or allocate.
func (ch *Channel) pumpLocked(mayBuild bool) {
	for {
		held := ch.rec.held.Load() || ch.senseWait.Load() > 0 // all but internal requests wait
		if ch.started < ch.depth && !ch.retryWait {
			var r *request
			retry := false
			switch {
			case ch.retryHead != nil && (!held || ch.retryHead.internal):
				r, retry = ch.retryHead, true
			case ch.built != nil && (!held || ch.built.internal):
				r = ch.built
			}
			if r != nil && (ch.started == 0 || !exclusive(r.irb.Function)) {
				if retry {
					ch.retryHead, r.next = r.next, nil
					if ch.retryHead == nil {
						ch.retryTail = nil
					}
				} else {
					ch.built = nil
				}
				ch.started++
				ch.qlock.ReleaseAtLevel()
				ch.startRequest(r)
				ch.qlock.AcquireAtLevel()
				continue
			}
		}
		if held && ch.built != nil && !ch.built.internal && !ch.building && ch.uhead != nil {
			// A request built before the recovery gives way to the
			// recovery's own; it goes back to the head of the queue and
			// is built again after it.
			r := ch.built
			ch.built, r.next, ch.head = nil, ch.head, r
			if ch.tail == nil {
				ch.tail = r
			}
		}
		if ch.built == nil && !ch.building && (ch.uhead != nil || ch.head != nil && !held) {
			if !mayBuild {
				ch.qlock.ReleaseAtLevel()
				ch.wake(ch.builder)
				return
			}
			r := ch.uhead
			if r != nil {
				ch.uhead = r.next
				if ch.uhead == nil {
					ch.utail = nil
				}
			} else {
				r = ch.head
				ch.head = r.next
				if ch.head == nil {
					ch.tail = nil
				}
			}
			r.next = nil
			ch.building = true
			ch.qlock.ReleaseAtLevel()
			ok := ch.buildIo(r)
			ch.qlock.AcquireAtLevel()
			ch.building = false
			if ok {
				ch.built = r
				continue
			}
			ch.qlock.ReleaseAtLevel()
			ch.finish(r)
			ch.qlock.AcquireAtLevel()
			continue
		}
		ch.qlock.ReleaseAtLevel()
		return
	}
}

// exclusive reports whether a request of function f starts only when no
// other is in flight: a reset, and a PACKET command, as libata's
// ata_std_qc_defer has every non-queued command wait for the link to be
// idle. An AHCI port would otherwise hold several PACKET commands in its
// command list, and after a CHECK CONDITION the HBA's recovery would issue
// the others again before the port could read the sense data (sense.go).
func exclusive(f miniport.Function) bool {
	return f == miniport.FunctionReset || f == miniport.FunctionATAPI
}

// wake wakes a goroutine waiting on c.
//
// Context: PASSIVE or DISPATCH; does not block or allocate.
func (ch *Channel) wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// builderLoop builds queued requests at PASSIVE when the DPC or a timer
// found one waiting.
//
// Context: PASSIVE goroutine, one per channel; blocks.
func (ch *Channel) builderLoop() {
	kernel.AssertMayBlock("ata: builder")
	for range ch.builder {
		ch.pump(true)
	}
}

// buildIo calls the miniport's BuildIo for r (FunctionReset is the
// port's own and needs none) and records whether an ISR of the channel ran
// meanwhile (on any CPU, or by the port's own replay of a missed edge), and
// whether the local APIC of the CPU running BuildIo delivered the channel's
// vector to it meanwhile: the interrupt entry's count for this CPU, which
// only a hardware delivery raises. BuildIo runs pinned at DISPATCH, which
// masks no device vector, so the CPU is the same for its whole duration,
// and a delivery during it proves that BuildIo runs with interrupts on
// (docs/DESIGN.md). An injected BuildIo stall (InjectBuildIoStall) is
// spent inside the call, after the miniport's.
//
// Context: DISPATCH (pumpLocked's section, pinned), IF=1, no lock held
// (IdeHwBuildIo's).
func (ch *Channel) buildIo(r *request) bool {
	if r.irb.Function == miniport.FunctionReset {
		return true
	}
	cr8, ifl := kernel.Current(), kernel.InterruptsEnabled()
	if cr8 != kernel.DISPATCH {
		kernel.Bugcheck("ata: " + ch.name + ": BuildIo called at " + cr8.String() + ", not in the queue's section at DISPATCH")
	}
	cpu := kernel.CPU()
	total := ch.isrTotal.Load()
	delivered := ch.intr.AcceptedHere()
	masked, locked := ch.masked(), ch.intr.Lock().HeldByThisCPU()
	ch.trace(trace.ReqBuildBegin, r, 0)
	ok := ch.mp.BuildIo(&r.irb)
	if d := ch.inj.stall.Load(); d > 0 {
		kernel.Stall(time.Duration(d))
	}
	ch.trace(trace.ReqBuildEnd, r, trace.Bool(ok))
	overlap := ch.isrTotal.Load() != total
	same := ch.intr.AcceptedHere() != delivered
	ch.ctx.recordAt(RoutineBuildIo, cr8, ifl, cpu, masked, locked, int(r.irb.Tag), overlap, same)
	if !ok && r.irb.Status == miniport.StatusPending {
		r.irb.Status = miniport.StatusInvalidRequest
	}
	return ok
}

// startRequest starts r, which this caller counted in started:
// HwStartIo under the interrupt lock, or the channel reset for
// FunctionReset. A request StartIo refused is finished, or retried when
// the device was busy.
//
// Context: PASSIVE or DISPATCH, IF=1, no lock held, r counted in started.
func (ch *Channel) startRequest(r *request) {
	if r.irb.Function == miniport.FunctionReset {
		ch.resetReq = r
		if ch.synchronizeMasked(ch.userResetThunk) {
			ch.intr.Synchronize(ch.lostEdgeThunk)
		}
		ch.finish(r)
		ch.release()
		return
	}
	// What Interrupt.Synchronize does (KeSynchronizeExecution), written
	// out so that StartIo's answer stays on this goroutine's stack: once
	// the lock is released the request may complete and the channel be
	// claimed by another caller.
	lock := ch.intr.Lock()
	old := lock.Acquire()
	started := ch.startLocked(r)
	lock.Release(old)
	if started {
		return
	}
	if r.irb.Status == miniport.StatusPending {
		r.irb.Status = miniport.StatusInvalidRequest
	}
	if r.irb.Status == miniport.StatusBusy {
		t := now()
		if r.busy == 0 {
			r.busy = t
		}
		if t-r.busy < ch.busyTimeout {
			ch.stats.busyRetries.Add(1)
			old := ch.qlock.Acquire()
			ch.retryBusyLocked(r)
			ch.started--
			ch.qlock.Release(old)
			ch.retry.Set(busyRetry)
			return
		}
	}
	ch.recoverAfter(r)
	ch.finish(r)
	ch.release()
}

// retryBusyLocked puts r, which StartIo answered busy, on the list of
// requests to try again when the retry timer fires: at its end, or at its
// head when r is internal, so that a recovery's own requests are not held
// behind those it holds. Requests started on two CPUs at once may both be
// answered busy; each keeps its place.
//
// Context: qlock held.
func (ch *Channel) retryBusyLocked(r *request) {
	switch {
	case ch.retryHead == nil:
		ch.retryHead, ch.retryTail = r, r
	case r.internal:
		r.next, ch.retryHead = ch.retryHead, r
	default:
		ch.retryTail.next, ch.retryTail = r, r
	}
	ch.retryWait = true
}

// release uncounts a request from started: it was retired, or not
// started after all.
//
// Context: PASSIVE or DISPATCH, no lock held.
func (ch *Channel) release() {
	old := ch.qlock.Acquire()
	ch.started--
	ch.qlock.Release(old)
}

// onRetry lets a busy request be tried again.
//
// Context: timer routine: DISPATCH, IF=1, no lock held.
func (ch *Channel) onRetry() {
	kernel.AssertLevel("ata: busy retry timer", kernel.DISPATCH, kernel.DISPATCH)
	old := ch.qlock.Acquire()
	ch.retryWait = false
	ch.qlock.Release(old)
	ch.pump(false)
}
