package ata

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Interrupt is what the port needs of a connected interrupt object; an
// *irq.Interrupt is one. Host tests give a fake.
type Interrupt interface {
	Lock() *kernel.InterruptLock
	Synchronize(fn func())
	SynchronizeMasked(fn func()) (signalled bool)
	Masked() bool
	// MaskChanges counts the writes of the mask bit made outside
	// SynchronizeMasked (irq.Interrupt.MaskFor, `irq mask`).
	MaskChanges() uint64
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
	Errors         uint64 // requests completed with a status other than success, but for a probe that found no device
	BusyRetries    uint64 // StartIo answered busy and the port tried again later
	Synchronized   uint64 // synchronized routines run for the miniport
	Retries        uint64 // commands the block API tried again after a timeout or an interface CRC error
	Recoveries     uint64 // re-identifications and re-programmings of the devices after a fault
	Dropped        uint64 // interrupts the injected fault dropped (InjectDrop)
	Delayed        uint64 // interrupts the injected fault left to a timer (InjectDelay)
	MaxOutstanding int    // the most requests ever in flight at once (between StartIo and completion)
	Depth          int    // the most requests the channel keeps in flight (ChannelInfo.QueueDepth)
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

	// wantsSense marks a PACKET command whose caller sends REQUEST SENSE
	// when it fails (execPacket); its failure holds the channel's queue
	// until then (holdForSense).
	wantsSense bool

	// Under the interrupt lock: the request went to StartIo and has not
	// completed (flying), when it times out, and whether a channel reset
	// aborted it through no fault of its own, so that it goes back to
	// the queue instead of to its waiter (requeue).
	flying   bool
	deadline time.Duration
	requeue  bool
}

// reset prepares r for a new submission of function f to target.
func (r *request) reset(f miniport.Function, target int, timeout time.Duration) {
	ext, tag := r.irb.Extension, r.irb.Tag
	r.irb = miniport.Request{Function: f, Target: uint8(target), Tag: tag, Extension: ext, Timeout: timeout}
	r.sgN, r.busy, r.next, r.internal, r.requeue = 0, 0, nil, false, false
	r.wantsSense = false
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
	depth       int // requests in flight at once: ChannelInfo.QueueDepth, at least 1

	reqs []*request
	pool chan *request // the request blocks of upper layers; ch.reqs[len(ch.reqs)-1] is ownRequest's

	// The queue, under qlock (DISPATCH).
	qlock     kernel.SpinLock
	head      *request
	tail      *request
	uhead     *request // the urgent queue: internal requests, built first
	utail     *request
	built     *request // BuildIo accepted it; next to start
	retryHead *request // StartIo found the device busy: started before built, internal ones first
	retryTail *request
	building  bool // a BuildIo runs
	started   int  // requests that went to StartIo and whose completion is not retired yet, at most depth
	retryWait bool // the busy requests wait for the retry timer

	// Shared with the ISR, under the interrupt lock (DIRQL).
	flying    int // requests between StartIo and their completion (request.flying)
	mpTimerFn miniport.TimerRoutine
	lostFound bool // timeoutLocked found a completion whose interrupt was lost; lostEdgeLocked services it
	deferred  int  // deadlines deferred in a row because completions were pending (timeoutLocked)
	workerFn  miniport.WorkerRoutine

	// done is the done list, newest first: pushed under the interrupt
	// lock (queueDone), taken whole by the completion DPC without it.
	done      atomic.Pointer[request]
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

	// senseWait counts the failed PACKET commands whose REQUEST SENSE has
	// not run yet: while it is not 0 only internal requests start
	// (sense.go).
	senseWait atomic.Int32

	dio  directIO  // direct.go
	mask maskState // mask.go
	inj  injector  // inject.go

	// Parameters of the thunks below, each written by the one goroutine
	// that holds the right to run it (syncMu for sync; for the reset, the
	// start of a FunctionReset, which waits until nothing is in flight).
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
	maxOut   atomic.Int32 // the most requests ever in flight at once

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

// Miniport returns the miniport's channel, for figures of its own.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) Miniport() miniport.Channel { return ch.mp }

// Index returns the channel's index within its controller: for AHCI, the
// port number.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) Index() int { return ch.index }

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
		MaxOutstanding: int(ch.maxOut.Load()), Depth: ch.depth,
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

// QueueState describes where the channel's requests are, for a report of
// work that does not finish (`ata stress` prints it when its workers do not
// return): in the queue, built, waiting for a busy retry, started and in
// flight (with their tags, and how long until the first deadline), whether
// a recovery holds the queue, the done list's length, and what the
// miniport reports of its own state when it keeps such a report (AHCI:
// its slots and port registers).
//
// Context: PASSIVE; takes the queue lock, then the interrupt lock, and
// allocates only outside them.
func (ch *Channel) QueueState() string {
	kernel.AssertLevel("ata: QueueState", kernel.PASSIVE, kernel.PASSIVE)
	tags := make([]int, 0, len(ch.reqs))
	sr, _ := ch.mp.(stateReporter)
	var labels []string
	var values []uint32
	if sr != nil {
		labels = sr.StateLabels()
		values = make([]uint32, len(labels))
	}

	old := ch.qlock.Acquire()
	queued := 0
	for r := ch.head; r != nil; r = r.next {
		queued++
	}
	for r := ch.uhead; r != nil; r = r.next {
		queued++
	}
	retry := 0
	for r := ch.retryHead; r != nil; r = r.next {
		retry++
	}
	built, wait, building, started := ch.built != nil, ch.retryWait, ch.building, ch.started
	ch.qlock.Release(old)

	lock := ch.intr.Lock()
	lo := lock.Acquire()
	first := ch.firstDeadline()
	for _, r := range ch.reqs {
		if r.flying {
			tags = append(tags, int(r.irb.Tag))
		}
	}
	flying, done := ch.flying, ch.doneCount.Load()
	if sr != nil {
		sr.State(values)
	}
	lock.Release(lo)

	var b strings.Builder
	fmt.Fprintf(&b, "%s: queued %d built %v building %v busy-retry %v (waiting %v) started %d in flight %d [",
		ch.name, queued, built, building, retry, wait, started, flying)
	for i, t := range tags {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(t))
	}
	b.WriteString("] first deadline in ")
	if flying > 0 {
		b.WriteString((first - now()).Round(time.Millisecond).String())
	} else {
		b.WriteString("none")
	}
	fmt.Fprintf(&b, " held %v done %d", ch.rec.held.Load(), done)
	for i, l := range labels {
		fmt.Fprintf(&b, " %s %#x", l, values[i])
	}
	return b.String()
}

// stateReporter is what a miniport implements to have QueueState report
// its own state: StateLabels names the values (Context: PASSIVE; constant),
// State fills them (Context: the channel's DIRQL with its interrupt lock
// held; does not block or allocate).
type stateReporter interface {
	StateLabels() []string
	State(v []uint32)
}
