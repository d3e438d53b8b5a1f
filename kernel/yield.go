package kernel

import (
	"runtime"
	"time"
)

// YieldEvery is how long a loop that computes at PASSIVE keeps its CPU
// between two passes of the Go scheduler when it calls a Yielder's Point.
// TamaGo preempts no goroutine and runs a CPU's timers, the kernel's
// included (Timer is a Go timer), only in that CPU's scheduler: with no
// other CPU idle to take them, as always on one CPU, they wait for such a
// loop to block (README "Known problems").
const YieldEvery = time.Millisecond

// gosched passes the executing CPU to the scheduler; a variable so that
// the host tests can count its calls.
var gosched = runtime.Gosched

// Yielder is the yield point of a loop that computes: each Point is a safe
// point for interrupts (ServicePoint), and once YieldEvery has gone by
// since its previous pass, a pass of the scheduler (runtime.Gosched), where
// the CPU's expired timers run and other goroutines get their turn. Its
// zero value is ready; one goroutine uses it.
type Yielder struct {
	next time.Duration // since epoch
}

// Point is the loop's yield point (see Yielder). It passes to the
// scheduler at PASSIVE only: a raised caller is pinned and may not yield.
//
// Context: any IRQL, any IF; yields its CPU at PASSIVE, where it may
// block; does not allocate.
func (y *Yielder) Point() {
	ServicePoint()
	now := time.Since(epoch)
	if now < y.next {
		return
	}
	y.next = now + YieldEvery
	if Current() == PASSIVE {
		gosched()
	}
}
