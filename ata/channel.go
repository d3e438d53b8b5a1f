package ata

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
	"github.com/ataport/firmware/miniport"
)

// Interrupt is what the port needs of a connected interrupt object; an
// *irq.Interrupt is one. Host tests give a fake.
type Interrupt interface {
	Lock() *kernel.InterruptLock
	Synchronize(fn func())
	SynchronizeMasked(fn func()) (signalled bool)
	Masked() bool
	SetPending(fn func() bool)
	// AcceptedHere counts the deliveries of the interrupt's vector by the
	// executing CPU's local APIC (hardware only: the entry's count).
	AcceptedHere() uint32
}

// Stats are the counters of one channel.
type Stats struct {
	Requests       uint64 // requests submitted
	Interrupts     uint64 // HwInterrupt claimed the interrupt, however it was called
	ByVector       uint64 // ... called for the hardware vector (the rest: LostEdges and LostInterrupts)
	NotMine        uint64 // HwInterrupt did not: the vector came, the channel had nothing
	LostEdges      uint64 // interrupts serviced because a masked section hid their edge
	LostInterrupts uint64 // requests found finished at their timeout, their interrupt missing
	DPCs           uint64 // completion DPC runs
	Timeouts       uint64 // requests failed by their timeout
	Resets         uint64 // HwReset calls
	Errors         uint64 // requests completed with a status other than success
	BusyRetries    uint64 // StartIo answered busy and the port tried again later
	Synchronized   uint64 // synchronized routines run for the miniport
	Retries        uint64 // commands the block API tried again after a timeout or an interface CRC error
	Recoveries     uint64 // re-identifications and re-programmings of the devices after a fault
	Dropped        uint64 // interrupts the injected fault dropped (InjectDrop)
	Delayed        uint64 // interrupts the injected fault left to a timer (InjectDelay)
}

type counters struct {
	requests, interrupts, byVector, notMine, lostEdges, lostInterrupts, dpcs atomic.Uint64
	timeouts, resets, errors, busyRetries, synchronized                      atomic.Uint64
	retries, recoveries, dropped, delayed                                    atomic.Uint64
}

// Retry interval of a request that StartIo found the device busy for.
const busyRetry = 10 * time.Millisecond

// request is the port's request block: the miniport's Request with what
// the port keeps beside it. Request blocks are made once per channel, at
// attach, and reused.
type request struct {
	irb    miniport.Request
	next   *request      // in the queue or the done list
	done   chan struct{} // signalled once per submission
	bounce miniport.DMABuffer
	sg     [1]miniport.Segment
	sgN    int
	busy   time.Duration // since epoch, when StartIo first answered busy; 0 otherwise

	// internal marks the port's own requests (execInternal): they go to
	// the urgent queue and start while a recovery holds the others.
	internal bool
}

// reset prepares r for a new submission of function f to target.
func (r *request) reset(f miniport.Function, target int, timeout time.Duration) {
	ext, tag := r.irb.Extension, r.irb.Tag
	r.irb = miniport.Request{Function: f, Target: uint8(target), Tag: tag, Extension: ext, Timeout: timeout}
	r.sgN, r.busy, r.next, r.internal = 0, 0, nil, false
}

// setData makes the first n bytes of the bounce buffer the request's data.
func (r *request) setData(n int, flags miniport.Flags) {
	r.irb.Data = r.bounce.Buf[:n]
	r.irb.Flags |= flags
	r.sg[0] = miniport.Segment{Addr: r.bounce.Addr, Length: n}
	r.sgN = 1
	if n == 0 {
		r.irb.Data, r.sgN = nil, 0
	}
}

