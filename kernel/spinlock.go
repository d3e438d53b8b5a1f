package kernel

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel/trace"
)

// spinWarnAfter is how long a CPU spins on a lock before it prints its one
// diagnostic naming the lock and the holder.
const spinWarnAfter = time.Second

// SpinLock is a spin lock for data shared at DISPATCH across CPUs
// (KSPIN_LOCK). It is SMP-safe (an atomic compare-and-swap on the holder) and
// records the holding CPU. The zero value with a Name is an unlocked lock.
type SpinLock struct {
	// Name names the lock in diagnostics and panics.
	Name string

	// holder is the holding CPU index + 1, 0 when free.
	holder atomic.Int32
}

// Acquire raises to DISPATCH and spins until it holds the lock
// (KeAcquireSpinLock). It returns the previous level for Release.
//
// Context: PASSIVE..DISPATCH, any IF; does not block or allocate, spins.
// Panics when called above DISPATCH, and when this CPU already holds the
// lock (self-deadlock). A spin lasting over 1 s prints one diagnostic
// naming the lock and the holder CPU, then keeps spinning.
func (l *SpinLock) Acquire() (old IRQL) {
	cur := Current()
	if cur > DISPATCH {
		Bugcheck(levelMessage("SpinLock.Acquire("+l.Name+")", cur, PASSIVE, DISPATCH))
	}
	if cur == DISPATCH {
		// Already pinned at DISPATCH: Raise to the current level would
		// write CR8 twice for nothing, each write a helper call that
		// ends the translation block under TCG.
		l.spin()
		return DISPATCH
	}
	old = Raise(DISPATCH)
	l.spin()
	return old
}

// Release releases the lock and lowers to old, the level Acquire returned
// (KeReleaseSpinLock); lowering below DISPATCH runs this CPU's DPCs. When
// the CPU already runs at old it changes no level, as Lower would not.
//
// Context: DISPATCH or above, lock held by this CPU; does not block or
// allocate. Panics when this CPU does not hold the lock.
func (l *SpinLock) Release(old IRQL) {
	if l.release() != old {
		Lower(old)
	}
}

// AcquireAtLevel spins until it holds the lock without changing the IRQL
// (KeAcquireSpinLockAtDpcLevel).
//
// Context: DISPATCH or above (pinned), any IF; does not block or allocate,
// spins. Panics below DISPATCH, and when this CPU already holds the lock.
func (l *SpinLock) AcquireAtLevel() {
	if cur := Current(); cur < DISPATCH {
		Bugcheck(levelMessage("SpinLock.AcquireAtLevel("+l.Name+")", cur, DISPATCH, HIGH))
	}
	l.spin()
}

// ReleaseAtLevel releases the lock without changing the IRQL
// (KeReleaseSpinLockFromDpcLevel).
//
// Context: DISPATCH or above, lock held by this CPU; does not block or
// allocate. Panics when this CPU does not hold the lock.
func (l *SpinLock) ReleaseAtLevel() {
	l.release()
}

// release lets the lock go and returns the level it was held at.
func (l *SpinLock) release() IRQL {
	cur := Current()
	if cur < DISPATCH {
		Bugcheck(levelMessage("SpinLock.Release("+l.Name+")", cur, DISPATCH, HIGH))
	}
	me := int32(CPU() + 1)
	if !l.holder.CompareAndSwap(me, 0) {
		Bugcheck("kernel: SpinLock.Release(" + l.Name + ") on CPU " + strconv.Itoa(int(me-1)) +
			", but the lock is held by " + holderName(l.holder.Load()))
	}
	return cur
}

// Held reports whether some CPU holds the lock.
//
// Context: any IRQL; does not block or allocate.
func (l *SpinLock) Held() bool {
	return l.holder.Load() != 0
}

// HeldByThisCPU reports whether the executing CPU holds the lock; callers
// use it to assert that they run under the lock.
//
// Context: any IRQL (meaningful above PASSIVE, where the CPU is stable);
// does not block or allocate.
func (l *SpinLock) HeldByThisCPU() bool {
	return l.holder.Load() == int32(CPU()+1)
}

// Holder returns the index of the CPU holding the lock, -1 when it is free.
//
// Context: any IRQL; does not block or allocate.
func (l *SpinLock) Holder() int {
	return int(l.holder.Load()) - 1
}

