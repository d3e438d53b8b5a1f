package kernel

import (
	"sync/atomic"
	"testing"
	"time"
)

type timerProbe struct {
	fired atomic.Int32
	level atomic.Int32
	ifOn  atomic.Bool
}

func (p *timerProbe) fn() {
	p.level.Store(int32(Current()))
	p.ifOn.Store(InterruptsEnabled())
	p.fired.Add(1)
}

func waitFired(p *timerProbe, n int32, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if p.fired.Load() >= n {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// mustFireAfter waits for the probe's n-th firing and checks that it came
// at least atLeast after start.
func mustFireAfter(t *testing.T, p *timerProbe, n int32, start time.Time, atLeast time.Duration, what string) {
	t.Helper()
	if !waitFired(p, n, 5*time.Second) {
		t.Fatalf("%s: did not fire", what)
	}
	if el := time.Since(start); el < atLeast {
		t.Errorf("%s: fired after %v, want >= %v", what, el, atLeast)
	}
}

func TestTimerFiresOnceAtDispatch(t *testing.T) {
	var p timerProbe
	tm := NewTimer("t", p.fn)
	start := time.Now()
	tm.Set(20 * time.Millisecond)
	if !tm.Pending() {
		t.Error("not pending after Set")
	}
	mustFireAfter(t, &p, 1, start, 20*time.Millisecond, "timer set for 20ms")
	time.Sleep(50 * time.Millisecond)
	if n := p.fired.Load(); n != 1 {
		t.Errorf("fired %d times, want once", n)
	}
	if IRQL(p.level.Load()) != DISPATCH || !p.ifOn.Load() {
		t.Errorf("fn ran at %v IF=%v, want DISPATCH IF=true", IRQL(p.level.Load()), p.ifOn.Load())
	}
	if tm.Pending() || tm.Cancel() {
		t.Error("pending or cancellable after firing")
	}
}

func TestTimerCancelAndReset(t *testing.T) {
	var p timerProbe
	tm := NewTimer("t", p.fn)

	// Cancel at DIRQL before expiry: fn never runs.
	tm.Set(30 * time.Millisecond)
	old := Raise(5)
	cancelled := tm.Cancel()
	Lower(old)
	if !cancelled {
		t.Error("Cancel of a pending timer returned false")
	}
	time.Sleep(80 * time.Millisecond)
	if n := p.fired.Load(); n != 0 {
		t.Errorf("cancelled timer fired %d times", n)
	}

	// A second Set replaces the deadline: from 1 h to 10 ms.
	tm.Set(time.Hour)
	old = Raise(DISPATCH)
	tm.Set(10 * time.Millisecond)
	Lower(old)
	if !waitFired(&p, 1, 5*time.Second) {
		t.Fatal("re-armed timer did not fire")
	}

	// Fires again after another Set.
	tm.Set(time.Millisecond)
	if !waitFired(&p, 2, 5*time.Second) {
		t.Fatal("timer did not fire a second time")
	}
}

func TestTimerSetCancelDoNotAllocate(t *testing.T) {
	tm := NewTimer("t", func() {})
	if n := testing.AllocsPerRun(100, func() {
		old := Raise(5)
		tm.Set(time.Hour)
		tm.Cancel()
		Lower(old)
	}); n != 0 {
		t.Errorf("Set and Cancel allocate %v times", n)
	}
}

func TestTimerMisuse(t *testing.T) {
	tm := NewTimer("t", func() {})
	msg := panicOf(func() { Raise(CLOCK); tm.Set(time.Second) })
	wantPanic(t, "Set at CLOCK", msg, "kernel: Timer.Set at CLOCK, must be PASSIVE..DIRQL12")
	msg = panicOf(func() { Raise(DISPATCH); NewTimer("u", func() {}) })
	wantPanic(t, "NewTimer at DISPATCH", msg, "kernel: kernel.NewTimer at DISPATCH, must be PASSIVE (it may block)")
}

// TestTimerLazyRearm covers what the lazy re-arming of the time.Timer must
// keep true: a deadline moved later without a Reset (the time.Timer still
// runs for the earlier one) fires at the later deadline, once; a cancelled
// timer whose time.Timer still runs does not fire; and after the port's
// pattern (Set, Cancel, Set again) the last deadline holds.
func TestTimerLazyRearm(t *testing.T) {
	var p timerProbe
	tm := NewTimer("t", p.fn)

	start := time.Now()
	tm.Set(10 * time.Millisecond)
	tm.Set(60 * time.Millisecond) // later: the time.Timer stays at 10 ms
	mustFireAfter(t, &p, 1, start, 60*time.Millisecond, "timer moved later to 60ms")
	time.Sleep(30 * time.Millisecond)
	if n := p.fired.Load(); n != 1 {
		t.Fatalf("fired %d times, want once", n)
	}

	// Set and Cancel many times, as a channel does per request: the
	// time.Timer armed by the first Set fires and finds nothing.
	for range 1000 {
		tm.Set(5 * time.Millisecond)
		tm.Cancel()
	}
	time.Sleep(40 * time.Millisecond)
	if n := p.fired.Load(); n != 1 {
		t.Fatalf("cancelled timer fired: %d times in all, want 1", n)
	}

	// After a cancel the time.Timer is idle again: a new Set must arm it.
	start = time.Now()
	tm.Set(20 * time.Millisecond)
	mustFireAfter(t, &p, 2, start, 20*time.Millisecond, "timer set after its time.Timer went idle")
}