// Channel is one ATA channel driven by the port: its queue, its interrupt,
// its devices. It implements miniport.Port for its miniport channel.
type Channel struct {
	ctl    *Controller
	index  int    // within the controller
	number int    // in names: Config.FirstChannel + index
	name   string // "ata0"
	mp     miniport.Channel
	info   miniport.ChannelInfo
	intr   Interrupt
	io     miniport.PortIO
	alloc  Allocator
	logf   func(string)

	timeout     time.Duration
	busyTimeout time.Duration
	maxXfer     int

	reqs []*request
	pool chan *request // the request blocks of upper layers; ch.reqs[len(ch.reqs)-1] is ownRequest's

	// The queue, under qlock (DISPATCH).
	qlock     kernel.SpinLock
	head      *request
	tail      *request
	uhead     *request // the urgent queue: internal requests, built first
	utail     *request
	built     *request // BuildIo accepted it; next to start
	retryReq  *request // StartIo found the device busy; started before built
	building  bool     // a BuildIo runs
	inFlight  bool     // a request went to StartIo and its completion is not retired yet
	retryWait bool     // retryReq waits for the retry timer

	// Shared with the ISR, under the interrupt lock (DIRQL).
	active    *request
	deadline  time.Duration // since epoch, when active times out
	doneHead  *request
	doneTail  *request
	mpTimerFn miniport.TimerRoutine
	lostFound bool // timeoutLocked found a completion whose interrupt was lost; lostEdgeLocked services it
	workerFn  miniport.WorkerRoutine

	doneCount atomic.Int64 // requests in the done list
	dpcBusy   atomic.Bool  // a completion DPC is draining the done list
	workWake  atomic.Bool  // the DPC is to wake the worker goroutine

	dpc     *kernel.DPC
	timer   *kernel.Timer // the request in flight's timeout
	retry   *kernel.Timer // busy retry
	mpTimer *kernel.Timer // RequestTimer

	builder chan struct{} // wakes the builder goroutine
	worker  chan struct{} // wakes the worker goroutine
	reinit  atomic.Bool   // the worker re-initialises the devices
	rec     recoveryState // recovery.go
	dio     directIO      // direct.go
	mask    maskState     // mask.go
	inj     injector      // inject.go

	// Parameters of the thunks below, each written by the one goroutine
	// that holds the right to run it (syncMu for sync, the claim of
	// inFlight for the reset).
	syncMu   kernel.SpinLock
	syncFn   miniport.SynchronizedRoutine
	syncReq  *miniport.Request
	syncOK   bool
	resetReq *request

	// Functions handed to the interrupt object, made once (a method value
	// allocates when it is made).
	isr, pendingFn                      func() bool
	startThunk, syncThunk, timeoutThunk func()
	lostEdgeThunk, userResetThunk       func()

	isrTotal atomic.Uint64

	devMu   sync.Mutex // serialises discovery, mode changes and re-initialisation, at PASSIVE
	devices [2]*Device

	stats counters
	ctx   contexts
}

// Name returns the channel's name: "ata0".
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) Name() string { return ch.name }

// Number returns the channel's number, as in its name.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) Number() int { return ch.number }

// Devices returns the devices found on the channel (master first).
//
// Context: PASSIVE; allocates.
func (ch *Channel) Devices() []*Device {
	ch.devMu.Lock()
	defer ch.devMu.Unlock()
	var out []*Device
	for _, d := range ch.devices {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// Stats returns the channel's counters.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) Stats() Stats {
	s := &ch.stats
	return Stats{
		Requests: s.requests.Load(), Interrupts: s.interrupts.Load(), ByVector: s.byVector.Load(), NotMine: s.notMine.Load(),
		LostEdges: s.lostEdges.Load(), LostInterrupts: s.lostInterrupts.Load(), DPCs: s.dpcs.Load(),
		Timeouts: s.timeouts.Load(), Resets: s.resets.Load(), Errors: s.errors.Load(),
		BusyRetries: s.busyRetries.Load(), Synchronized: s.synchronized.Load(),
		Retries: s.retries.Load(), Recoveries: s.recoveries.Load(),
		Dropped: s.dropped.Load(), Delayed: s.delayed.Load(),
	}
}

// Contexts returns one row per routine called on this channel.
//
// Context: PASSIVE; allocates.
func (ch *Channel) Contexts() []ContextRow {
	var all [numRoutines]ContextRow
	ch.ctx.addRows(&all)
	return rows(&all)
}

// History returns the channel's latest context records, oldest first.
//
// Context: PASSIVE; allocates.
func (ch *Channel) History() []ContextRecord {
	return ch.ctx.records()
}

// record notes where routine r runs now, for request tag (-1: none), and
// returns the time of the record, for contexts.spent.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) record(r Routine, tag int) time.Duration {
	return ch.ctx.record(r, ch.masked(), ch.intr.Lock().HeldByThisCPU(), tag)
}

