// Package lateness keeps how late things ran after they were due: the
// kernel's timers (kernel.TimerLateness), the idle CPUs' wake-ups from a
// halt (pc.IdleWakeLateness) and every CPU's acceptance of its local APIC
// timer's vector (pc.TimerAcceptLateness), so that `irq latency` can tell
// a CPU held by a goroutine from a CPU the host did not run.
package lateness

import (
	"sync/atomic"
	"time"
)

// Log keeps the latest 4096 samples and the worst since the last Reset.
// Record may run on several CPUs at once, at any IRQL, with interrupts
// off.
type Log struct {
	n   atomic.Uint64
	max atomic.Int64
	v   [4096]atomic.Int64
}

// Record adds one sample: how late something ran.
//
// Context: any IRQL, any IF; does not block or allocate.
func (l *Log) Record(d time.Duration) {
	i := l.n.Add(1) - 1
	l.v[i%uint64(len(l.v))].Store(int64(d))
	for m := l.max.Load(); int64(d) > m && !l.max.CompareAndSwap(m, int64(d)); m = l.max.Load() {
	}
}

// Samples returns the latest samples (up to 4096, in no order), the worst
// since the last Reset, and how many were recorded since.
//
// Context: PASSIVE; allocates.
func (l *Log) Samples() (recent []time.Duration, worst time.Duration, n uint64) {
	n = l.n.Load()
	for i := uint64(0); i < min(n, uint64(len(l.v))); i++ {
		recent = append(recent, time.Duration(l.v[i].Load()))
	}
	return recent, time.Duration(l.max.Load()), n
}

// Reset starts the log anew.
//
// Context: any IRQL; does not block.
func (l *Log) Reset() {
	l.max.Store(0)
	l.n.Store(0)
}

// Arming is a timer armed at At for Due (nanoseconds of one clock), for a
// record of how late its interrupt was taken.
type Arming struct{ At, Due int64 }

// Late returns how late an interrupt taken at accepted was for the arming,
// 0 when it came before Due (two clocks calibrated apart can put it there),
// and whether it belongs to the arming at all: only one taken after the
// arming began, by a zero Due nothing was armed. An interrupt of an earlier
// arming taken after this one began is counted as this one's: a sample of
// the earlier arming lost, never made longer than the wait it stood for.
func (a Arming) Late(accepted int64) (time.Duration, bool) {
	if a.Due == 0 || accepted <= a.At {
		return 0, false
	}
	return time.Duration(max(accepted-a.Due, 0)), true
}
