package kernel

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/internal/lateness"
	"github.com/ataport/firmware/kernel/trace"
)

// epoch is the origin of the monotonic deadlines kept by timers.
var epoch = time.Now()

// Timer is a one-shot timer whose function runs at DISPATCH with IF=1 when
// it expires (KTIMER with a KDPC, as AtaPortRequestTimer uses it). It is
// built on a time.Timer created once and re-armed with Reset, so Set and
// Cancel do not allocate.
//
// The time.Timer is re-armed lazily: Set resets it only when it would fire
// after the new deadline, and Cancel leaves it running; when it fires,
// expire looks at the deadline then current and re-arms it for a later
// one. A channel arms its timer for every request it starts alone and
// cancels it at the completion, and a Reset plus a Stop of a Go timer cost
// under TCG about as much as two spin-lock sections (`irql bench`: 4600-6400
// cycles before, about 1000 now).
type Timer struct {
	name  string
	fn    func()
	t     *time.Timer
	trace uint64 // its name in trace events

	// due is the deadline (monotonic nanoseconds since epoch) while the
	// timer is armed, 0 when it is not.
	due atomic.Int64
	// fires is when the time.Timer will fire (as due), 0 when it is not
	// running; it changes only together with the time.Timer, under
	// resetting.
	fires     atomic.Int64
	resetting atomic.Bool
}

// NewTimer returns a stopped timer that calls fn on expiry
// (KeInitializeTimer).
//
// Context: PASSIVE; allocates. fn runs at DISPATCH, IF=1, pinned on
// whichever CPU the expiry goroutine runs, holding no lock; it must not
// block or allocate and must return at DISPATCH.
func NewTimer(name string, fn func()) *Timer {
	AssertMayBlock("kernel.NewTimer")
	if fn == nil {
		Bugcheck("kernel: NewTimer(" + name + "): nil function")
	}
	t := &Timer{name: name, fn: fn, trace: trace.Name(name)}
	t.t = time.AfterFunc(time.Duration(math.MaxInt64), t.expire)
	t.t.Stop()
	return t
}

// Name returns the timer's name.
//
// Context: any IRQL; does not block or allocate.
func (t *Timer) Name() string {
	return t.name
}

// Set arms the timer to expire once after d, replacing an earlier deadline
// if it was armed (KeSetTimer).
//
// Context: PASSIVE..DIRQLMax, IF=1; does not block or allocate.
func (t *Timer) Set(d time.Duration) {
	AssertLevel("Timer.Set", PASSIVE, DIRQLMax)
	if d < 0 {
		d = 0
	}
	due := int64(time.Since(epoch)) + int64(d)
	if due <= 0 {
		due = math.MaxInt64
	}
	t.due.Store(due)
	trace.Record(trace.TimerSet, t.trace, uint64(d), 0, 0)
	if f := t.fires.Load(); f != 0 && f <= due {
		return // expire re-arms it for due
	}
	t.rearm(false)
}

// rearm resets the time.Timer for the current deadline unless it fires by
// then anyway; fired (from expire) says that it has just fired, and then
// a deadline already reached is left to expire. Resets from Set and
// expire on two CPUs must not cross (the later deadline's Reset last
// would leave the earlier deadline late), so they are serialized by
// resetting, a bare spin: pinned and with no safe point inside, its
// holder cannot be displaced from its CPU by the spinner.
//
// Context: any IRQL up to DIRQLMax; does not block or allocate.
func (t *Timer) rearm(fired bool) {
	procPin()
	for !t.resetting.CompareAndSwap(false, true) {
	}
	if fired {
		t.fires.Store(0)
	}
	due, now := t.due.Load(), int64(time.Since(epoch))
	if f := t.fires.Load(); due != 0 && (f == 0 || f > due) && !(fired && due <= now) {
		t.fires.Store(due)
		t.t.Reset(time.Duration(max(due-now, 0)))
	}
	t.resetting.Store(false)
	procUnpin()
}

// Cancel disarms the timer (KeCancelTimer) and reports whether it was armed
// and had not expired yet. After Cancel returns true, fn does not run for
// that Set.
//
// Context: PASSIVE..DIRQLMax, IF=1; does not block or allocate.
func (t *Timer) Cancel() bool {
	AssertLevel("Timer.Cancel", PASSIVE, DIRQLMax)
	armed := t.due.Swap(0) != 0
	trace.Record(trace.TimerCancel, t.trace, trace.Bool(armed), 0, 0)
	return armed // the time.Timer fires, finds no deadline and stops
}

// Pending reports whether the timer is armed.
//
// Context: any IRQL; does not block or allocate.
func (t *Timer) Pending() bool {
	return t.due.Load() != 0
}

// expire runs fn at DISPATCH if the timer is still armed and its deadline
// has passed; with a deadline still to come (Set moved it later without
// resetting the time.Timer, or replaced it while this goroutine was
// starting) it re-arms the time.Timer for it (rearm).
//
// Context: the time.Timer goroutine, PASSIVE, IF=1.
func (t *Timer) expire() {
	t.rearm(true)
	due := t.due.Load()
	now := int64(time.Since(epoch))
	if due == 0 || now < due || !t.due.CompareAndSwap(due, 0) {
		return
	}
	timerLateness.Record(time.Duration(now - due))
	trace.Record(trace.TimerFire, t.trace, uint64(due), uint32(min(now-due, math.MaxUint32)), 0)
	old := Raise(DISPATCH)
	t.fn()
	if Current() != DISPATCH || !InterruptsEnabled() {
		checkReturnLevel("timer "+t.name, DISPATCH)
	}
	Lower(old)
}

// timerLateness keeps how late timers ran: the time from their deadline to the
// start of their expiry, over all timers.
var timerLateness lateness.Log

// TimerLateness returns how late the latest timer expiries ran after their
// deadlines (up to 4096 of them, in no order), the latest of all expiries
// since boot, and their count.
//
// Context: PASSIVE; allocates.
func TimerLateness() (recent []time.Duration, worst time.Duration, n uint64) {
	return timerLateness.Samples()
}

// ResetTimerLateness starts the record of TimerLateness anew.
//
// Context: PASSIVE; does not block.
func ResetTimerLateness() {
	timerLateness.Reset()
}