// assertLocked is the entry check of what runs at the channel's DIRQL
// holding its interrupt lock: the ISR, the locked sections and the port
// services whose Context requires it.
//
// Context: the channel's DIRQL, interrupt lock held; does not block or
// allocate unless it panics.
func (ch *Channel) assertLocked(routine string) {
	l := ch.intr.Lock()
	kernel.AssertLevel(routine, l.Level, l.Level)
	if !l.HeldByThisCPU() {
		kernel.Bugcheck("ata: " + ch.name + ": " + routine + " without the channel interrupt lock")
	}
}

// now returns the time since epoch.
func now() time.Duration { return time.Since(epoch) }

// setup makes the channel's request blocks, DPC, timers and thunks.
//
// Context: PASSIVE; allocates.
func (ch *Channel) setup(n int, props miniport.ControllerProperties) error {
	ch.ctx.init()
	ch.qlock.Name = ch.name + " queue"
	ch.syncMu.Name = ch.name + " synchronized routines"
	ch.pool = make(chan *request, n)
	// Block n is the port's own (ownRequest), with a small bounce buffer.
	for i := 0; i <= n; i++ {
		r := &request{done: make(chan struct{}, 1)}
		r.irb.Tag = uint8(i)
		size := ch.maxXfer
		if i == n {
			size = ownBounce
		}
		var err error
		if r.bounce, err = ch.alloc.Reserve(size, 4096); err != nil {
			return errors.New("ata: " + ch.name + ": bounce buffer: " + err.Error())
		}
		if props.RequestExtensionSize > 0 {
			align := props.RequestExtensionAlign
			if align < 1 {
				align = 1
			}
			if r.irb.Extension, err = ch.alloc.Reserve(props.RequestExtensionSize, align); err != nil {
				return errors.New("ata: " + ch.name + ": request extension: " + err.Error())
			}
		}
		ch.reqs = append(ch.reqs, r)
		if i < n {
			ch.pool <- r
		}
	}
	ch.isr = ch.isrEntry
	ch.pendingFn = ch.pending
	ch.syncThunk = ch.syncLocked
	ch.timeoutThunk = ch.timeoutLocked
	ch.lostEdgeThunk = ch.lostEdgeLocked
	ch.userResetThunk = ch.userResetLocked
	ch.dpc = kernel.NewDPC(ch.name+" completion", ch.completionDPC)
	ch.timer = kernel.NewTimer(ch.name+" timeout", ch.onTimeout)
	ch.retry = kernel.NewTimer(ch.name+" busy retry", ch.onRetry)
	ch.mpTimer = kernel.NewTimer(ch.name+" miniport timer", ch.onMiniportTimer)
	ch.setupInjector()
	ch.builder = make(chan struct{}, 1)
	ch.worker = make(chan struct{}, 1)
	return nil
}

// start launches the builder and worker goroutines.
//
// Context: PASSIVE.
func (ch *Channel) start() {
	go ch.builderLoop()
	go ch.workerLoop()
}

// get takes a request block, waiting while all are in use.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) get() *request {
	return <-ch.pool
}

// put returns a request block, which lets go of the caller's memory it
// may hold (direct.go).
//
// Context: PASSIVE.
func (ch *Channel) put(r *request) {
	r.irb.Data = nil
	ch.pool <- r
}

// exec submits r and waits for its completion.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) exec(r *request) {
	kernel.AssertMayBlock("ata: request")
	ch.stats.requests.Add(1)
	ch.trace(trace.ReqSubmit, r, 0)
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
	ch.qlock.Release(old)
	ch.pump(true)
	<-r.done
	ch.trace(trace.ReqReturn, r, 0)
	if r.irb.Status != miniport.StatusSuccess {
		ch.stats.errors.Add(1)
	}
}

// finish hands a completed request back to its waiter.
//
// Context: PASSIVE or DISPATCH; does not block or allocate.
func (ch *Channel) finish(r *request) {
	select {
	case r.done <- struct{}{}:
	default:
		kernel.Bugcheck("ata: " + ch.name + ": request tag " + strconv.Itoa(int(r.irb.Tag)) + " completed twice")
	}
}

