package kernel

import (
	"testing"
	"time"
)

// TestYielderPasses: a Yielder passes to the scheduler at its first Point,
// then not again until YieldEvery has gone by, and never while raised.
func TestYielderPasses(t *testing.T) {
	passes := 0
	defer func(g func()) { gosched = g }(gosched)
	gosched = func() { passes++ }
	var y Yielder
	y.Point()
	start := time.Now()
	for range 100 {
		y.Point()
	}
	if time.Since(start) < YieldEvery && passes != 1 {
		t.Errorf("%d passes in the first %v, want 1", passes, YieldEvery)
	}
	time.Sleep(2 * YieldEvery)
	y.Point()
	if passes < 2 {
		t.Errorf("no pass after %v", 2*YieldEvery)
	}
	time.Sleep(2 * YieldEvery)
	before := passes
	old := Raise(DISPATCH)
	y.Point()
	Lower(old)
	if passes != before {
		t.Error("passed to the scheduler at DISPATCH")
	}
}