// spin takes the lock for this CPU. Every turn is a safe point
// (ServicePoint); after spinHaltAfter turns the CPU also halts briefly
// between turns (spinHalt).
//
// Context: DISPATCH or above (pinned); does not block or allocate.
func (l *SpinLock) spin() {
	me := int32(CPU() + 1)
	if l.holder.CompareAndSwap(0, me) {
		return
	}
	if l.holder.Load() == me {
		Bugcheck("kernel: spin lock " + l.Name + " acquired twice on CPU " + strconv.Itoa(int(me-1)) + " (self-deadlock)")
	}
	var start time.Time
	warned := false
	waited := trace.Now(trace.ClassLock) // 0 unless recorded
	for n := 1; ; n++ {
		if l.holder.Load() == 0 && l.holder.CompareAndSwap(0, me) {
			trace.Contended(&l.Name, waited)
			return
		}
		ServicePoint()
		if n >= spinHaltAfter {
			spinHalt()
		}
		if n%1024 != 0 || warned {
			continue
		}
		if start.IsZero() {
			start = time.Now()
		} else if time.Since(start) > spinWarnAfter {
			warned = true
			print("kernel: CPU ", me-1, " spinning over 1s on lock ", l.Name,
				", held by CPU ", l.holder.Load()-1, "\n")
		}
	}
}

func holderName(h int32) string {
	if h == 0 {
		return "no CPU"
	}
	return "CPU " + strconv.Itoa(int(h-1))
}

// InterruptLock is the spin lock of an interrupt object
// (KeAcquireInterruptSpinLock): it is taken at the interrupt's DIRQL, so
// holding it excludes the ISR on this CPU (the TPR masks the vector) and on
// every other CPU (the lock). The ISR runs holding it.
type InterruptLock struct {
	SpinLock

	// Level is the IRQL at which the lock is taken, DISPATCH..HIGH.
	Level IRQL
}

// Acquire raises to l.Level and spins until it holds the lock
// (KeAcquireInterruptSpinLock). It returns the previous level for Release.
//
// Context: at or below l.Level, any IF; does not block or allocate, spins.
// Panics above l.Level, for a Level below DISPATCH or above HIGH, and when
// this CPU already holds the lock.
func (l *InterruptLock) Acquire() (old IRQL) {
	if l.Level < DISPATCH || l.Level > HIGH {
		Bugcheck("kernel: InterruptLock.Acquire(" + l.Name + "): invalid Level " + l.Level.String())
	}
	if cur := Current(); cur > l.Level {
		Bugcheck(levelMessage("InterruptLock.Acquire("+l.Name+")", cur, PASSIVE, l.Level))
	}
	old = Raise(l.Level)
	l.spin()
	return old
}

// Release releases the lock and lowers to old, the level Acquire returned
// (KeReleaseInterruptSpinLock).
//
// Context: l.Level, lock held by this CPU; does not block or allocate.
// Panics when this CPU does not hold the lock.
func (l *InterruptLock) Release(old IRQL) {
	l.ReleaseAtLevel()
	Lower(old)
}

// spinHaltAfter is how many turns a CPU spins on a held lock before it
// starts halting between turns (spinHalt).
const spinHaltAfter = 256

// waitHook is the board's brief halt (SetSpinWait); nil until set.
var waitHook atomic.Pointer[func()]

// SetSpinWait installs wait as what a CPU that spun spinHaltAfter turns on
// a held lock does between further turns: halt until an interrupt or a
// short timeout (board/pc HaltBriefly). Under emulation with more vCPUs
// than host cores, the lock's holder may be a vCPU thread the host has
// descheduled; a waiter that halts gives its host core back instead of
// spinning for the host's whole time slice.
//
// Context: PASSIVE, at init.
func SetSpinWait(wait func()) {
	waitHook.Store(&wait)
}

// spinHalt runs the board's brief halt when one is installed and the CPU
// can be woken by the board's timer, which raises WakeVector: IF=1 and the
// level below that vector's class (IPI).
//
// Context: DISPATCH or above, pinned, spinning on a lock.
func spinHalt() {
	w := waitHook.Load()
	if w == nil || Current() >= IRQL(WakeVector>>4) || !InterruptsEnabled() {
		return
	}
	this().spinHalts.Add(1)
	(*w)()
}