// pump moves the queue along: it starts the next request when none is in
// flight (a busy retry first, then the one BuildIo accepted), and builds
// the next queued request when none waits built, the urgent queue of
// internal requests first. While a recovery holds the channel only
// internal requests are built and started (recovery.go). Building happens
// only when mayBuild (at PASSIVE, from a submitter or the builder goroutine),
// so that BuildIo runs with the request in flight, unsynchronized with its
// ISR; from the DPC and timers the builder goroutine is woken instead.
//
// Context: PASSIVE or DISPATCH, IF=1, no lock held; does not block or
// allocate.
func (ch *Channel) pump(mayBuild bool) {
	kernel.AssertLevel("ata: pump", kernel.PASSIVE, kernel.DISPATCH)
	for {
		old := ch.qlock.Acquire()
		held := ch.rec.held.Load() // a recovery holds all but internal requests
		if !ch.inFlight && !ch.retryWait {
			var r *request
			switch {
			case ch.retryReq != nil && (!held || ch.retryReq.internal):
				r, ch.retryReq = ch.retryReq, nil
			case ch.built != nil && (!held || ch.built.internal):
				r, ch.built = ch.built, nil
			}
			if r != nil {
				ch.inFlight = true
				ch.qlock.Release(old)
				ch.startRequest(r)
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
				ch.qlock.Release(old)
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
			ch.qlock.Release(old)
			ok := ch.buildIo(r)
			old = ch.qlock.Acquire()
			ch.building = false
			if ok {
				ch.built = r
			}
			ch.qlock.Release(old)
			if !ok {
				ch.finish(r)
			}
			continue
		}
		ch.qlock.Release(old)
		return
	}
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
// (docs/DESIGN.md).
//
// Context: PASSIVE or DISPATCH, IF=1, no lock held (IdeHwBuildIo's).
func (ch *Channel) buildIo(r *request) bool {
	if r.irb.Function == miniport.FunctionReset {
		return true
	}
	old := kernel.Raise(kernel.DISPATCH)
	cpu := kernel.CPU()
	total := ch.isrTotal.Load()
	delivered := ch.intr.AcceptedHere()
	masked, locked := ch.masked(), ch.intr.Lock().HeldByThisCPU()
	cr8, ifl := kernel.Current(), kernel.InterruptsEnabled()
	ch.trace(trace.ReqBuildBegin, r, 0)
	ok := ch.mp.BuildIo(&r.irb)
	ch.trace(trace.ReqBuildEnd, r, trace.Bool(ok))
	overlap := ch.isrTotal.Load() != total
	same := ch.intr.AcceptedHere() != delivered
	ch.ctx.recordAt(RoutineBuildIo, cr8, ifl, cpu, masked, locked, int(r.irb.Tag), overlap, same)
	kernel.Lower(old)
	if !ok && r.irb.Status == miniport.StatusPending {
		r.irb.Status = miniport.StatusInvalidRequest
	}
	return ok
}

// startRequest starts r, which this caller claimed by setting inFlight:
// HwStartIo under the interrupt lock, or the channel reset for
// FunctionReset. A request StartIo refused is finished, or retried when
// the device was busy.
//
// Context: PASSIVE or DISPATCH, IF=1, no lock held, inFlight claimed.
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
			ch.retryReq, ch.retryWait, ch.inFlight = r, true, false
			ch.qlock.Release(old)
			ch.retry.Set(busyRetry)
			return
		}
	}
	ch.recoverAfter(r)
	ch.finish(r)
	ch.release()
}

