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
type Timer struct {
	name  string
	fn    func()
	t     *time.Timer
	trace uint64 // its name in trace events

	// due is the deadline (monotonic nanoseconds since epoch) while the
	// timer is armed, 0 when it is not.
	due atomic.Int64
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
	t.t.Reset(d)
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
	t.t.Stop()
	return armed
}

// Pending reports whether the timer is armed.
//
// Context: any IRQL; does not block or allocate.
func (t *Timer) Pending() bool {
	return t.due.Load() != 0
}

// expire runs fn at DISPATCH if the timer is still armed and its deadline
// has passed. A stale expiry (of a deadline that Set replaced while the
// time.Timer goroutine was starting) finds the new deadline in the future
// and does nothing; the re-armed time.Timer expires again.
//
// Context: the time.Timer goroutine, PASSIVE, IF=1.
func (t *Timer) expire() {
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