// release ends the claim of inFlight.
//
// Context: PASSIVE or DISPATCH, no lock held.
func (ch *Channel) release() {
	old := ch.qlock.Acquire()
	ch.inFlight = false
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

// startLocked calls HwStartIo for r and arms its timeout. It reports
// whether r was started (or already completed by StartIo); false leaves r
// to the caller, with its status set.
//
// Context: the channel's DIRQL, IF=1, line unmasked, interrupt lock held.
func (ch *Channel) startLocked(r *request) bool {
	ch.assertLocked("ata: StartIo section")
	defer ch.ctx.spent(RoutineStartIo, ch.record(RoutineStartIo, int(r.irb.Tag)))
	r.irb.Status = miniport.StatusPending
	ch.active = r
	ch.deadline = now() + r.irb.Timeout
	ch.trace(trace.ReqStartBegin, r, 0)
	ok := ch.mp.StartIo(&r.irb)
	ch.trace(trace.ReqStartEnd, r, trace.Bool(ok))
	switch {
	case ch.active != r:
		return true // completed through Complete, whatever StartIo answered
	case !ok:
		ch.active = nil
		return false
	}
	ch.timer.Set(min(r.irb.Timeout, lostInterruptCheck))
	return true
}

// interrupt is the channel's ISR, given to the interrupt object: it calls
// HwInterrupt and counts the answer.
//
// Context: the channel's DIRQL, IF=1, the vector in service, interrupt lock
// held; does not block or allocate.
func (ch *Channel) interrupt() bool {
	ch.assertLocked("ata: ISR")
	tag := -1
	if ch.active != nil {
		tag = int(ch.active.irb.Tag)
	}
	defer ch.ctx.spent(RoutineInterrupt, ch.record(RoutineInterrupt, tag))
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
// or allocate. Panics when req is not the request in flight.
func (ch *Channel) Complete(req *miniport.Request) {
	ch.assertLocked("ata: Complete")
	if int(req.Tag) >= len(ch.reqs) || ch.reqs[req.Tag] != ch.active || &ch.active.irb != req {
		kernel.Bugcheck("ata: " + ch.name + ": Complete of request tag " + strconv.Itoa(int(req.Tag)) + ", which is not in flight")
	}
	r := ch.active
	ch.trace(trace.ReqComplete, r, 0)
	ch.active = nil
	ch.queueDone(r)
}

// queueDone appends r to the done list and queues the DPC.
//
// Context: the channel's DIRQL with the interrupt lock held.
func (ch *Channel) queueDone(r *request) {
	if ch.doneTail == nil {
		ch.doneHead = r
	} else {
		ch.doneTail.next = r
	}
	ch.doneTail = r
	ch.doneCount.Add(1)
	ch.dpc.Queue()
}

// completionDPC retires the completed requests, in batches (one DPC per
// channel): it wakes their waiters, ends the claim of the channel and
// starts the next request. A busy answer has the request tried again.
// Should the DPC run on two CPUs at once, the second leaves the list to
// the first.
//
// Context: DPC: DISPATCH, IF=1, no lock held; does not block or allocate.
func (ch *Channel) completionDPC() {
	kernel.AssertLevel("ata: completion DPC", kernel.DISPATCH, kernel.DISPATCH)
	ch.record(RoutineCompletionDPC, -1)
	ch.stats.dpcs.Add(1)
	if ch.workWake.Swap(false) {
		ch.wake(ch.worker)
	}
	for ch.doneCount.Load() > 0 && ch.dpcBusy.CompareAndSwap(false, true) {
		lock := ch.intr.Lock()
		old := lock.Acquire()
		list := ch.doneHead
		ch.doneHead, ch.doneTail = nil, nil
		for r := list; r != nil; r = r.next {
			ch.doneCount.Add(-1)
		}
		// The timer of the requests retired here stops under the lock
		// that startLocked arms it under: this DPC may have read a
		// count whose list another one took, and a cancel outside the
		// lock could then stop the timer of a request starting meanwhile
		// on another CPU, which would never time out.
		if list != nil && ch.active == nil {
			ch.timer.Cancel()
		}
		lock.Release(old)
		for r := list; r != nil; {
			next := r.next
			r.next = nil
			ch.retire(r)
			r = next
		}
		ch.dpcBusy.Store(false)
	}
	ch.pump(false)
}

// retire finishes one completed request and ends the claim of the channel
// it held.
//
// Context: DISPATCH, no lock held.
func (ch *Channel) retire(r *request) {
	ch.trace(trace.ReqRetire, r, 0)
	if r.irb.Status == miniport.StatusTimeout {
		ch.stats.timeouts.Add(1)
	}
	ch.recoverAfter(r)
	ch.finish(r)
	ch.release()
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

// timeoutLocked handles the timer of the request in flight, which fires
// every lostInterruptCheck and at the request's deadline:
//
//  1. with nothing in flight it does nothing;
//  2. when the device shows it finished although no interrupt was
//     serviced (HwPending: not busy, IDEINTS set), it notes a lost
//     interrupt instead of resetting: the pending hook, asked once the
//     line is unmasked again, has onTimeout run the interrupt path with
//     the line unmasked, as an ISR runs, and lostEdgeLocked counts it
//     (libata ata_sff_lost_interrupt); a request still in flight after it
//     (a PIO command between blocks) keeps its deadline;
//  3. before the deadline it arms the timer again;
//  4. at the deadline it resets the channel (HwReset), fails the request
//     once with StatusTimeout and, for a request of an upper layer, holds
//     the channel until the worker has recovered the devices.
//
// Context: the channel's DIRQL, IF=1, line masked, interrupt lock held.
func (ch *Channel) timeoutLocked() {
	ch.assertLocked("ata: timeout section")
	r := ch.active
	t := now()
	ch.lostFound = false
	switch {
	// 1.
	case r == nil:
	// 2.
	case ch.pending():
		ch.lostFound = true
		ch.armLocked(t)
	// 3.
	case t < ch.deadline:
		ch.armLocked(t)
	// 4.
	default:
		start := ch.record(RoutineReset, int(r.irb.Tag))
		ch.stats.resets.Add(1)
		ch.mp.Reset()
		ch.ctx.spent(RoutineReset, start)
		ch.active = nil
		r.irb.Status = miniport.StatusTimeout
		ch.queueDone(r)
		if !r.internal {
			ch.scheduleRecovery(false)
		}
	}
}

// armLocked arms the timer of the request in flight for its next
// lost-interrupt check, or for its deadline when that comes first.
//
// Context: the channel's DIRQL, interrupt lock held; does not block or
// allocate.
func (ch *Channel) armLocked(t time.Duration) {
	ch.timer.Set(min(ch.deadline-t, lostInterruptCheck))
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

// RequestTimer implements miniport.Port (AtaPortRequestTimer).
//
// Context: the channel's DIRQL with the interrupt lock held; does not block
// or allocate.
func (ch *Channel) RequestTimer(fn miniport.TimerRoutine, d time.Duration) {
	ch.assertLocked("ata: RequestTimer")
	ch.mpTimerFn = fn
	ch.mpTimer.Set(d)
}

// onMiniportTimer runs the routine of RequestTimer.
//
// Context: timer routine: DISPATCH, IF=1, no lock held.
func (ch *Channel) onMiniportTimer() {
	kernel.AssertLevel("ata: miniport timer", kernel.DISPATCH, kernel.DISPATCH)
	lock := ch.intr.Lock()
	old := lock.Acquire()
	fn := ch.mpTimerFn
	ch.mpTimerFn = nil
	lock.Release(old)
	if fn != nil {
		ch.record(RoutineTimer, -1)
		fn()
	}
}

// RequestWorkerRoutine implements miniport.Port
// (AtaPortRequestWorkerRoutine): the worker goroutine runs fn at PASSIVE.
//
// Context: the channel's DIRQL with the interrupt lock held; does not block
// or allocate.
func (ch *Channel) RequestWorkerRoutine(fn miniport.WorkerRoutine) bool {
	ch.assertLocked("ata: RequestWorkerRoutine")
	if ch.workerFn != nil {
		return false
	}
	ch.workerFn = fn
	ch.workWake.Store(true)
	ch.dpc.Queue()
	return true
}

// workerLoop runs worker routines and re-initialises the devices after a
// reset, at PASSIVE.
//
// Context: PASSIVE goroutine, one per channel; blocks.
func (ch *Channel) workerLoop() {
	kernel.AssertMayBlock("ata: worker")
	for range ch.worker {
		lock := ch.intr.Lock()
		old := lock.Acquire()
		fn := ch.workerFn
		ch.workerFn = nil
		lock.Release(old)
		if fn != nil {
			ch.record(RoutineWorker, -1)
			fn()
		}
		if ch.reinit.Swap(false) {
			ch.recoverDevices()
		}
	}
}

// Stall implements miniport.Port (AtaPortStallExecution).
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) Stall(d time.Duration) { kernel.Stall(d) }

// IO implements miniport.Port.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) IO() miniport.PortIO { return ch.io }

// InterruptLockHeld implements miniport.Port.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) InterruptLockHeld() bool { return ch.intr.Lock().HeldByThisCPU() }

// AllocateCommonBuffer implements miniport.Port
// (AtaPortGetUnCachedExtension).
//
// Context: PASSIVE, IF=1; may block.
func (ch *Channel) AllocateCommonBuffer(size, align int) (miniport.DMABuffer, error) {
	kernel.AssertMayBlock("ata: AllocateCommonBuffer")
	return ch.alloc.Reserve(size, align)
}

// ScatterGather implements miniport.Port (AtaPortGetScatterGatherList): the
// physical segment of the request's bounce buffer.
//
// Context: PASSIVE..DIRQL while the miniport owns req; does not block or
// allocate.
func (ch *Channel) ScatterGather(req *miniport.Request) []miniport.Segment {
	if int(req.Tag) >= len(ch.reqs) {
		return nil
	}
	r := ch.reqs[req.Tag]
	return r.sg[:r.sgN]
}
